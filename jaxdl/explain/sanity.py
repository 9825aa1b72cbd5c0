"""Sanity check for saliency methods (Adebayo et al. 2018, arXiv:1810.03292): an attribution
that explains the model must change when the model's weights are randomized. The change is
measured by the Spearman rank correlation between the maps before and after. SPEC: BAS-8.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.stats import rankdata


def rank_correlation(a: jax.Array, b: jax.Array, absolute: bool = True) -> jax.Array:
    """Spearman rank correlation between maps a and b (N, ...) per example: (N,). Ties take
    their average rank; `absolute` ranks |a| and |b| (Adebayo et al. report both)."""
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(
            f"expected two batches of maps (N, ...) of one shape, got {a.shape}, {b.shape}"
        )
    a, b = (m.reshape(m.shape[0], -1) for m in (a, b))
    if absolute:
        a, b = jnp.abs(a), jnp.abs(b)
    ra, rb = (rankdata(m, axis=1) for m in (a, b))
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    denom = jnp.sqrt(jnp.sum(ra**2, 1) * jnp.sum(rb**2, 1))
    return jnp.sum(ra * rb, 1) / denom


def cascading_randomization(params: dict, random_params: dict, layers) -> list[dict]:
    """Adebayo et al.'s cascade: parameter trees with the top-level `layers` (named in order,
    output layer first) replaced one more at a time by `random_params`' (e.g. a fresh init).
    Returns len(layers) trees; the last has every listed layer randomized."""
    missing = [name for name in layers if name not in params or name not in random_params]
    if missing:
        raise ValueError(f"layers {missing} not in the parameters; top-level names: {list(params)}")
    out, current = [], dict(params)
    for name in layers:
        current = {**current, name: random_params[name]}
        out.append(jax.tree.map(jnp.asarray, current))
    return out
