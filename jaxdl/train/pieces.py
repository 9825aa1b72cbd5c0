"""Small pure pieces every train step is built from: per-step RNG, gradient (with compute dtype),
micro-batch accumulation, cross-device averaging, clipped optimizer update, EMA, non-finite guard.

`jaxdl.train.supervised` and `jaxdl.train.adversarial` are assembled from these; a family with
its own step (FGM/PGD, unrolled discriminators, ...) reuses them the same way.

Cross-device averaging is implicit: under `parallel="jit"` a step sees the global batch and
`data_mean` is the identity; under `parallel="pmap"` the step runs per device with the `data`
axis bound and `data_mean` is `lax.pmean` over it. A step written with these pieces runs under
either backend unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl import optim
from jaxdl.train.sharding import DATA


def cast_floats(tree: Any, dtype: Any) -> Any:
    """Casts every floating-point leaf of `tree` to `dtype`; other leaves are unchanged."""
    if dtype is None:
        return tree
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(jnp.result_type(x), jnp.floating) else x,
        tree,
    )


def data_axis_bound() -> bool:
    """True inside a `pmap` (or `shard_map`) over the `data` axis."""
    try:
        jax.lax.axis_index(DATA)
    except NameError:
        return False
    return True


def data_mean(tree: Any) -> Any:
    """Mean over the `data` device axis when it is bound (pmap); identity otherwise (jit)."""
    return jax.lax.pmean(tree, DATA) if data_axis_bound() else tree


def step_rng(rng: jax.Array, step: jax.Array) -> jax.Array:
    """This step's key: `fold_in(rng, step)`, and under pmap also the device index, so dropout
    masks and noise differ across devices as they do across the rows of a jit-sharded batch."""
    key = jax.random.fold_in(rng, step)
    if data_axis_bound():
        key = jax.random.fold_in(key, jax.lax.axis_index(DATA))
    return key


def value_and_grad(
    objective: Callable[..., tuple[jax.Array, Any]],
    params: Any,
    batch: Any,
    *args: Any,
    compute_dtype: Any = None,
) -> tuple[jax.Array, Any, Any]:
    """(loss, aux, grads) of `objective(params, batch, *args) -> (loss, aux)`.

    With `compute_dtype` (e.g. bfloat16) the float leaves of params and batch are cast for the
    forward and backward pass (`args`, e.g. BatchNorm statistics, are not); the loss comes back
    float32 and the gradients in the params' own dtype.
    """

    def f(p):
        p, b = cast_floats((p, batch), compute_dtype)
        loss, aux = objective(p, b, *args)
        return loss.astype(jnp.float32), aux

    (loss, aux), grads = jax.value_and_grad(f, has_aux=True)(params)
    return loss, aux, grads


def float32_metrics(aux: dict) -> dict:
    """Scalar metrics as float32 (so they average and log uniformly)."""
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), aux)


def split_micro(batch: Any, num: int, what: str = "accum_steps") -> Any:
    """(B, ...) -> (num, B // num, ...); slice i holds rows i, i + num, ...

    Interleaving keeps every slice spread evenly over the devices of a sharded batch.
    """

    def split(x):
        if x.shape[0] % num:
            raise ValueError(f"batch dimension {x.shape[0]} is not divisible by {what}={num}")
        x = x.reshape(x.shape[0] // num, num, *x.shape[1:])
        return jnp.swapaxes(x, 0, 1)

    return jax.tree.map(split, batch)


def accumulate(
    grad_fn: Callable[[Any, Any, jax.Array], tuple[jax.Array, dict, Any, Any]],
    carry: Any,
    batch: Any,
    rng: jax.Array,
    num: int,
    what: str = "accum_steps",
) -> tuple[jax.Array, dict, Any, Any]:
    """Averages `grad_fn(carry, micro_batch, rng_i) -> (loss, aux, carry, grads)` over `num`
    micro-batches with `lax.scan`; `carry` (e.g. BatchNorm statistics) threads through them.

    num=1 calls `grad_fn` once on the whole batch with `rng` itself.
    """
    if num == 1:
        return grad_fn(carry, batch, rng)
    micro = split_micro(batch, num, what)
    first = jax.tree.map(lambda x: x[0], micro)
    shapes = jax.eval_shape(grad_fn, carry, first, rng)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), (shapes[0], shapes[1], shapes[3]))

    def body(acc, xs):
        (lsum, asum, gsum), carry = acc
        i, mb = xs
        loss, aux, carry, grads = grad_fn(carry, mb, jax.random.fold_in(rng, i))
        sums = jax.tree.map(jnp.add, (lsum, asum, gsum), (loss, aux, grads))
        return (sums, carry), None

    ((lsum, asum, gsum), carry), _ = jax.lax.scan(body, (zeros, carry), (jnp.arange(num), micro))
    loss, aux, grads = jax.tree.map(lambda x: x * (1.0 / num), (lsum, asum, gsum))
    return loss, aux, carry, grads


def apply_gradients(
    tx: optax.GradientTransformation,
    grads: Any,
    opt_state: Any,
    params: Any,
    *,
    clip_norm: float | None = None,
) -> tuple[Any, Any, jax.Array]:
    """Global-norm clip (optional), optimizer update, apply: -> (params, opt_state, grad_norm).

    `grad_norm` is the norm before clipping.
    """
    grad_norm = optim.global_norm(grads)
    if clip_norm is not None:
        grads, _ = optim.clip_by_global_norm(clip_norm).update(grads, optax.EmptyState())
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, grad_norm


def ema(ema_params: Any, params: Any, decay: float | None, step: jax.Array, warmup: bool) -> Any:
    """EMA of `params` (`jaxdl.optim.ema_update`); unchanged when `decay` is None."""
    if decay is None:
        return ema_params
    if ema_params is None:
        raise ValueError("ema_decay is set but the state has no EMA params")
    return optim.ema_update(ema_params, params, decay, step=step, warmup=warmup)


def is_finite(*scalars: jax.Array) -> jax.Array:
    """True when every scalar is finite."""
    ok = jnp.asarray(True)
    for s in scalars:
        ok = ok & jnp.all(jnp.isfinite(s))
    return ok


def guard_nonfinite(finite: jax.Array, new: Any, old: Any, skip: bool) -> tuple[Any, dict]:
    """With `skip`, keep `old` where the step was not finite; returns (state, flag metrics).

    Metrics: `nonfinite` (1 when the loss or a gradient norm was NaN/Inf) and, with `skip`,
    `skipped` (1 when the update was dropped). `fit` counts skipped steps and stops with an
    error naming the step on a non-finite one that was not skipped.
    """
    bad = (~finite).astype(jnp.int32)
    if skip:
        new = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
        return new, {"nonfinite": bad, "skipped": bad}
    return new, {"nonfinite": bad}


def check_positive(**values: Any) -> None:
    """Raises ValueError naming the first argument that is set and not > 0 (ints must be >= 1)."""
    for name, v in values.items():
        if v is not None and not v > 0:
            raise ValueError(f"{name} must be positive, got {v}")


def check_decay(ema_decay: float | None) -> None:
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
