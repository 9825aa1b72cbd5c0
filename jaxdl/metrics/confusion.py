"""Jit-able confusion matrices, the counts every classification/segmentation metric derives from.

SPEC: SEG-1 (n[i, j] = pixels of true class i predicted j, optional `ignore_index`), SEQ-5.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike


def confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int,
    *,
    ignore_index: int | None = None,
    mask: ArrayLike | None = None,
    dtype=jnp.int32,
) -> Array:
    """Counts n[i, j] of items with true class i and predicted class j; shape (K, K).

    Rows are true classes, as in scikit-learn `confusion_matrix(labels=range(K))`. `y_true`
    and `y_pred` are integer arrays of one shape (any rank). Items whose true label equals
    `ignore_index`, whose `mask` is False, or whose true/predicted id is outside [0, K) are not
    counted. int32 counts hold up to 2**31 - 1 items per cell.
    """
    y_true, y_pred = _int_pair(y_true, y_pred, "(...) integer class ids")
    k = int(num_classes)
    valid = (y_true >= 0) & (y_true < k) & (y_pred >= 0) & (y_pred < k)
    if ignore_index is not None:
        valid &= y_true != ignore_index
    if mask is not None:
        valid &= jnp.broadcast_to(jnp.asarray(mask, bool), valid.shape)
    idx = jnp.where(valid, y_true * k + y_pred, 0).reshape(-1)
    counts = jnp.zeros((k * k,), dtype).at[idx].add(valid.reshape(-1).astype(dtype))
    return counts.reshape(k, k)


def multilabel_confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    dtype=jnp.int32,
) -> Array:
    """Per-label 2x2 counts [[tn, fp], [fn, tp]] for indicator arrays (N, L); shape (L, 2, 2).

    Same layout as scikit-learn `multilabel_confusion_matrix`. `mask` (N,) drops rows.
    """
    y_true, y_pred = _int_pair(y_true, y_pred, "(N, L) {0, 1} indicators")
    if y_true.ndim != 2:
        raise ValueError(f"expected (N, L) {{0, 1}} indicator arrays, got shape {y_true.shape}")
    t, p = (y_true > 0).astype(dtype), (y_pred > 0).astype(dtype)
    m = jnp.ones_like(t)
    if mask is not None:
        m = jnp.broadcast_to(jnp.asarray(mask).astype(dtype)[:, None], t.shape)
    t, p = t * m, p * m
    tp = jnp.sum(t * p, axis=0)
    fp = jnp.sum(p, axis=0) - tp
    fn = jnp.sum(t, axis=0) - tp
    tn = jnp.sum(m, axis=0) - tp - fp - fn
    return jnp.stack([jnp.stack([tn, fp], -1), jnp.stack([fn, tp], -1)], -2)


def _int_pair(y_true: ArrayLike, y_pred: ArrayLike, expected: str) -> tuple[Array, Array]:
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"expected y_true and y_pred of one shape {expected}, got {y_true.shape} and "
            f"{y_pred.shape}"
        )
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if not (jnp.issubdtype(a.dtype, jnp.integer) or a.dtype == jnp.bool_):
            raise ValueError(f"expected {name} as {expected}, got dtype {a.dtype}")
    return y_true.astype(jnp.int32), y_pred.astype(jnp.int32)
