"""Reverse-process samplers: one ancestral DDPM step, one DDIM step, and full trajectories.

Ho et al. 2020 (Algorithm 2), Song et al. 2021 (DDIM, eq. 12). SPEC: DIF-3, DIF-4. The
trajectory samplers loop with `lax.scan` (one trace of `eps_fn`, jit-able as a whole).
`eps_fn(x_t, t) -> output`, t an int32 array (batch,); the output is ε̂ unless `prediction`
says "x0" or "v". Steps equal diffusers' `DDPMScheduler.step` / `DDIMScheduler.step`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.diffusion.forward import (
    check_same_shape,
    check_timesteps,
    extract,
    is_concrete,
    q_posterior,
    split_prediction,
    to_rank,
)
from jaxdl.diffusion.schedule import Schedule

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]
VARIANCES = ("fixed_small", "fixed_large")
SPACINGS = ("leading", "quadratic")


class StepOutput(NamedTuple):
    """x_{t_prev} and x̂_0 (diffusers' `prev_sample` and `pred_original_sample`)."""

    prev_sample: jax.Array
    pred_x0: jax.Array


def _noise(key: jax.Array | None, noise: jax.Array | None, x: jax.Array, who: str) -> jax.Array:
    if noise is not None:
        check_same_shape(noise, x, "noise and x_t")
        return noise
    if key is None:
        raise ValueError(f"{who} needs a PRNG `key` (or explicit `noise`) to add noise")
    return jax.random.normal(key, x.shape, x.dtype)


def ddpm_step(
    schedule: Schedule,
    eps: jax.Array,
    t: Any,
    x_t: jax.Array,
    key: jax.Array | None,
    *,
    variance: str = "fixed_small",
    clip_x0: bool = True,
    prediction: str = "eps",
    noise: jax.Array | None = None,
) -> StepOutput:
    """x_{t-1} = μ̃_t(x̂_0, x_t) + σ_t·z, z = 0 where t = 0 (Ho et al. 2020 Alg. 2). SPEC: DIF-3.

    `variance`: "fixed_small" σ² = β̃_t or "fixed_large" σ² = β_t; `clip_x0` clips x̂_0 to
    [-1, 1] (official default). `noise` overrides the z drawn from `key`.
    """
    if variance not in VARIANCES:
        raise ValueError(f"unknown variance {variance!r}; expected one of {VARIANCES}")
    check_timesteps(t, schedule.num_timesteps, x_t.shape[0])
    x0, _ = split_prediction(schedule, eps, x_t, t, prediction)
    if clip_x0:
        x0 = jnp.clip(x0, -1.0, 1.0)
    mean, post_var, _ = q_posterior(schedule, x0, x_t, t)
    var = post_var if variance == "fixed_small" else extract(schedule.betas, t, x_t.ndim)
    nonzero = to_rank(jnp.asarray(t) > 0, x_t.ndim)
    z = _noise(key, noise, x_t, "ddpm_step")
    return StepOutput(mean + jnp.where(nonzero, jnp.sqrt(var), 0.0) * z, x0)


def ddim_step(
    schedule: Schedule,
    eps: jax.Array,
    t: Any,
    t_prev: Any,
    x_t: jax.Array,
    eta: float = 0.0,
    key: jax.Array | None = None,
    *,
    clip_x0: bool = False,
    prediction: str = "eps",
    set_alpha_to_one: bool = True,
    noise: jax.Array | None = None,
) -> StepOutput:
    """x_prev = √ᾱ_prev·x̂_0 + √(1-ᾱ_prev-σ²)·ε̂ + σ·z (Song et al. 2021 eq. 12). SPEC: DIF-4.

    σ = η·√((1-ᾱ_prev)/(1-ᾱ_t))·√(1-ᾱ_t/ᾱ_prev). `t_prev < t`; a negative `t_prev` means
    "after the last step": ᾱ_prev = 1 (`set_alpha_to_one`, diffusers' default) or ᾱ_0.
    With `clip_x0`, ε̂ stays unclipped (diffusers' `use_clipped_model_output=False`).
    """
    n = schedule.num_timesteps
    check_timesteps(t, n, x_t.shape[0])
    t_prev_arr = jnp.asarray(t_prev)
    if not jnp.issubdtype(t_prev_arr.dtype, jnp.integer):
        raise TypeError(f"t_prev must hold integer timesteps, got dtype {t_prev_arr.dtype}")
    if is_concrete(t) and is_concrete(t_prev_arr) and np.any(np.asarray(t_prev) >= np.asarray(t)):
        raise ValueError(f"t_prev must be < t, got t={np.asarray(t)}, t_prev={np.asarray(t_prev)}")
    if is_concrete(eta) and float(eta) < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    a_t = extract(schedule.alphas_cumprod, t, x_t.ndim)
    final = 1.0 if set_alpha_to_one else schedule.alphas_cumprod[0]
    a_prev = jnp.where(
        to_rank(t_prev_arr >= 0, x_t.ndim),
        extract(schedule.alphas_cumprod, jnp.maximum(t_prev_arr, 0), x_t.ndim),
        final,
    )
    x0, eps_hat = split_prediction(schedule, eps, x_t, t, prediction)
    if clip_x0:
        x0 = jnp.clip(x0, -1.0, 1.0)
    sigma = eta * jnp.sqrt((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))
    x_prev = jnp.sqrt(a_prev) * x0 + jnp.sqrt(1.0 - a_prev - sigma**2) * eps_hat
    if not (is_concrete(eta) and float(eta) == 0.0):
        x_prev = x_prev + sigma * _noise(key, noise, x_t, "ddim_step with eta > 0")
    return StepOutput(x_prev, x0)


def ddim_timesteps(
    num_timesteps: int, num_steps: int, spacing: str = "leading"
) -> tuple[np.ndarray, np.ndarray]:
    """(t, t_prev), each (S,), in sampling order (descending t); t_prev = -1 after the last step.

    "leading" = diffusers' default and the DDIM "uniform" skip: t = arange(S)·(T // S);
    "quadratic" (DDIM code): t = int(linspace(0, √(0.8T), S)²), duplicates dropped. SPEC: DIF-4.
    """
    if not 1 <= num_steps <= num_timesteps:
        raise ValueError(f"num_steps must lie in [1, {num_timesteps}], got {num_steps}")
    if spacing == "leading":
        seq = np.arange(num_steps, dtype=np.int64) * (num_timesteps // num_steps)
    elif spacing == "quadratic":
        seq = np.unique((np.linspace(0, np.sqrt(num_timesteps * 0.8), num_steps) ** 2).astype(int))
    else:
        raise ValueError(f"unknown spacing {spacing!r}; expected one of {SPACINGS}")
    prev = np.concatenate([[-1], seq[:-1]])
    return seq[::-1].astype(np.int32), prev[::-1].astype(np.int32)


def _run(
    step: Callable[[jax.Array, Any, jax.Array], jax.Array],
    xs: Any,
    num_steps: int,
    shape: tuple[int, ...],
    key: jax.Array,
    x_T: jax.Array | None,
    return_trajectory: bool,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    init_key, loop_key = jax.random.split(key)
    x = jax.random.normal(init_key, shape) if x_T is None else x_T
    if x_T is not None and tuple(x_T.shape) != tuple(shape):
        raise ValueError(f"x_T must have shape {tuple(shape)}, got {x_T.shape}")

    def body(x: jax.Array, args: Any) -> tuple[jax.Array, jax.Array | None]:
        i, per_step = args
        x = step(x, per_step, jax.random.fold_in(loop_key, i))
        return x, (x if return_trajectory else None)

    x, traj = jax.lax.scan(body, x, (jnp.arange(num_steps), xs))
    out = jnp.clip(x, -1.0, 1.0)
    return (out, traj) if return_trajectory else out


def sample_ddpm(
    eps_fn: EpsFn,
    schedule: Schedule,
    shape: tuple[int, ...],
    key: jax.Array,
    *,
    variance: str = "fixed_small",
    clip_x0: bool = True,
    prediction: str = "eps",
    x_T: jax.Array | None = None,
    return_trajectory: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Ancestral sampling over all T steps from x_T ~ N(0, I) (Ho et al. 2020 Alg. 2). DIF-3.

    Returns x_0 clipped to [-1, 1] of `shape`, and with `return_trajectory` also the (T, *shape)
    stack of x_{t-1} after each step. DIF-6 (CIFAR-10) uses `variance="fixed_large"`.
    """
    n = schedule.num_timesteps

    def step(x: jax.Array, t: jax.Array, k: jax.Array) -> jax.Array:
        tb = jnp.full((shape[0],), t, jnp.int32)
        out = ddpm_step(
            schedule,
            eps_fn(x, tb),
            tb,
            x,
            k,
            variance=variance,
            clip_x0=clip_x0,
            prediction=prediction,
        )
        return out.prev_sample

    ts = jnp.arange(n - 1, -1, -1, dtype=jnp.int32)
    return _run(step, ts, n, shape, key, x_T, return_trajectory)


def sample_ddim(
    eps_fn: EpsFn,
    schedule: Schedule,
    shape: tuple[int, ...],
    key: jax.Array,
    *,
    num_steps: int = 50,
    eta: float = 0.0,
    clip_x0: bool = False,
    prediction: str = "eps",
    spacing: str = "leading",
    set_alpha_to_one: bool = True,
    x_T: jax.Array | None = None,
    return_trajectory: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """DDIM sampling over `num_steps` timesteps (`ddim_timesteps`) (Song et al. 2021). DIF-4.

    Matches diffusers' `DDIMScheduler` (timestep_spacing="leading", set_alpha_to_one=True,
    steps_offset=0) run with `set_timesteps(num_steps)`. Returns x_0 clipped to [-1, 1]
    (and the (num_steps, *shape) trajectory with `return_trajectory`).
    """
    ts, t_prevs = ddim_timesteps(schedule.num_timesteps, num_steps, spacing)

    def step(x: jax.Array, tt: tuple[jax.Array, jax.Array], k: jax.Array) -> jax.Array:
        tb = jnp.full((shape[0],), tt[0], jnp.int32)
        tp = jnp.full((shape[0],), tt[1], jnp.int32)
        out = ddim_step(
            schedule,
            eps_fn(x, tb),
            tb,
            tp,
            x,
            eta,
            k,
            clip_x0=clip_x0,
            prediction=prediction,
            set_alpha_to_one=set_alpha_to_one,
        )
        return out.prev_sample

    xs = (jnp.asarray(ts), jnp.asarray(t_prevs))
    return _run(step, xs, len(ts), shape, key, x_T, return_trajectory)
