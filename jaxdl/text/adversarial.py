"""Adversarial training on embeddings: FGM (Miyato et al. 2017) and PGD (Madry et al. 2018) as a
train step for `jaxdl.train.fit`. SPEC: SEQ-6.

One jitted step: the clean gradient, a perturbation r of the embedding, the gradient at the
perturbed point, and one optimizer update with their sum (clean + adversarial, as the
competition recipe accumulates both backward passes). Parameters are never modified in place,
so the embedding the update starts from is the original, bit for bit.

Two targets for the perturbation:
- `norm="table"` (the PyTorch recipe): every parameter whose path ('/'-joined, e.g.
  `word_embedding/embedding`) matches `selector` is perturbed, with one norm per matched array:
  FGM r = ε·g/‖g‖₂ (zero when ‖g‖ is 0 or not finite).
- `norm="per_example"` (Miyato et al.'s original): the perturbation is added to the embedded
  sequence (B, T, E) and normalised per example over (T, E). `loss_fn` then takes a fourth
  argument `delta` (an array of `delta_shape(batch)`) that the model adds to its embeddings.
PGD takes `steps` (K) ascent steps of size α·g/‖g‖ from the clean point, projecting the
perturbation back onto the ε-ball after each, and uses the gradient at the K-th point.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl.train import pieces
from jaxdl.train.config import resolve_dtype
from jaxdl.train.state import TrainState, split_variables

METHODS = ("none", "fgm", "pgd")
NORMS = ("table", "per_example")
DEFAULT_SELECTOR = r"word_embeddings?/embedding$"


def param_paths(tree: Any) -> list[str]:
    """'/'-joined key paths of the leaves of a (Flax) parameter tree."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return ["/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in p) for p, _ in flat]


def selector_mask(params: Any, selector: str) -> Any:
    """A tree of bools: True where the leaf's path matches the regex `selector`."""
    paths = param_paths(params)
    hits = [re.search(selector, p) is not None for p in paths]
    if not any(hits):
        raise ValueError(f"embedding selector {selector!r} matches no parameter; paths: {paths}")
    return jax.tree.unflatten(jax.tree.structure(params), hits)


def _norm(g: jax.Array, per_example: bool) -> jax.Array:
    if not per_example:
        return jnp.sqrt(jnp.sum(jnp.square(g)))
    axes = tuple(range(1, g.ndim))
    return jnp.sqrt(jnp.sum(jnp.square(g), axis=axes, keepdims=True))


def unit_step(g: jax.Array, size: float, per_example: bool = False) -> jax.Array:
    """size·g/‖g‖₂ (one norm, or one per example over all axes but the first); 0 where ‖g‖ is 0
    or not finite."""
    n = _norm(g, per_example)
    ok = (n > 0) & jnp.isfinite(n)
    return jnp.where(ok, size * g / jnp.where(ok, n, 1.0), 0.0).astype(g.dtype)


def project(delta: jax.Array, epsilon: float, per_example: bool = False) -> jax.Array:
    """Rescales `delta` onto the ε-ball where its norm exceeds ε."""
    n = _norm(delta, per_example)
    return jnp.where(n > epsilon, delta * (epsilon / jnp.where(n > 0, n, 1.0)), delta)


def _check(method, norm, epsilon, alpha, steps, delta_shape):
    if method not in METHODS:
        raise ValueError(f"unknown adversarial method {method!r}; choose from {METHODS}")
    if norm not in NORMS:
        raise ValueError(f"unknown perturbation norm {norm!r}; choose from {NORMS}")
    if epsilon < 0 or alpha < 0:
        raise ValueError(f"epsilon and alpha must be >= 0, got {epsilon}, {alpha}")
    if method == "pgd" and steps < 1:
        raise ValueError(f"PGD needs steps >= 1, got {steps}")
    if norm == "per_example" and delta_shape is None:
        raise ValueError('norm="per_example" needs delta_shape(batch) -> embedded shape')


def adversarial_grads(
    loss_fn: Callable[..., tuple[jax.Array, Any]],
    params: Any,
    batch: Any,
    rng: jax.Array,
    *,
    method: str = "fgm",
    epsilon: float = 1.0,
    alpha: float = 0.3,
    steps: int = 3,
    selector: str = DEFAULT_SELECTOR,
    norm: str = "table",
    delta_shape: Callable[[Any], tuple[int, ...]] | None = None,
    compute_dtype: Any = None,
) -> tuple[jax.Array, dict, Any, dict]:
    """-> (clean loss, aux, clean + adversarial gradients, info). Every forward pass uses `rng`.

    info: `adv_loss` (the loss at the perturbed point) and `perturbation_norm` (‖r‖ or ‖δ‖ over
    all perturbed entries; per example: the largest per-example norm). With method "none" the
    gradient is the clean one.
    """
    _check(method, norm, epsilon, alpha, steps, delta_shape)
    per_example = norm == "per_example"
    dtype = resolve_dtype(compute_dtype)

    def objective(p, d):
        p, b = pieces.cast_floats((p, batch), dtype)
        out = loss_fn(p, b, rng, d) if per_example else loss_fn(p, b, rng)
        return out[0].astype(jnp.float32), out[1]

    if per_example:
        zeros = jnp.zeros(delta_shape(batch), jnp.float32)
        (loss, aux), (grads, g) = jax.value_and_grad(objective, (0, 1), has_aux=True)(params, zeros)
        if method == "none":
            return loss, aux, grads, {}
        grad_at = lambda d: jax.grad(lambda d: objective(params, d)[0])(d)  # noqa: E731
        add = lambda d: d  # noqa: E731
    else:
        (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(params, None)
        if method == "none":
            return loss, aux, grads, {}
        leaves, treedef = jax.tree.flatten(params)
        idx = [i for i, m in enumerate(jax.tree.leaves(selector_mask(params, selector))) if m]
        g = [jax.tree.leaves(grads)[i] for i in idx]

        def add(d):  # the perturbed parameters; unmatched leaves are the originals
            new = list(leaves)
            for i, x in zip(idx, d, strict=True):
                new[i] = leaves[i] + x
            return jax.tree.unflatten(treedef, new)

        def grad_at(d):
            full = jax.tree.leaves(jax.grad(lambda p: objective(p, None)[0])(add(d)))
            return [full[i] for i in idx]

    step = lambda g, size: jax.tree.map(lambda x: unit_step(x, size, per_example), g)  # noqa: E731
    proj = lambda d: jax.tree.map(lambda x: project(x, epsilon, per_example), d)  # noqa: E731
    if method == "fgm":
        delta = step(g, epsilon)
    else:

        def body(_, carry):
            delta, g = carry
            delta = proj(jax.tree.map(jnp.add, delta, step(g, alpha)))
            return delta, grad_at(delta)

        zero = jax.tree.map(jnp.zeros_like, g)
        delta, g = jax.lax.fori_loop(0, steps - 1, body, (zero, g))
        delta = proj(jax.tree.map(jnp.add, delta, step(g, alpha)))
    if per_example:
        (adv_loss, _), adv = jax.value_and_grad(objective, has_aux=True)(params, delta)
        size = jnp.max(_norm(delta, True))
    else:
        (adv_loss, _), adv = jax.value_and_grad(objective, has_aux=True)(add(delta), None)
        size = jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(delta)))
    grads = jax.tree.map(jnp.add, grads, adv)
    return loss, aux, grads, {"adv_loss": adv_loss, "perturbation_norm": size}


def embedding_adversarial(
    loss_fn: Callable[..., tuple[jax.Array, Any]],
    tx: optax.GradientTransformation,
    *,
    init_fn: Callable[[jax.Array], Any],
    method: str = "fgm",
    epsilon: float = 1.0,
    alpha: float = 0.3,
    steps: int = 3,
    selector: str = DEFAULT_SELECTOR,
    norm: str = "table",
    delta_shape: Callable[[Any], tuple[int, ...]] | None = None,
    accum_steps: int = 1,
    clip_norm: float | None = None,
    ema_decay: float | None = None,
    ema_warmup: bool = False,
    compute_dtype: Any = None,
    skip_nonfinite: bool = False,
):
    """`(init_state, train_step)` for `Task`: `supervised`'s step (accumulation, clipping, EMA,
    compute dtype, non-finite skipping) with FGM/PGD gradients (`adversarial_grads`).

    loss_fn: `(params, batch, rng) -> (loss, aux)`, or with `norm="per_example"`
    `(params, batch, rng, delta) -> (loss, aux)`. Defaults are the recipe's: ε = 1, PGD α = 0.3,
    K = 3. Metrics: loss, grad_norm, adv_loss, perturbation_norm, the aux metrics, nonfinite.
    """
    _check(method, norm, epsilon, alpha, steps, delta_shape)
    pieces.check_positive(accum_steps=accum_steps, clip_norm=clip_norm)
    pieces.check_decay(ema_decay)
    options = dict(method=method, epsilon=epsilon, alpha=alpha, steps=steps, selector=selector)
    options.update(norm=norm, delta_shape=delta_shape, compute_dtype=compute_dtype)

    def init_state(rng: jax.Array) -> TrainState:
        init_rng, state_rng = jax.random.split(rng)
        params, _ = split_variables(init_fn(init_rng))
        if norm == "table" and method != "none":
            selector_mask(params, selector)
        return TrainState.create(params=params, tx=tx, rng=state_rng, ema=ema_decay is not None)

    def train_step(state: TrainState, batch: Any):
        def grad_fn(carry, b, rng):
            loss, aux, grads, info = adversarial_grads(loss_fn, state.params, b, rng, **options)
            return loss, {**pieces.float32_metrics(aux), **info}, carry, grads

        rng = pieces.step_rng(state.rng, state.step)
        loss, aux, _, grads = pieces.accumulate(grad_fn, {}, batch, rng, accum_steps)
        loss, aux, grads = pieces.data_mean((loss, aux, grads))
        params, opt_state, grad_norm = pieces.apply_gradients(
            tx, grads, state.opt_state, state.params, clip_norm=clip_norm
        )
        ema = pieces.ema(state.ema_params, params, ema_decay, state.step, ema_warmup)
        new = state.replace(params=params, opt_state=opt_state, ema_params=ema)
        new, flags = pieces.guard_nonfinite(
            pieces.is_finite(loss, grad_norm), new, state, skip_nonfinite
        )
        return new.replace(step=state.step + 1), {
            "loss": loss,
            "grad_norm": grad_norm,
            **aux,
            **flags,
        }

    return init_state, train_step
