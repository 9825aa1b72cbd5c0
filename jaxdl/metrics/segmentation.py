"""Segmentation metrics from a pixel confusion matrix: IoU, Dice, mIoU, PA, FWIoU. SPEC: SEG-1.

Label maps are integer arrays (N, H, W) (any shape); predictions are ids of the same shape or
scores (N, H, W, K), which are arg-maxed. Pixels whose label equals `ignore_index` are skipped.
Per-class values are 0 for classes absent from both label and prediction; the means skip them
(scikit-learn `jaccard_score(average="macro")` convention).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.metrics.classification import _safe_div
from jaxdl.metrics.confusion import confusion_matrix


def segmentation_counts(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int, ignore_index: int | None = None
) -> Array:
    """(K, K) pixel counts n[true, pred]; `y_pred` may be ids or scores with a last class axis."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_pred.ndim == y_true.ndim + 1:
        if y_pred.shape[:-1] != y_true.shape or y_pred.shape[-1] != num_classes:
            raise ValueError(
                f"expected scores of shape {(*y_true.shape, num_classes)} (NHWC, K classes last)"
                f" for labels {y_true.shape}, got {y_pred.shape}"
            )
        y_pred = jnp.argmax(y_pred, axis=-1)
    elif y_pred.shape != y_true.shape:
        raise ValueError(
            f"expected y_pred as ids of shape {y_true.shape} or scores of shape "
            f"{(*y_true.shape, num_classes)}, got {y_pred.shape}"
        )
    return confusion_matrix(y_true, y_pred, num_classes, ignore_index=ignore_index)


def iou_from_counts(counts: Array) -> Array:
    """Per-class IoU = TP / (TP + FP + FN), shape (K,)."""
    tp = jnp.diag(counts)
    return _safe_div(tp, jnp.sum(counts, 0) + jnp.sum(counts, 1) - tp)


def dice_from_counts(counts: Array) -> Array:
    """Per-class Dice = 2TP / (2TP + FP + FN), shape (K,)."""
    tp = jnp.diag(counts)
    return _safe_div(2 * tp, jnp.sum(counts, 0) + jnp.sum(counts, 1))


def _present(counts: Array) -> Array:
    return (jnp.sum(counts, 0) + jnp.sum(counts, 1)) > 0


def mean_iou_from_counts(counts: Array) -> Array:
    """mIoU = mean of IoU over classes present in label or prediction."""
    present = _present(counts)
    return _safe_div(jnp.sum(jnp.where(present, iou_from_counts(counts), 0.0)), jnp.sum(present))


def pixel_accuracy_from_counts(counts: Array) -> Array:
    """PA = sum_i n_ii / sum n."""
    return _safe_div(jnp.trace(counts), jnp.sum(counts))


def fw_iou_from_counts(counts: Array) -> Array:
    """Frequency-weighted IoU = sum_c (sum_j n_cj / sum n) IoU_c."""
    freq = _safe_div(jnp.sum(counts, 1), jnp.sum(counts))
    return jnp.sum(freq * iou_from_counts(counts))


def iou(y_true, y_pred, num_classes: int, *, ignore_index: int | None = None) -> Array:
    """Per-class IoU (K,) = scikit-learn `jaccard_score(average=None, zero_division=0)`."""
    return iou_from_counts(segmentation_counts(y_true, y_pred, num_classes, ignore_index))


def dice(y_true, y_pred, num_classes: int, *, ignore_index: int | None = None) -> Array:
    """Per-class Dice (K,) = per-class F1."""
    return dice_from_counts(segmentation_counts(y_true, y_pred, num_classes, ignore_index))


def mean_iou(y_true, y_pred, num_classes: int, *, ignore_index: int | None = None) -> Array:
    """Mean IoU over classes present in label or prediction."""
    return mean_iou_from_counts(segmentation_counts(y_true, y_pred, num_classes, ignore_index))


def pixel_accuracy(y_true, y_pred, num_classes: int, *, ignore_index: int | None = None) -> Array:
    """Fraction of (non-ignored) pixels labelled correctly."""
    counts = segmentation_counts(y_true, y_pred, num_classes, ignore_index)
    return pixel_accuracy_from_counts(counts)


def fw_iou(y_true, y_pred, num_classes: int, *, ignore_index: int | None = None) -> Array:
    """Frequency-weighted IoU (Long et al. 2015, FCN)."""
    return fw_iou_from_counts(segmentation_counts(y_true, y_pred, num_classes, ignore_index))
