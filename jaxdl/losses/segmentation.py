"""Overlap losses for segmentation: soft Dice and soft IoU (Jaccard). SPEC: SEG-1, SEG-3.

Inputs are probabilities and targets of one shape (N, H, W, C) (any (N, ..., C)); sums run over
`axis` (default: the spatial axes), giving one loss per (image, class) before `reduction`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.losses._reduce import reduce_loss


def _overlap_sums(
    probs: ArrayLike,
    targets: ArrayLike,
    axis: Sequence[int] | None,
    pixel_mask: ArrayLike | None,
) -> tuple[Array, Array, Array]:
    p, g = jnp.asarray(probs), jnp.asarray(targets)
    if p.shape != g.shape:
        raise ValueError(f"expected targets with the shape of probs {p.shape}, got {g.shape}")
    if axis is None:
        if p.ndim < 3:
            raise ValueError(
                f"expected probs of shape (N, H, W, C) (or (N, ..., C)), got {p.shape}; "
                "pass axis= for other layouts"
            )
        axis = tuple(range(1, p.ndim - 1))
    dtype = jnp.result_type(p.dtype, jnp.float32)
    p, g = p.astype(dtype), g.astype(dtype)
    if pixel_mask is not None:
        m = jnp.asarray(pixel_mask).astype(dtype)
        if m.ndim == p.ndim - 1:
            m = m[..., None]
        p, g = p * m, g * m
    axis = tuple(axis)
    return jnp.sum(p * g, axis), jnp.sum(p, axis), jnp.sum(g, axis)


def dice_loss(
    probs: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: float = 1.0,
    axis: Sequence[int] | None = None,
    pixel_mask: ArrayLike | None = None,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
) -> Array:
    """Soft Dice loss 1 - (2 sum pg + s) / (sum p + sum g + s) (Milletari et al. 2016, linear
    denominator). SPEC: SEG-1 (Dice = 2TP/(2TP+FP+FN)).

    `pixel_mask` (N, H, W) or (N, H, W, C) drops pixels (e.g. ignore labels); `weights`
    weights the per-(image, class) losses, e.g. per class with shape (C,).
    """
    inter, sp, sg = _overlap_sums(probs, targets, axis, pixel_mask)
    den = sp + sg + smooth
    per_item = jnp.where(den > 0, 1.0 - (2.0 * inter + smooth) / jnp.where(den > 0, den, 1.0), 0.0)
    return reduce_loss(per_item, reduction, weights)


def iou_loss(
    probs: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: float = 1.0,
    axis: Sequence[int] | None = None,
    pixel_mask: ArrayLike | None = None,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
) -> Array:
    """Soft IoU loss 1 - (sum pg + s) / (sum (p + g - pg) + s) (Rahman & Wang 2016), as in UNet 3+.

    SPEC: SEG-3, SEG-1. Arguments as in `dice_loss`.
    """
    inter, sp, sg = _overlap_sums(probs, targets, axis, pixel_mask)
    union = sp + sg - inter
    den = union + smooth
    per_item = jnp.where(den > 0, 1.0 - (inter + smooth) / jnp.where(den > 0, den, 1.0), 0.0)
    return reduce_loss(per_item, reduction, weights)
