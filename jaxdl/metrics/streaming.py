"""Streaming metrics: small pytree states with init / update / merge / compute.

Update batch by batch (jit-able, works on batches sharded over devices), merge states from
different hosts/devices by adding, and compute the final values once. SPEC: SEG-1, SEQ-5.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.metrics.classification import accuracy_from_counts, prf_from_counts
from jaxdl.metrics.confusion import confusion_matrix, multilabel_confusion_matrix
from jaxdl.metrics.segmentation import (
    dice_from_counts,
    fw_iou_from_counts,
    iou_from_counts,
    mean_iou_from_counts,
)


class ConfusionState(NamedTuple):
    """counts: (K, K) n[true, pred] or multi-label (L, 2, 2); exact / total: items (rows) fully
    correct / counted (subset accuracy for multi-label)."""

    counts: Array
    exact: Array
    total: Array


def init(num_classes: int, *, multilabel: bool = False, dtype=jnp.int32) -> ConfusionState:
    """Empty state for K classes, or L labels with `multilabel=True`."""
    shape = (num_classes, 2, 2) if multilabel else (num_classes, num_classes)
    zero = jnp.zeros((), dtype)
    return ConfusionState(jnp.zeros(shape, dtype), zero, zero)


def update(
    state: ConfusionState,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    ignore_index: int | None = None,
    mask: ArrayLike | None = None,
) -> ConfusionState:
    """Add a batch: ids of any shape (multi-class, e.g. (N, H, W) pixels) or (N, L) indicators."""
    dtype = state.counts.dtype
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if state.counts.ndim == 3:
        if ignore_index is not None:
            raise ValueError("ignore_index applies to multi-class ids, not multi-label input")
        counts = multilabel_confusion_matrix(y_true, y_pred, mask=mask, dtype=dtype)
        rows = jnp.ones(y_true.shape[:1], bool) if mask is None else jnp.asarray(mask, bool)
        exact = jnp.sum(jnp.all((y_true > 0) == (y_pred > 0), axis=1) & rows, dtype=dtype)
        total = jnp.sum(rows, dtype=dtype)
    else:
        counts = confusion_matrix(
            y_true,
            y_pred,
            state.counts.shape[0],
            ignore_index=ignore_index,
            mask=mask,
            dtype=dtype,
        )
        exact, total = jnp.trace(counts), jnp.sum(counts)
    return ConfusionState(state.counts + counts, state.exact + exact, state.total + total)


def merge(a: ConfusionState, b: ConfusionState) -> ConfusionState:
    """Combine two states (counts add)."""
    return ConfusionState(a.counts + b.counts, a.exact + b.exact, a.total + b.total)


def compute(state: ConfusionState) -> dict[str, Array]:
    """All metrics from the counts (scikit-learn conventions, zero_division=0).

    Keys: accuracy, {precision,recall,f1}_{macro,micro,weighted}, per-class precision / recall /
    f1 (K,), and for multi-class also iou, dice (K,), mean_iou, pixel_accuracy, fw_iou.
    """
    c = state.counts
    out = {"accuracy": jnp.where(state.total > 0, state.exact / jnp.maximum(state.total, 1), 0.0)}
    for stat in ("precision", "recall", "f1"):
        out[stat] = prf_from_counts(c, stat, None)
        for avg in ("macro", "micro", "weighted"):
            out[f"{stat}_{avg}"] = prf_from_counts(c, stat, avg)
    if c.ndim == 2:
        out.update(
            iou=iou_from_counts(c),
            dice=dice_from_counts(c),
            mean_iou=mean_iou_from_counts(c),
            pixel_accuracy=accuracy_from_counts(c),
            fw_iou=fw_iou_from_counts(c),
        )
    return out


class MeanState(NamedTuple):
    """Running sum and count, e.g. for per-image PSNR / SSIM averaged over a test set."""

    total: Array
    count: Array


def mean_init() -> MeanState:
    return MeanState(jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))


def mean_update(state: MeanState, values: ArrayLike, mask: ArrayLike | None = None) -> MeanState:
    v = jnp.asarray(values, jnp.float32)
    m = jnp.ones_like(v) if mask is None else jnp.broadcast_to(jnp.asarray(mask, v.dtype), v.shape)
    return MeanState(state.total + jnp.sum(jnp.where(m > 0, v * m, 0.0)), state.count + jnp.sum(m))


def mean_merge(a: MeanState, b: MeanState) -> MeanState:
    return MeanState(a.total + b.total, a.count + b.count)


def mean_compute(state: MeanState) -> Array:
    return jnp.where(state.count > 0, state.total / jnp.maximum(state.count, 1e-12), jnp.nan)
