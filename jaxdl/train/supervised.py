"""The supervised step: one loss, one optimizer (`jaxdl.train.supervised`).

Gradient accumulation over micro-batches, global-norm clipping, parameter EMA, bf16 compute with
float32 parameters, skipping non-finite steps and mutable collections (BatchNorm statistics),
assembled from `jaxdl.train.pieces`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from jaxdl.train import pieces
from jaxdl.train.config import resolve_dtype
from jaxdl.train.state import TrainState, split_variables

LossFn = Callable[..., tuple[jax.Array, Any]]
InitState = Callable[[jax.Array], Any]
TrainStep = Callable[[Any, Any], tuple[Any, dict[str, jax.Array]]]


def supervised(
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    *,
    init_fn: Callable[[jax.Array], Any],
    accum_steps: int = 1,
    clip_norm: float | None = None,
    ema_decay: float | None = None,
    ema_warmup: bool = False,
    compute_dtype: Any = None,
    skip_nonfinite: bool = False,
    has_mutable: bool = False,
) -> tuple[InitState, TrainStep]:
    """Returns `(init_state, train_step)` for `Task`.

    init_fn: rng -> params, or Flax variables `{"params": ..., "batch_stats": ...}`.
    loss_fn: `loss_fn(params, batch, rng) -> (loss, aux_metrics)`; with `has_mutable=True`,
      `loss_fn(params, batch, rng, mutable) -> (loss, (aux_metrics, new_mutable))`. `aux_metrics`
      is a dict of scalars, averaged like the loss.
    accum_steps: split the batch into this many micro-batches and average their gradients.
    clip_norm: clip gradients to this global norm (after averaging over devices/micro-batches).
    ema_decay: keep `state.ema_params`, an EMA of the params (`jaxdl.optim.ema_update`;
      `ema_warmup` uses decay min(d, (1+t)/(10+t))).
    compute_dtype: e.g. "bfloat16": params and float inputs are cast for the forward and backward
      pass; gradients, optimizer state and params stay float32.
    skip_nonfinite: a step whose loss or gradient norm is NaN/Inf leaves params, optimizer state,
      EMA and mutable collections unchanged (the step counter still advances).

    `init_state(rng)` splits `rng` into the init key and the state's key; the step draws its
    randomness from `jaxdl.train.pieces.step_rng`. Metrics: loss, grad_norm, the aux metrics,
    nonfinite (and skipped).
    """
    pieces.check_positive(accum_steps=accum_steps, clip_norm=clip_norm)
    pieces.check_decay(ema_decay)
    dtype = resolve_dtype(compute_dtype)

    def init_state(rng: jax.Array) -> TrainState:
        init_rng, state_rng = jax.random.split(rng)
        params, mutable = split_variables(init_fn(init_rng))
        return TrainState.create(
            params=params, tx=tx, rng=state_rng, mutable=mutable, ema=ema_decay is not None
        )

    def objective(params, batch, rng, mutable):
        if has_mutable:
            loss, (aux, new_mutable) = loss_fn(params, batch, rng, mutable)
        else:
            (loss, aux), new_mutable = loss_fn(params, batch, rng), mutable
        return loss, (pieces.float32_metrics(aux), new_mutable)

    def train_step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
        def grad_fn(mutable, b, rng):
            loss, (aux, mutable), grads = pieces.value_and_grad(
                objective, state.params, b, rng, mutable, compute_dtype=dtype
            )
            return loss, aux, mutable, grads

        rng = pieces.step_rng(state.rng, state.step)
        loss, aux, mutable, grads = pieces.accumulate(
            grad_fn, state.mutable, batch, rng, accum_steps
        )
        loss, aux, grads, mutable = pieces.data_mean((loss, aux, grads, mutable))
        params, opt_state, grad_norm = pieces.apply_gradients(
            tx, grads, state.opt_state, state.params, clip_norm=clip_norm
        )
        ema = pieces.ema(state.ema_params, params, ema_decay, state.step, ema_warmup)
        new = state.replace(params=params, opt_state=opt_state, ema_params=ema, mutable=mutable)
        new, flags = pieces.guard_nonfinite(
            pieces.is_finite(loss, grad_norm), new, state, skip_nonfinite
        )
        new = new.replace(step=state.step + 1)
        return new, {"loss": loss, "grad_norm": grad_norm, **aux, **flags}

    return init_state, train_step
