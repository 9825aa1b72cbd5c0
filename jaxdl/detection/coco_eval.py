"""COCO-style average precision for boxes and instance masks, in NumPy (SPEC: SEG-4).

Follows the COCO evaluation (Lin et al. 2014; pycocotools `COCOeval`) for the "all" area range and
at most `max_detections` detections per image and class: per image and class, detections in
descending score order greedily take the unmatched ground truth of highest IoU >= t (crowd
ground truth, IoU = intersection / detection area, can absorb many detections, which are then
ignored, as are detections matched to it); per class, precision is made monotone and read at the
101 recall points 0, 0.01, ..., 1; AP is the mean over classes with ground truth and over
t = 0.50, 0.55, ..., 0.95, AP50 and AP75 at one t. Boxes are ``[x1, y1, x2, y2]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "IOU_THRESHOLDS",
    "RECALL_POINTS",
    "average_precision",
    "box_iou_crowd",
    "mask_iou_crowd",
]

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def box_iou_crowd(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, 4) x (G, 4) -> (D, G) float64 IoU; for crowd ground truth, intersection / det area."""
    d, g = np.asarray(dets, np.float64), np.asarray(gts, np.float64)
    wh = np.clip(
        np.minimum(d[:, None, 2:], g[None, :, 2:]) - np.maximum(d[:, None, :2], g[None, :, :2]),
        0,
        None,
    )
    inter = wh[..., 0] * wh[..., 1]
    area_d = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])
    area_g = (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1])
    union = np.where(crowd[None, :], area_d[:, None], area_d[:, None] + area_g[None, :] - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def mask_iou_crowd(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, H, W) x (G, H, W) binary masks -> (D, G) IoU; crowd as `box_iou_crowd`."""
    d = np.asarray(dets, bool).reshape(len(dets), -1).astype(np.float64)
    g = np.asarray(gts, bool).reshape(len(gts), -1).astype(np.float64)
    inter = d @ g.T
    area_d, area_g = d.sum(1), g.sum(1)
    union = np.where(crowd[None, :], area_d[:, None], area_d[:, None] + area_g[None, :] - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _match(ious: np.ndarray, ignore: np.ndarray, crowd: np.ndarray):
    """One image and class, dets sorted by score, gts sorted ignored-last -> (matched (T, D),
    det ignored (T, D))."""
    n_t, (n_d, n_g) = len(IOU_THRESHOLDS), ious.shape
    matched, det_ignored = np.zeros((n_t, n_d), bool), np.zeros((n_t, n_d), bool)
    for ti, t in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(n_g, bool)
        for di in range(n_d):
            best, m = min(t, 1 - 1e-10), -1
            for gi in range(n_g):
                if taken[gi] and not crowd[gi]:
                    continue
                if m > -1 and not ignore[m] and ignore[gi]:
                    break
                if ious[di, gi] < best:
                    continue
                best, m = ious[di, gi], gi
            if m > -1:
                matched[ti, di], det_ignored[ti, di], taken[m] = True, ignore[m], True
    return matched, det_ignored


def _precision(scores, matched, det_ignored, n_gt) -> np.ndarray:
    """(T, 101) interpolated precision of one class over all images."""
    order = np.argsort(-scores, kind="mergesort")
    matched, det_ignored = matched[:, order], det_ignored[:, order]
    tp = np.cumsum(matched & ~det_ignored, axis=1, dtype=np.float64)
    fp = np.cumsum(~matched & ~det_ignored, axis=1, dtype=np.float64)
    out = np.zeros((len(IOU_THRESHOLDS), len(RECALL_POINTS)))
    for ti in range(len(IOU_THRESHOLDS)):
        recall = tp[ti] / n_gt
        precision = tp[ti] / (fp[ti] + tp[ti] + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone from the right
        idx = np.searchsorted(recall, RECALL_POINTS, side="left")
        ok = idx < len(precision)
        out[ti, ok] = precision[idx[ok]]
    return out


def average_precision(
    ground_truth: Sequence[dict],
    detections: Sequence[dict],
    iou_type: str = "bbox",
    max_detections: int = 100,
) -> dict[str, float]:
    """COCO AP, AP50, AP75 (-1 when no class has ground truth) and per-class AP.

    ground_truth, per image: {"boxes" (G, 4), "labels" (G,), optional "iscrowd" (G,) bool,
    "masks" (G, H, W) for iou_type="segm"}; detections, per image: {"boxes" (D, 4), "scores"
    (D,), "labels" (D,), "masks" (D, H, W) binary for "segm"}.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    if len(ground_truth) != len(detections):
        raise ValueError(
            f"ground_truth and detections: expected one entry per image each, got "
            f"{len(ground_truth)} and {len(detections)}"
        )
    key = "boxes" if iou_type == "bbox" else "masks"
    iou_fn = box_iou_crowd if iou_type == "bbox" else mask_iou_crowd
    classes = sorted({int(c) for g in ground_truth for c in np.asarray(g["labels"]).reshape(-1)})
    per_class = {}
    for c in classes:
        scores, matched, ignored, n_gt = [], [], [], 0
        for gt, dt in zip(ground_truth, detections, strict=True):
            g_sel = np.asarray(gt["labels"]).reshape(-1) == c
            crowd = np.asarray(gt.get("iscrowd", np.zeros(len(g_sel), bool)), bool)[g_sel]
            d_sel = np.flatnonzero(np.asarray(dt["labels"]).reshape(-1) == c)
            d_scores = np.asarray(dt["scores"], np.float64)[d_sel]
            d_order = d_sel[np.argsort(-d_scores, kind="mergesort")][:max_detections]
            g_order = np.argsort(crowd, kind="mergesort")
            crowd = crowd[g_order]
            n_gt += int((~crowd).sum())
            if len(d_order) == 0:
                continue
            g_items = np.asarray(gt[key])[g_sel][g_order] if g_sel.any() else None
            if g_items is None:
                ious = np.zeros((len(d_order), 0))
            else:
                ious = iou_fn(np.asarray(dt[key])[d_order], g_items, crowd)
            m, ig = _match(ious, crowd, crowd)
            scores.append(np.asarray(dt["scores"], np.float64)[d_order])
            matched.append(m)
            ignored.append(ig)
        if n_gt == 0:
            continue
        if scores:
            p = _precision(
                np.concatenate(scores), np.concatenate(matched, 1), np.concatenate(ignored, 1), n_gt
            )
        else:
            p = np.zeros((len(IOU_THRESHOLDS), len(RECALL_POINTS)))
        per_class[c] = p
    if not per_class:
        return {"AP": -1.0, "AP50": -1.0, "AP75": -1.0, "per_class_AP": {}}
    stack = np.stack(list(per_class.values()))  # (C, T, R)
    return {
        "AP": float(stack.mean()),
        "AP50": float(stack[:, 0].mean()),
        "AP75": float(stack[:, 5].mean()),
        "per_class_AP": {int(c): float(p.mean()) for c, p in per_class.items()},
    }
