"""Reptile (Nichol, Achiam & Schulman 2018, "On First-Order Meta-Learning Algorithms",
arXiv:1803.02999), the first-order comparison to MAML. SPEC: BAS-9.

For each task i, W_i is θ after `inner_steps` steps of SGD (size `inner_lr`) on the task's
minibatches; the batched update is θ ← θ + ε·(1/n)Σ_i(W_i − θ). As a step for the engine, the
pseudo-gradient θ − mean_i W_i goes to the meta-optimizer `tx`: `optax.sgd(ε)` gives exactly
the update above (the paper also uses Adam on it).

A meta-batch is a pytree whose leaves have the shape (tasks, minibatches M, ...); inner step j
uses minibatch j mod M. `loss_fn(params, batch) -> scalar` is one task's loss on one minibatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl.meta.maml import LossFn, check_inner, sgd_step
from jaxdl.train import TrainState, pieces
from jaxdl.train.config import resolve_dtype
from jaxdl.train.state import split_variables


def _num_minibatches(tasks: Any) -> int:
    shapes = {tuple(jnp.shape(x)[:2]) for x in jax.tree.leaves(tasks)}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(
            "every leaf of a Reptile meta-batch needs leading axes (tasks, minibatches); "
            f"leading shapes: {sorted(shapes)}"
        )
    return next(iter(shapes))[1]


def reptile_task(
    loss_fn: LossFn, params: Any, batches: Any, inner_lr: float, inner_steps: int
) -> Any:
    """W: `params` after `inner_steps` SGD steps on one task's minibatches (leaves (M, ...);
    step j uses minibatch j mod M)."""
    check_inner(inner_lr, inner_steps)
    num = jax.tree.leaves(batches)[0].shape[0]

    def body(p, j):
        batch = jax.tree.map(lambda x: x[j % num], batches)
        return sgd_step(loss_fn, p, batch, inner_lr, True), None

    params, _ = jax.lax.scan(body, params, jnp.arange(inner_steps))
    return params


def reptile_step(
    loss_fn: LossFn, params: Any, tasks: Any, inner_lr: float, inner_steps: int
) -> tuple[jax.Array, Any, dict[str, jax.Array]]:
    """(loss, pseudo-gradient θ − mean_i W_i, metrics) for one meta-batch.

    loss: the mean over tasks of the loss of W_i on the task's minibatches; metrics:
    `pre_adapt_loss`, the same at θ.
    """
    check_inner(inner_lr, inner_steps)
    _num_minibatches(tasks)
    mean_loss = jax.vmap(loss_fn, in_axes=(None, 0))

    def one_task(batches):
        adapted = reptile_task(loss_fn, params, batches, inner_lr, inner_steps)
        return adapted, jnp.mean(mean_loss(adapted, batches)), jnp.mean(mean_loss(params, batches))

    adapted, post, pre = jax.vmap(one_task)(tasks)
    delta = jax.tree.map(lambda p, w: p - jnp.mean(w, axis=0).astype(p.dtype), params, adapted)
    return jnp.mean(post), delta, {"pre_adapt_loss": jnp.mean(pre)}


def reptile(
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    *,
    init_fn: Callable[[jax.Array], Any],
    inner_lr: float,
    inner_steps: int,
    accum_steps: int = 1,
    clip_norm: float | None = None,
    ema_decay: float | None = None,
    ema_warmup: bool = False,
    compute_dtype: Any = None,
    skip_nonfinite: bool = False,
) -> tuple[Callable, Callable]:
    """`(init_state, train_step)` for `jaxdl.train.Task`: one Reptile meta-update per step,
    built from `jaxdl.train.pieces` (accumulation over task groups, cross-device mean, clipped
    `tx` update, EMA, non-finite guard; the options mean what they do in `supervised`).
    `init_fn`: rng -> params or Flax variables (no mutable collections)."""
    check_inner(inner_lr, inner_steps)
    pieces.check_positive(accum_steps=accum_steps, clip_norm=clip_norm)
    pieces.check_decay(ema_decay)
    dtype = resolve_dtype(compute_dtype)

    def init_state(rng: jax.Array) -> TrainState:
        init_rng, state_rng = jax.random.split(rng)
        params, mutable = split_variables(init_fn(init_rng))
        if mutable:
            raise ValueError(f"reptile: mutable collections {sorted(mutable)} are not supported")
        return TrainState.create(params=params, tx=tx, rng=state_rng, ema=ema_decay is not None)

    def train_step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
        def grad_fn(carry, tasks, rng):
            del rng
            p, t = pieces.cast_floats((state.params, tasks), dtype)
            loss, delta, aux = reptile_step(loss_fn, p, t, inner_lr, inner_steps)
            delta = jax.tree.map(lambda d, q: d.astype(q.dtype), delta, state.params)
            return loss.astype(jnp.float32), pieces.float32_metrics(aux), carry, delta

        rng = pieces.step_rng(state.rng, state.step)
        loss, aux, _, grads = pieces.accumulate(grad_fn, None, batch, rng, accum_steps)
        loss, aux, grads = pieces.data_mean((loss, aux, grads))
        params, opt_state, grad_norm = pieces.apply_gradients(
            tx, grads, state.opt_state, state.params, clip_norm=clip_norm
        )
        ema = pieces.ema(state.ema_params, params, ema_decay, state.step, ema_warmup)
        new = state.replace(params=params, opt_state=opt_state, ema_params=ema)
        new, flags = pieces.guard_nonfinite(
            pieces.is_finite(loss, grad_norm), new, state, skip_nonfinite
        )
        new = new.replace(step=state.step + 1)
        return new, {"loss": loss, "grad_norm": grad_norm, **aux, **flags}

    return init_state, train_step
