"""Exponential moving averages: the bias-corrected EWMA, parameter EMA, network interpolation.

EWMA (OPT-5): v_t = βv_{t−1} + (1−β)x_t, v₀ = 0, i.e. (1−β)Σ_k βᵏ x_{t−k}, spanning
about 1/(1−β) steps. It is biased towards 0 early on; v_t/(1−βᵗ) corrects it (β = 0.98:
v₁/(1−β) = x₁ exactly). SPEC: OPT-5, OPT-9.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_unit_interval


class EwmaState(NamedTuple):
    """Step count t and the (biased) running average v_t."""

    count: jax.Array
    average: Any


def ewma(beta: float, debias: bool = True) -> optax.GradientTransformation:
    """EWMA of a pytree of values, as an optax-style (init, update) pair. SPEC: OPT-5, OPT-9.

    `update(x, state)` returns (v_t/(1−βᵗ) if `debias` else v_t, new_state); the average is kept
    in float32 for low-precision inputs. The same rule tracks BatchNorm running statistics.
    """
    check_unit_interval("beta", beta)

    def init_fn(values):
        def zeros(x):
            x = jnp.asarray(x)
            return jnp.zeros(x.shape, jnp.promote_types(x.dtype, jnp.float32))

        return EwmaState(count=jnp.zeros([], jnp.int32), average=jax.tree.map(zeros, values))

    def update_fn(values, state, params=None):
        del params
        average = jax.tree.map(
            lambda x, v: beta * v + (1 - beta) * jnp.asarray(x, v.dtype), values, state.average
        )
        count = optax.safe_increment(state.count)
        if debias:
            # 1 − βᵗ = −expm1(t·log β): accurate in float32 even for β near 1 and small t.
            correction = -jnp.expm1(count.astype(jnp.float32) * math.log(beta)) if beta > 0 else 1.0
            out = jax.tree.map(lambda v: v / jnp.asarray(correction, v.dtype), average)
        else:
            out = average
        return out, EwmaState(count=count, average=average)

    return optax.GradientTransformation(init_fn, update_fn)


def ema_decay(decay: float, step: Any = None, warmup: bool = False) -> Any:
    """The EMA decay at `step`: `decay`, or min(decay, (1+t)/(10+t)) with `warmup`.

    The warm-up is TensorFlow's `ExponentialMovingAverage(num_updates=t)` rule (used by the
    DDPM/score_sde EMA): early averages forget the random initialization quickly (t = 0 gives
    0.1, t = 90 gives 0.91) and the decay reaches 0.9999 after about 90k steps.
    """
    check_unit_interval("decay", decay, closed=True)
    if not warmup:
        return decay
    if step is None:
        raise ValueError("ema warm-up needs the step: pass step=t (t = 0 on the first update)")
    t = jnp.asarray(step, jnp.float32)
    return jnp.minimum(decay, (1.0 + t) / (10.0 + t))


def ema_update(
    ema_params: Any, params: Any, decay: float, step: Any = None, warmup: bool = False
) -> Any:
    """One EMA step of the parameters, θ̄ ← d·θ̄ + (1−d)·θ, in θ̄'s dtype. SPEC: OPT-9.

    Pure and jit-friendly (`step` may be traced); d = `ema_decay(decay, step, warmup)`. Evaluate
    with θ̄ (e.g. decay 0.9999 for DDPM).
    """
    check_unit_interval("decay", decay, closed=True)
    if warmup:
        ema_decay(decay, step, warmup)  # checks the step
        # 1 − d_t = max(1 − decay, 9/(10 + t)), with 1 − decay taken in float64 (precision).
        w = jnp.maximum(1.0 - decay, 9.0 / (10.0 + jnp.asarray(step, jnp.float32)))
        d = 1.0 - w
    else:
        d, w = decay, 1.0 - decay

    def one(e, p):
        return jnp.asarray(d, e.dtype) * e + jnp.asarray(w, e.dtype) * jnp.asarray(p, e.dtype)

    return jax.tree.map(one, ema_params, params)


def interpolate(params_a: Any, params_b: Any, alpha: float) -> Any:
    """Network interpolation θ = (1−α)·θ_a + α·θ_b.

    From ESRGAN (Wang et al. 2018, arXiv:1809.00219; OPT-9).

    With θ_a the PSNR-oriented and θ_b the GAN-fine-tuned generator, α ∈ [0, 1] trades PSNR for
    perceptual quality; α = 0 gives θ_a and α = 1 gives θ_b exactly. SPEC: OPT-9.
    """
    check_unit_interval("alpha", alpha, closed=True)
    sa, sb = jax.tree.structure(params_a), jax.tree.structure(params_b)
    if sa != sb:
        raise ValueError(f"interpolate needs two trees of the same structure, got {sa} and {sb}")

    def lerp(path, a, b):
        if jnp.shape(a) != jnp.shape(b):
            raise ValueError(
                f"interpolate: leaf shapes differ at {jax.tree_util.keystr(path)}, "
                f"{jnp.shape(a)} vs {jnp.shape(b)}"
            )
        return (1 - alpha) * a + alpha * b

    return jax.tree_util.tree_map_with_path(lerp, params_a, params_b)


tree_lerp = interpolate
