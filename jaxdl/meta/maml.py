"""MAML and first-order MAML (Finn et al. 2017, "Model-Agnostic Meta-Learning for Fast
Adaptation of Deep Networks", arXiv:1703.03400). SPEC: BAS-9.

Inner loop (per task i, on its support set): θ′_i = θ − α∇_θ L_i^support(θ), `inner_steps`
times. Meta-objective: the mean over tasks of L_i^query(θ′_i), differentiated with `jax.grad`
through the inner updates (second order: the Hessians of the support losses enter). First-order
MAML (FOMAML) stops the gradient at the inner gradients, so ∂θ′_i/∂θ = I and the meta-gradient
is ∇L_i^query(θ′_i). Tasks are vmapped: a meta-batch is `{"support": S, "query": Q}` whose
leaves have a leading task axis.

`loss_fn(params, batch) -> scalar` is one task's loss on one of its batches (the leaves of
`batch` without the task axis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl.train import supervised

LossFn = Callable[[Any, Any], jax.Array]


def check_inner(inner_lr: float, inner_steps: int) -> None:
    """Raises ValueError unless `inner_steps` is an int >= 1 and `inner_lr` > 0 (checked when it
    is a Python or NumPy number; a traced step size passes)."""
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 1:
        raise ValueError(f"inner_steps must be an int >= 1, got {inner_steps!r}")
    if isinstance(inner_lr, (int, float, np.number)) and not inner_lr > 0:
        raise ValueError(f"inner_lr must be > 0, got {inner_lr!r}")


def split_tasks(tasks: Any) -> tuple[Any, Any, int]:
    """(support, query, number of tasks) of a meta-batch; checks its layout."""
    if not isinstance(tasks, dict) or set(tasks) != {"support", "query"}:
        got = sorted(tasks) if isinstance(tasks, dict) else type(tasks).__name__
        raise ValueError(f"a meta-batch is a dict with keys ['query', 'support'], got {got}")
    sizes = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in jax.tree.leaves(tasks)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            "every leaf of a meta-batch needs the same leading task axis; leading sizes: "
            f"{sorted(map(str, sizes))}"
        )
    return tasks["support"], tasks["query"], sizes.pop()


def sgd_step(loss_fn: LossFn, params: Any, batch: Any, lr: float, first_order: bool) -> Any:
    """θ − lr·∇loss_fn(θ, batch); with `first_order` the gradient is a constant for outer
    differentiation (`lax.stop_gradient`)."""
    grads = jax.grad(loss_fn)(params, batch)
    if first_order:
        grads = jax.lax.stop_gradient(grads)
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def adapt(
    loss_fn: LossFn,
    params: Any,
    support: Any,
    inner_lr: float,
    inner_steps: int = 1,
    first_order: bool = False,
) -> Any:
    """One task's inner loop: `inner_steps` gradient-descent steps of size `inner_lr` on
    `support` (one task, no task axis). Differentiable in `params` (second order unless
    `first_order`)."""
    check_inner(inner_lr, inner_steps)

    def body(p, _):
        return sgd_step(loss_fn, p, support, inner_lr, first_order), None

    params, _ = jax.lax.scan(body, params, None, length=inner_steps)
    return params


def maml_loss(
    loss_fn: LossFn,
    params: Any,
    tasks: Any,
    inner_lr: float,
    inner_steps: int = 1,
    first_order: bool = False,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(meta-loss, metrics): the mean over tasks of the query loss after adaptation on the
    support set. Metrics: `pre_adapt_loss`, the mean query loss at θ itself."""
    check_inner(inner_lr, inner_steps)
    support, query, _ = split_tasks(tasks)

    def one_task(s, q):
        adapted = adapt(loss_fn, params, s, inner_lr, inner_steps, first_order)
        return loss_fn(adapted, q), jax.lax.stop_gradient(loss_fn(params, q))

    post, pre = jax.vmap(one_task)(support, query)
    return jnp.mean(post), {"pre_adapt_loss": jnp.mean(pre)}


def maml_step(
    loss_fn: LossFn,
    params: Any,
    tasks: Any,
    inner_lr: float,
    inner_steps: int = 1,
    first_order: bool = False,
) -> tuple[jax.Array, Any, dict[str, jax.Array]]:
    """(meta-loss, meta-gradient w.r.t. `params`, metrics) of `maml_loss` for one meta-batch."""
    (loss, metrics), grads = jax.value_and_grad(maml_loss, argnums=1, has_aux=True)(
        loss_fn, params, tasks, inner_lr, inner_steps, first_order
    )
    return loss, grads, metrics


def maml(
    loss_fn: LossFn,
    tx: optax.GradientTransformation,
    *,
    init_fn: Callable[[jax.Array], Any],
    inner_lr: float,
    inner_steps: int = 1,
    first_order: bool = False,
    **step_options: Any,
) -> tuple[Callable, Callable]:
    """`(init_state, train_step)` for `jaxdl.train.Task`: the meta-update as a
    `jaxdl.train.supervised` step whose loss is `maml_loss` and whose batch is a meta-batch
    (`tx` is the meta-optimizer, Adam in the paper).

    step_options: `supervised`'s accum_steps (splits the tasks), clip_norm, ema_decay,
    ema_warmup, compute_dtype, skip_nonfinite. Mutable collections (BatchNorm statistics) are
    not threaded through the inner loop.
    """
    check_inner(inner_lr, inner_steps)
    if step_options.pop("has_mutable", False):
        raise ValueError("maml: mutable collections (has_mutable=True) are not supported")

    def objective(params, tasks, rng):
        del rng
        return maml_loss(loss_fn, params, tasks, inner_lr, inner_steps, first_order)

    return supervised(objective, tx, init_fn=init_fn, **step_options)


def adaptation_losses(
    loss_fn: LossFn,
    params: Any,
    support: Any,
    query: Any,
    inner_lr: float,
    num_steps: int,
) -> jax.Array:
    """(num_steps + 1,) query losses of one task after 0, 1, ..., num_steps gradient steps of
    size `inner_lr` on its support set (meta-test-time fine-tuning; vmap over tasks)."""
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    check_inner(inner_lr, max(num_steps, 1))

    def body(p, _):
        return sgd_step(loss_fn, p, support, inner_lr, True), loss_fn(p, query)

    final, losses = jax.lax.scan(body, params, None, length=num_steps)
    return jnp.concatenate([losses, loss_fn(final, query)[None]])
