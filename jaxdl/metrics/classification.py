"""Classification metrics equal to scikit-learn's (zero_division=0), jit-able. SPEC: SEQ-5.

Inputs follow scikit-learn: (N,) integer class ids (multi-class/binary) or (N, L) {0, 1}
indicators (multi-label). Everything is derived from confusion counts, so the same
`*_from_counts` functions serve the streaming metrics.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.metrics.confusion import confusion_matrix, multilabel_confusion_matrix

AVERAGES = ("binary", "micro", "macro", "weighted", None)


def _safe_div(num: Array, den: Array) -> Array:
    num, den = jnp.asarray(num, jnp.float32), jnp.asarray(den, jnp.float32)
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)


def _counts(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None, average) -> Array:
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.ndim == 2:
        return multilabel_confusion_matrix(y_true, y_pred)
    if y_true.ndim != 1:
        raise ValueError(
            f"expected (N,) class ids or (N, L) multi-label indicators, got shape {y_true.shape}"
        )
    if num_classes is None:
        if average != "binary":
            raise ValueError(f"num_classes is required for average={average!r}")
        num_classes = 2
    return confusion_matrix(y_true, y_pred, num_classes)


def tp_fp_fn(counts: Array) -> tuple[Array, Array, Array, Array]:
    """(tp, fp, fn, present) per class from a (K, K) or a multi-label (L, 2, 2) count array.

    `present` marks the classes scikit-learn averages over: for multi-class those seen in
    y_true or y_pred, for multi-label every label.
    """
    if counts.ndim == 3:
        tp, fp, fn = counts[:, 1, 1], counts[:, 0, 1], counts[:, 1, 0]
        return tp, fp, fn, jnp.ones(tp.shape, bool)
    tp = jnp.diag(counts)
    fp = jnp.sum(counts, axis=0) - tp
    fn = jnp.sum(counts, axis=1) - tp
    return tp, fp, fn, (tp + fp + fn) > 0


def _average(per_class: Array, counts: Array, stat: str, average, pos_label: int) -> Array:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    tp, fp, fn, present = tp_fp_fn(counts)
    if average is None:
        return per_class
    if average == "binary":
        if counts.ndim == 3:
            raise ValueError("average='binary' needs (N,) binary ids, not multi-label input")
        return per_class[pos_label]
    if average == "macro":
        return _safe_div(jnp.sum(jnp.where(present, per_class, 0.0)), jnp.sum(present))
    if average == "weighted":
        support = tp + fn
        return _safe_div(jnp.sum(per_class * support), jnp.sum(support))
    tp, fp, fn = jnp.sum(tp), jnp.sum(fp), jnp.sum(fn)  # micro: pool the counts
    return _stat(stat, tp, fp, fn)


def _stat(stat: str, tp: Array, fp: Array, fn: Array) -> Array:
    if stat == "precision":
        return _safe_div(tp, tp + fp)
    if stat == "recall":
        return _safe_div(tp, tp + fn)
    return _safe_div(2 * tp, 2 * tp + fp + fn)


def prf_from_counts(counts: Array, stat: str, average="macro", pos_label: int = 1) -> Array:
    """Precision, recall or F1 (`stat`) from confusion counts, with scikit-learn's averaging."""
    tp, fp, fn, _ = tp_fp_fn(counts)
    return _average(_stat(stat, tp, fp, fn), counts, stat, average, pos_label)


def accuracy_from_counts(counts: Array) -> Array:
    """Multi-class accuracy trace(n) / sum(n) from (K, K) counts."""
    if counts.ndim != 2:
        raise ValueError("accuracy_from_counts needs (K, K) counts (subset accuracy needs rows)")
    return _safe_div(jnp.trace(counts), jnp.sum(counts))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Fraction of correct items; for (N, L) multi-label input the exact-match (subset) accuracy,
    as scikit-learn `accuracy_score`."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim not in (1, 2):
        raise ValueError(
            "expected y_true and y_pred of one shape, (N,) class ids or (N, L) indicators, got "
            f"{y_true.shape} and {y_pred.shape}"
        )
    correct = y_true == y_pred
    if y_true.ndim == 2:
        correct = jnp.all(correct, axis=1)
    return jnp.mean(correct.astype(jnp.float32))


def precision(y_true, y_pred, num_classes=None, *, average="binary", pos_label=1) -> Array:
    """Precision tp / (tp + fp) = scikit-learn `precision_score(..., zero_division=0)`.

    average: "binary" (class `pos_label`), "micro" (pooled counts), "macro" (mean over classes
    present in y_true or y_pred; every label for multi-label), "weighted" (by support), or
    None (per class, shape (K,), 0 for absent classes). `num_classes` K is needed for
    multi-class ids unless average="binary" (K = 2); ids outside [0, K) are not counted.
    """
    return prf_from_counts(
        _counts(y_true, y_pred, num_classes, average), "precision", average, pos_label
    )


def recall(y_true, y_pred, num_classes=None, *, average="binary", pos_label=1) -> Array:
    """Recall tp / (tp + fn) = scikit-learn `recall_score(zero_division=0)`; see `precision`."""
    return prf_from_counts(
        _counts(y_true, y_pred, num_classes, average), "recall", average, pos_label
    )


def f1_score(y_true, y_pred, num_classes=None, *, average="binary", pos_label=1) -> Array:
    """F1 2tp / (2tp + fp + fn) = scikit-learn `f1_score(..., zero_division=0)`; see `precision`.

    Macro-F1 averages per-class F1, micro-F1 pools tp/fp/fn over classes (SEQ-5).
    """
    return prf_from_counts(_counts(y_true, y_pred, num_classes, average), "f1", average, pos_label)


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> Array:
    """Binary ROC AUC = P(score_pos > score_neg) + 0.5 P(tie) (Mann-Whitney U), jit-able.

    Equals scikit-learn `roc_auc_score` for (N,) {0, 1} labels, ties included; NaN when only one
    class is present (scikit-learn raises). O(N log N).
    """
    y_true, s = jnp.asarray(y_true), jnp.asarray(y_score)
    if y_true.ndim != 1 or y_true.shape != s.shape:
        raise ValueError(
            f"expected (N,) binary labels and (N,) scores, got {y_true.shape} and {s.shape}"
        )
    s = s.astype(jnp.result_type(s.dtype, jnp.float32))
    pos = y_true > 0
    n_pos = jnp.sum(pos)
    n_neg = pos.shape[0] - n_pos
    neg_sorted = jnp.sort(jnp.where(pos, jnp.inf, s))  # negatives first, positives as +inf
    below = jnp.searchsorted(neg_sorted, s, side="left")
    at_or_below = jnp.minimum(jnp.searchsorted(neg_sorted, s, side="right"), n_neg)
    wins = jnp.where(pos, below + 0.5 * (at_or_below - below), 0.0)
    den = n_pos.astype(s.dtype) * n_neg.astype(s.dtype)
    return jnp.where(den > 0, jnp.sum(wins) / jnp.where(den > 0, den, 1.0), jnp.nan)
