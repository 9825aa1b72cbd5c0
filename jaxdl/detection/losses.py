"""Training losses of Faster / Mask R-CNN, as torchvision's reference. SPEC: SEG-4.

Every loss takes the static-shape rows of a batch with a 0/1 `weight` per row (sampled or not)
and normalises by the number of sampled rows, as torchvision does over its gathered rows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["fast_rcnn_loss", "mask_loss", "rpn_loss", "smooth_l1"]


def smooth_l1(x: jax.Array, beta: float) -> jax.Array:
    """Elementwise Huber-style smooth L1: 0.5·x²/β for |x| < β, else |x| - 0.5·β."""
    a = jnp.abs(x)
    return jnp.where(a < beta, 0.5 * x * x / beta, a - 0.5 * beta)


def _count(weight: jax.Array) -> jax.Array:
    return jnp.maximum(weight.sum(), 1.0)


def rpn_loss(
    objectness: jax.Array,
    deltas: jax.Array,
    labels: jax.Array,
    sampled: jax.Array,
    targets: jax.Array,
    beta: float = 1.0 / 9,
) -> tuple[jax.Array, jax.Array]:
    """(objectness BCE, box smooth L1) over sampled anchors; shapes (..., M), (..., M, 4).
    The box term sums over sampled positives and divides by the number sampled."""
    w = sampled.astype(jnp.float32)
    bce = optax.sigmoid_binary_cross_entropy(objectness, labels)
    box = smooth_l1(deltas - targets, beta).sum(-1) * w * labels
    return (bce * w).sum() / _count(w), box.sum() / _count(w)


def fast_rcnn_loss(
    logits: jax.Array,
    deltas: jax.Array,
    labels: jax.Array,
    targets: jax.Array,
    weight: jax.Array,
    beta: float = 1.0 / 9,
) -> tuple[jax.Array, jax.Array]:
    """(classification CE, box smooth L1 of the ground-truth class's deltas on foreground RoIs);
    logits (R, K+1), deltas (R, K+1, 4), labels (R,), targets (R, 4), weight (R,)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    own = jnp.take_along_axis(deltas, labels[:, None, None], axis=1)[:, 0]
    fg = (labels > 0) * weight
    box = smooth_l1(own - targets, beta).sum(-1) * fg
    return (ce * weight).sum() / _count(weight), box.sum() / _count(weight)


def mask_loss(
    logits: jax.Array, labels: jax.Array, targets: jax.Array, weight: jax.Array
) -> jax.Array:
    """Per-pixel BCE on the ground-truth class's mask only (Mask R-CNN); logits (R, M, M, K+1),
    labels (R,), targets (R, M, M), weight (R,) 1 for sampled positives. Mean over their pixels."""
    own = jnp.take_along_axis(logits, labels[:, None, None, None], axis=-1)[..., 0]
    bce = optax.sigmoid_binary_cross_entropy(own, targets).mean(axis=(1, 2))
    return (bce * weight).sum() / _count(weight)
