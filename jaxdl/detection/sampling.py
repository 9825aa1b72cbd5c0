"""Matching boxes to ground truth and balanced positive/negative sampling with static shapes.

SPEC: SEG-4 (Ren et al. 2015, section 3.1.2; Girshick 2015, section 2.3). Per image, with a
fixed number of ground-truth rows (`valid` marks the real ones). Sampling draws without
replacement by ranking uniform keys with `lax.top_k`: positive slots hold up to
``batch_size · positive_fraction`` positives, negative slots fill the rest of ``batch_size``, as
torchvision's `BalancedPositiveNegativeSampler`; unused slots come back with ``ok = False``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdl.detection.boxes import box_iou

__all__ = ["match", "sample"]


def match(
    gt_boxes: jax.Array,
    gt_valid: jax.Array,
    boxes: jax.Array,
    high: float,
    low: float,
    allow_low_quality: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Matches boxes (M, 4) to ground truth (G, 4) -> (index (M,), positive (M,), negative (M,)).

    positive: best IoU >= `high`; negative: best IoU < `low` (and not positive); in between is
    ignored. `allow_low_quality`: each ground-truth box's best-overlapping boxes (all ties, IoU
    > 0) are positive too (the RPN rule). With no valid ground truth every box is negative.
    """
    iou = jnp.where(gt_valid[:, None], box_iou(gt_boxes, boxes), 0.0)  # (G, M)
    best, index = iou.max(axis=0), iou.argmax(axis=0)
    positive = best >= high
    if allow_low_quality:
        highest = iou.max(axis=1, keepdims=True)
        top = gt_valid[:, None] & (highest > 0) & (iou == highest)
        positive = positive | top.any(axis=0)
    return index, positive, (best < low) & ~positive


def sample(
    rng: jax.Array,
    positive: jax.Array,
    negative: jax.Array,
    batch_size: int,
    positive_fraction: float,
) -> tuple[jax.Array, jax.Array]:
    """Random balanced sample -> (indices (k + batch_size,), ok (k + batch_size,)) where
    k = int(batch_size · positive_fraction): k positive slots, then batch_size negative slots of
    which the first batch_size - (positives taken) are used. With fewer than batch_size boxes,
    batch_size is their number (every box can be drawn)."""
    n = positive.shape[0]
    batch_size = min(batch_size, n)
    k = int(batch_size * positive_fraction)
    u_pos, u_neg = jax.random.uniform(rng, (2, n))
    num_pos = jnp.minimum(positive.sum(), k)
    num_neg = jnp.minimum(negative.sum(), batch_size - num_pos)
    _, pos_idx = jax.lax.top_k(jnp.where(positive, u_pos, -1.0), k)
    _, neg_idx = jax.lax.top_k(jnp.where(negative, u_neg, -1.0), batch_size)
    indices = jnp.concatenate([pos_idx, neg_idx])
    ok = jnp.concatenate([jnp.arange(k) < num_pos, jnp.arange(batch_size) < num_neg])
    return indices, ok
