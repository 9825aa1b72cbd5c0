"""Multi-label decisions and scores (SPEC: SEQ-5): micro/macro-F1 of {0, 1} indicator matrices
and per-label decision thresholds tuned on validation data. The losses (soft-F1, ZLPR) are in
`jaxdl.losses.multilabel`."""

from __future__ import annotations

from typing import Any

import numpy as np


def _check(labels: Any, preds: Any) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(labels), np.asarray(preds)
    if y.ndim != 2 or y.shape != p.shape:
        raise ValueError(
            f"expected labels and predictions (N, L) of one shape, got {y.shape}, {p.shape}"
        )
    return y.astype(bool), p


def multilabel_f1(labels: Any, preds: Any) -> dict[str, float]:
    """{"micro": F1 of tp/fp/fn pooled over labels, "macro": mean of per-label F1} for (N, L)
    {0, 1} matrices; a label with no positives and no predictions scores 0 (sklearn's
    zero_division=0)."""
    y, p = _check(labels, preds)
    p = p.astype(bool)
    tp, fp, fn = (y & p).sum(0), (~y & p).sum(0), (y & ~p).sum(0)
    den = 2 * tp + fp + fn
    per_label = np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)
    pooled = 2 * tp.sum() + fp.sum() + fn.sum()
    micro = 2 * tp.sum() / pooled if pooled else 0.0
    return {"micro": float(micro), "macro": float(per_label.mean())}


def tune_thresholds(labels: Any, scores: Any, grid: Any = None) -> np.ndarray:
    """Per label, the threshold on `scores` (N, L) (probabilities or logits) from `grid`
    (default: the midpoints of the label's distinct validation scores) that maximises that
    label's F1 on these validation rows; ties go to the highest threshold. Predict with
    `scores >= thresholds`."""
    y, s = _check(labels, scores)
    out = np.empty(s.shape[1])
    for j in range(s.shape[1]):
        if grid is None:
            u = np.unique(s[:, j])
            cand = np.concatenate([(u[:-1] + u[1:]) / 2, [u[-1] + 1.0]]) if len(u) > 1 else u
        else:
            cand = np.asarray(grid, float)
        pred = s[:, j][None, :] >= cand[:, None]
        tp = (pred & y[:, j]).sum(1)
        den = pred.sum(1) + y[:, j].sum()
        f1 = np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)
        out[j] = cand[np.flatnonzero(f1 == f1.max())[-1]]
    return out
