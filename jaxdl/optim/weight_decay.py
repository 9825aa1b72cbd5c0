"""Coupled L2 regularization vs decoupled weight decay. SPEC: OPT-7.

- `add_l2(λ)` adds the gradient of (λ/2)‖w‖² to g *before* the optimizer. With plain SGD this is
  the classic weight-decay update (OPT-7), w ← (1 − ηλ)w − η·(mean batch gradient).
- `decoupled_weight_decay(λ, η)` goes *after* the optimizer: u ← u − η_t·λ·w (Loshchilov &
  Hutter 2019; torch `AdamW`'s p ← p − lr·wd·p). The two agree only for plain SGD: under Adam the
  coupled λw is divided by √v̂ + ε.
Masks choose the decayed parameters: None (all, as torch), `(regex, bool)` rules on "/"-joined
parameter paths (first match wins, unmatched paths are not decayed), or an optax-style pytree or
callable of bools. The default skips biases and norm scales (`.../bias`, `.../scale`; bias
decay is optional, OPT-7).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_learning_rate, check_nonnegative
from jaxdl.optim.rules import match_rules
from jaxdl.optim.sgd import ScalarOrSchedule

MaskSpec = None | Sequence[tuple[str, bool]] | Callable[[Any], Any] | Any

# Decay kernels/embeddings, not biases or norm scales (flax names them `bias` and `scale`).
DEFAULT_DECAY_MASK: tuple[tuple[str, bool], ...] = ((r"(^|/)(bias|scale)$", False), (r".*", True))


def _is_rules(mask: Any) -> bool:
    return (
        isinstance(mask, list | tuple)
        and len(mask) > 0
        and all(isinstance(r, tuple | list) and len(r) == 2 and isinstance(r[0], str) for r in mask)
    )


def resolve_mask(mask: MaskSpec, params: Any) -> list[bool]:
    """The flat list (in leaf order of `params`) of which leaves a mask selects."""
    n = len(jax.tree.leaves(params))
    if mask is None:
        return [True] * n
    if _is_rules(mask):
        strict = mask is not DEFAULT_DECAY_MASK
        tree = match_rules(params, mask, default=False, strict=strict)
    else:
        tree = mask(params) if callable(mask) else mask
    flags = jax.tree.leaves(tree)
    if len(flags) != n:
        raise ValueError(f"mask has {len(flags)} leaves, parameters have {n}")
    return [bool(f) for f in flags]


def _add_scaled_params(updates: Any, params: Any, scale: Any, mask: MaskSpec) -> Any:
    """u + scale·p on the masked leaves (scale cast to each leaf's dtype if it is an array)."""
    if params is None:
        raise ValueError("weight decay needs `params`: call tx.update(grads, state, params)")
    flags = resolve_mask(mask, params)
    u_leaves, treedef = jax.tree.flatten(updates)
    p_leaves = jax.tree.leaves(params)
    out = [
        u + (scale * p if isinstance(scale, float) else jnp.asarray(scale, p.dtype) * p) if f else u
        for u, p, f in zip(u_leaves, p_leaves, flags, strict=True)
    ]
    return jax.tree.unflatten(treedef, out)


def add_decayed_weights(
    weight_decay: float, mask: MaskSpec = DEFAULT_DECAY_MASK
) -> optax.GradientTransformation:
    """u ← u + λ·w on the masked leaves; stateless. Place it where λw should enter the update."""
    check_nonnegative("weight_decay", weight_decay)
    weight_decay = float(weight_decay)

    def update_fn(updates, state, params=None):
        if weight_decay == 0.0:
            return updates, state
        return _add_scaled_params(updates, params, weight_decay, mask), state

    return optax.GradientTransformation(lambda _: optax.EmptyState(), update_fn)


def add_l2(
    weight_decay: float, mask: MaskSpec = DEFAULT_DECAY_MASK
) -> optax.GradientTransformation:
    """Coupled L2: g ← g + λw (the gradient of (λ/2)‖w‖²); chain it before the optimizer."""
    return add_decayed_weights(weight_decay, mask)


class DecoupledWeightDecayState(NamedTuple):
    """Step counter for the learning-rate schedule."""

    count: jax.Array


def decoupled_weight_decay(
    weight_decay: float, learning_rate: ScalarOrSchedule, mask: MaskSpec = DEFAULT_DECAY_MASK
) -> optax.GradientTransformation:
    """Decoupled decay u ← u − η_t·λ·w; chain it after a full optimizer (e.g. `adam(η)`).

    `optax.chain(adam(η), decoupled_weight_decay(λ, η, mask=None))` is torch `AdamW(η, wd=λ)`.
    """
    check_nonnegative("weight_decay", weight_decay)
    check_learning_rate(learning_rate)
    weight_decay = float(weight_decay)

    def init_fn(params):
        del params
        return DecoupledWeightDecayState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        scale = -lr * weight_decay
        updates = _add_scaled_params(updates, params, scale, mask)
        return updates, DecoupledWeightDecayState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
