"""Gradient and weight clipping. SPEC: OPT-8.

- `clip_by_global_norm(c)`: g ← g·min(1, c/‖g‖₂) over the whole tree (Pascanu et al. 2013;
  OPT-8). torch `clip_grad_norm_` uses c/(‖g‖ + 1e-6), a relative 1e-6 apart.
- `clip_by_rules(rules)`: per-parameter clipping chosen by regex on parameter paths, by each
  leaf's own L2 norm or elementwise by value (per-variable rather than one global clip; OPT-8).
- `clip_weights` / `weight_clipping`: WGAN's projection w ← clip(w, −c, c) after each update
  (Arjovsky et al. 2017, c = 0.01).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_positive
from jaxdl.optim.rules import Rules, match_rules


def global_norm(tree: Any) -> jax.Array:
    """‖tree‖₂ over all leaves, accumulated in float32."""
    leaves = jax.tree.leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in leaves))


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
    """g ← g·min(1, c/‖g‖₂) (unchanged when ‖g‖₂ < c); stateless."""
    check_positive("max_norm", max_norm)

    def update_fn(updates, state, params=None):
        del params
        norm = global_norm(updates)
        scale = jnp.minimum(1.0, max_norm / norm)  # norm = 0 gives inf, then 1
        updates = jax.tree.map(lambda g: g * scale.astype(g.dtype), updates)
        return updates, state

    return optax.GradientTransformation(lambda _: optax.EmptyState(), update_fn)


def _items(rules: Rules) -> list[tuple[str, Any]]:
    return list(rules.items()) if isinstance(rules, Mapping) else list(rules)


def _clip_leaf_norm(g: jax.Array, c: float) -> jax.Array:
    norm = jnp.sqrt(jnp.sum(jnp.square(g.astype(jnp.float32))))
    return g * jnp.minimum(1.0, c / norm).astype(g.dtype)


def clip_by_rules(
    rules: Rules, kind: Literal["norm", "value"] = "norm", default: float | None = None
) -> optax.GradientTransformation:
    """Per-parameter clipping: `(regex, c)` rules on parameter paths (first match wins).

    kind="norm" rescales a leaf whose own L2 norm exceeds c; kind="value" clips each element to
    [−c, c]. c = None (and `default`, for unmatched leaves) means no clipping. A rule matching no
    parameter raises ValueError.
    """
    if kind not in ("norm", "value"):
        raise ValueError(f"kind must be 'norm' or 'value', got {kind!r}")
    items = _items(rules)
    for _, c in items:
        if c is not None:
            check_positive("clip threshold", c)
    if default is not None:
        check_positive("default", default)

    def update_fn(updates, state, params=None):
        del params
        # Thresholds as a flat list: None leaves would vanish from a pytree.
        flat, treedef = jax.tree.flatten(updates)
        index = match_rules(updates, [(r, i) for i, (r, _) in enumerate(items)], default=-1)
        out = []
        for g, i in zip(flat, jax.tree.leaves(index), strict=True):
            c = items[i][1] if i >= 0 else default
            if c is None:
                out.append(g)
            elif kind == "norm":
                out.append(_clip_leaf_norm(g, c))
            else:
                out.append(jnp.clip(g, -c, c))
        return jax.tree.unflatten(treedef, out), state

    return optax.GradientTransformation(lambda _: optax.EmptyState(), update_fn)


def clip_weights(params: Any, clip_value: float) -> Any:
    """WGAN weight clipping: w ← clip(w, −c, c) on every leaf; apply after `apply_updates`."""
    check_positive("clip_value", clip_value)
    return jax.tree.map(lambda w: jnp.clip(w, -clip_value, clip_value), params)


def weight_clipping(clip_value: float) -> optax.GradientTransformation:
    """WGAN weight clipping as the last link of a chain: emits u' = clip(w + u, −c, c) − w.

    `optax.apply_updates` then lands on the clipped weights (up to one rounding of w + u'); for
    the exact projection call `clip_weights` after the update instead.
    """
    check_positive("clip_value", clip_value)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("weight_clipping needs `params`: call tx.update(grads, state, params)")
        updates = jax.tree.map(
            lambda u, w: jnp.clip(w + u, -clip_value, clip_value) - w, updates, params
        )
        return updates, state

    return optax.GradientTransformation(lambda _: optax.EmptyState(), update_fn)
