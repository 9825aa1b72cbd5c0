"""Shared reduction for per-item losses: `reduction=`, optional `weights` and `mask`."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def reduce_loss(
    loss: Array,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Reduce per-item `loss` after applying `weights` and `mask` (both broadcast to its shape).

    "none" returns `loss * weights * mask`; "sum" sums it; "mean" is the weighted mean
    sum(w * m * loss) / sum(w * m) (0 when nothing is left), which equals torch's mean for
    `ignore_index` (mask) and class `weight` (weights = weight[labels]) in cross-entropy.
    """
    check_reduction(reduction)
    w = jnp.ones_like(loss)
    if weights is not None:
        w = w * jnp.asarray(weights, loss.dtype)
    if mask is not None:
        w = w * jnp.asarray(mask).astype(loss.dtype)
    # where() keeps masked items at 0 even when their loss is inf/nan.
    weighted = jnp.where(w != 0, loss * w, 0.0)
    if reduction == "none":
        return weighted
    total = jnp.sum(weighted)
    if reduction == "sum":
        return total
    denom = jnp.sum(w)
    return jnp.where(denom > 0, total / jnp.where(denom > 0, denom, 1.0), 0.0)
