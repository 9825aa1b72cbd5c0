"""Pure train-step factory: loss function + optax transformation -> step(state, batch).

The step supports gradient accumulation over micro-batches, global-norm clipping, parameter EMA,
bf16 compute with float32 parameters, skipping non-finite steps, and a `pmap` axis name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl import optim
from jaxdl.train.state import TrainState

LossFn = Callable[..., tuple[jax.Array, Any]]


def cast_floats(tree: Any, dtype: Any) -> Any:
    """Casts every floating-point leaf of `tree` to `dtype`; other leaves are unchanged."""
    if dtype is None:
        return tree
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(jnp.result_type(x), jnp.floating) else x,
        tree,
    )


def _split_micro(batch: Any, accum_steps: int) -> Any:
    """(B, ...) -> (accum_steps, B // accum_steps, ...); micro-batch i holds rows i, i+k, ...

    Interleaving keeps every micro-batch spread evenly over the devices of a sharded batch.
    """

    def split(x):
        if x.shape[0] % accum_steps:
            raise ValueError(
                f"batch dimension {x.shape[0]} is not divisible by accum_steps={accum_steps}"
            )
        x = x.reshape(x.shape[0] // accum_steps, accum_steps, *x.shape[1:])
        return jnp.swapaxes(x, 0, 1)

    return jax.tree.map(split, batch)


def make_train_step(
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    *,
    accum_steps: int = 1,
    clip_norm: float | None = None,
    ema_decay: float | None = None,
    ema_warmup: bool = False,
    compute_dtype: Any = None,
    skip_nonfinite: bool = False,
    has_mutable: bool = False,
    axis_name: str | None = None,
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]:
    """Returns a pure `step(state, batch) -> (state, metrics)`.

    loss_fn: `loss_fn(params, batch, rng) -> (loss, aux_metrics)`; with `has_mutable=True`,
      `loss_fn(params, batch, rng, mutable) -> (loss, (aux_metrics, new_mutable))` (BatchNorm).
      `aux_metrics` is a dict of scalars, averaged like the loss.
    accum_steps: split the batch into this many micro-batches and average their gradients.
    clip_norm: clip gradients to this global norm (after averaging over devices/micro-batches).
    ema_decay: keep `state.ema_params` as an exponential moving average of the params
      (`jaxdl.optim.ema_update`; `ema_warmup` uses decay min(d, (1+t)/(10+t))).
    compute_dtype: e.g. `jnp.bfloat16`: params and float inputs are cast for the forward and
      backward pass; gradients, optimizer state and params stay float32.
    skip_nonfinite: a step whose loss or gradient norm is NaN/Inf leaves params, optimizer state,
      EMA and mutable collections unchanged (the step counter still advances).
    axis_name: the `pmap` axis; gradients, metrics and mutable collections are averaged over it.
    """
    if accum_steps < 1:
        raise ValueError(f"accum_steps must be >= 1, got {accum_steps}")
    if clip_norm is not None and clip_norm <= 0:
        raise ValueError(f"clip_norm must be positive, got {clip_norm}")
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")

    def loss_and_grad(params, mutable, batch, rng):
        def f(p):
            p = cast_floats(p, compute_dtype)
            b = cast_floats(batch, compute_dtype)
            if has_mutable:
                loss, (aux, new_mutable) = loss_fn(p, b, rng, mutable)
            else:
                (loss, aux), new_mutable = loss_fn(p, b, rng), mutable
            return loss.astype(jnp.float32), (aux, new_mutable)

        (loss, (aux, new_mutable)), grads = jax.value_and_grad(f, has_aux=True)(params)
        aux = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), aux)
        return loss, aux, new_mutable, grads

    def accumulate(params, mutable, batch, rng):
        if accum_steps == 1:
            return loss_and_grad(params, mutable, batch, rng)
        micro = _split_micro(batch, accum_steps)

        def body(carry, xs):
            mut, gsum, lsum, asum = carry
            i, mb = xs
            loss, aux, mut, grads = loss_and_grad(params, mut, mb, jax.random.fold_in(rng, i))
            gsum = jax.tree.map(jnp.add, gsum, grads)
            asum = jax.tree.map(jnp.add, asum, aux)
            return (mut, gsum, lsum + loss, asum), None

        first = jax.tree.map(lambda x: x[0], micro)
        aux_shape = jax.eval_shape(lambda: loss_and_grad(params, mutable, first, rng)[1])
        zeros = (
            jax.tree.map(jnp.zeros_like, params),
            jnp.zeros((), jnp.float32),
            jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), aux_shape),
        )
        (mutable, gsum, lsum, asum), _ = jax.lax.scan(
            body, (mutable, *zeros), (jnp.arange(accum_steps), micro)
        )
        scale = 1.0 / accum_steps
        grads = jax.tree.map(lambda g: g * scale, gsum)
        return lsum * scale, jax.tree.map(lambda a: a * scale, asum), mutable, grads

    def step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
        rng = jax.random.fold_in(state.rng, state.step)
        loss, aux, mutable, grads = accumulate(state.params, state.mutable, batch, rng)
        if axis_name is not None:
            loss, aux, grads, mutable = jax.lax.pmean((loss, aux, grads, mutable), axis_name)
        grad_norm = optim.global_norm(grads)
        if clip_norm is not None:
            grads, _ = optim.clip_by_global_norm(clip_norm).update(grads, optax.EmptyState())
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = state.ema_params
        if ema_decay is not None:
            if ema is None:
                raise ValueError("ema_decay is set but the state has no ema_params")
            ema = optim.ema_update(ema, params, ema_decay, step=state.step, warmup=ema_warmup)
        finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
        new = state.replace(params=params, opt_state=opt_state, ema_params=ema, mutable=mutable)
        if skip_nonfinite:
            new = jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, state)
        new = new.replace(step=state.step + 1)
        metrics = {"loss": loss, "grad_norm": grad_norm, **aux}
        metrics["nonfinite"] = (~finite).astype(jnp.int32)
        return new, metrics

    return step
