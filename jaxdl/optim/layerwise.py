"""Per-layer learning rates, freezing and per-parameter transformations by regex rules. SPEC: OPT-8.

Rules are `(regex, value)` pairs matched with `re.search` against "/"-joined parameter paths
(`jaxdl.optim.rules`), first match wins. The fine-tuning recipe (OPT-8, BAS-10) uses a lower rate
for pretrained layers rather than freezing them. Reparameterization fact [std]: training θ = λφ
instead of θ multiplies the effective SGD rate of θ by λ² and the Adam/RMSprop rate by λ (their
updates are invariant to the gradient's scale, up to ε), so a multiplier m is the λ = √m (SGD) or
λ = m (Adam) reparameterization.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim.rules import Rules, match_rules


def _multipliers(tree: Any, rules: Rules, default: float) -> list[float]:
    return [float(m) for m in jax.tree.leaves(match_rules(tree, rules, default=default))]


def _check_multipliers(rules: Rules, default: float) -> None:
    items = list(rules.items()) if isinstance(rules, Mapping) else list(rules)
    for pattern, m in [*items, ("<default>", default)]:
        if not (isinstance(m, int | float) and math.isfinite(m) and m >= 0):
            raise ValueError(f"learning-rate multiplier for {pattern!r} must be >= 0, got {m!r}")


def lr_multipliers(
    tx: optax.GradientTransformation, rules: Rules, default: float = 1.0
) -> optax.GradientTransformation:
    """Wraps `tx` so each parameter's update is scaled by its rule's multiplier.

    Multiplying the final update by m is multiplying that parameter's learning rate by m (every
    jaxdl optimizer ends in the learning-rate scale). A multiplier of 0 freezes the parameter:
    its update is exactly zero and `tx` allocates no state for it (`optax.masked`). Example:
    `lr_multipliers(adam(1e-3), [("^backbone/", 0.1), ("^stem/", 0.0)])`.
    """
    _check_multipliers(rules, default)

    def trainable(tree):
        return jax.tree.map(lambda m: m != 0, match_rules(tree, rules, default=default))

    inner = optax.masked(tx, trainable)

    def update_fn(updates, state, params=None):
        updates, state = inner.update(updates, state, params)
        flat, treedef = jax.tree.flatten(updates)
        mults = _multipliers(updates, rules, default)
        out = [
            jnp.zeros_like(u) if m == 0 else (u if m == 1 else u * jnp.asarray(m, u.dtype))
            for u, m in zip(flat, mults, strict=True)
        ]
        return jax.tree.unflatten(treedef, out), state

    return optax.GradientTransformation(inner.init, update_fn)


def freeze(tx: optax.GradientTransformation, patterns: list[str]) -> optax.GradientTransformation:
    """`tx` with the parameters whose path matches any regex in `patterns` frozen (no state)."""
    return lr_multipliers(tx, [(p, 0.0) for p in patterns])


def per_param(
    rules: Rules, default: optax.GradientTransformation | None = None
) -> optax.GradientTransformation:
    """A different transformation per parameter group: `(regex, GradientTransformation)` rules.

    Built on `optax.partition`; each parameter goes to the first matching rule, unmatched ones to
    `default` (an error if None). E.g. per-layer clipping or optimizers.
    """
    items = list(rules.items()) if isinstance(rules, Mapping) else list(rules)
    transforms = {i: t for i, (_, t) in enumerate(items)}
    if default is not None:
        transforms[len(items)] = default
    labeling = [(pattern, i) for i, (pattern, _) in enumerate(items)]
    fallback = {} if default is None else {"default": len(items)}

    def labels(tree):
        return match_rules(tree, labeling, **fallback)

    return optax.partition(transforms, labels)
