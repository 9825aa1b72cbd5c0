"""Boxes and class labels of a variable number of objects, checked and padded to static shapes.

Boxes are ``(x1, y1, x2, y2)`` in pixel-edge coordinates (torchvision and COCO-xyxy convention):
a box covering pixel columns ``c0..c1`` and rows ``r0..r1`` is ``(c0, r0, c1 + 1, r1 + 1)``. A
record padded by `pad_boxes` holds ``max_boxes`` rows, the first ``n`` real; ``valid`` marks
them, so a batch of records stacks into fixed shapes that `jax.jit` compiles once.
"""

from __future__ import annotations

import numpy as np


def check_boxes(boxes: np.ndarray, labels: np.ndarray, num_classes: int) -> None:
    """Raise ``ValueError`` naming the field and the expected range on malformed boxes/labels.

    ``boxes`` (n, 4) with x1 <= x2 and y1 <= y2, finite; ``labels`` (n,) integers in
    [0, num_classes).
    """
    boxes, labels = np.asarray(boxes), np.asarray(labels)
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes: expected shape (n, 4) as (x1, y1, x2, y2), got {boxes.shape}")
    if labels.shape != boxes.shape[:1]:
        raise ValueError(
            f"labels: expected shape ({len(boxes)},) to match boxes, got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected integers in [0, {num_classes}), got {labels.dtype}")
    if not np.all(np.isfinite(boxes)):
        raise ValueError("boxes: expected finite coordinates, got NaN or inf")
    for lo, hi, name in ((0, 2, "x"), (1, 3, "y")):
        bad = np.flatnonzero(boxes[:, hi] < boxes[:, lo])
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"boxes: expected {name}2 >= {name}1, got box {i} = {boxes[i].tolist()} "
                f"({name}2 < {name}1)"
            )
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"labels: expected values in [0, {num_classes}), got {int(labels[i])}")


def pad_boxes(
    boxes: np.ndarray, labels: np.ndarray, max_boxes: int, num_classes: int
) -> dict[str, np.ndarray]:
    """Checked, padded ``{"boxes" (max_boxes, 4) float32, "labels" (max_boxes,) int32,
    "valid" (max_boxes,) bool}``; padding rows are zero boxes with label 0 and ``valid`` False."""
    if np.size(boxes) == 0 and np.size(labels) == 0:  # no objects: any empty input
        boxes, labels = np.zeros((0, 4), np.float32), np.zeros(0, np.int32)
    check_boxes(boxes, labels, num_classes)
    n = len(boxes)
    if n > max_boxes:
        raise ValueError(f"boxes: at most max_boxes={max_boxes} objects fit, got {n}")
    out_boxes = np.zeros((max_boxes, 4), np.float32)
    out_labels = np.zeros(max_boxes, np.int32)
    out_boxes[:n] = boxes
    out_labels[:n] = labels
    return {"boxes": out_boxes, "labels": out_labels, "valid": np.arange(max_boxes) < n}
