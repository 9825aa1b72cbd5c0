"""A picture of one image's detections (boxes, class and score, masks tinted) for reports."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["draw_detections"]

_COLOURS = np.array(
    [
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
        [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
    ],
    np.uint8,
)  # fmt: skip


def draw_detections(
    image: np.ndarray,
    detections: dict,
    ground_truth: dict | None = None,
    min_score: float = 0.5,
    scale: int = 3,
) -> np.ndarray:
    """image (H, W, C) float in [-1, 1] or uint8 -> (scale·H, scale·W, 3) uint8. Detections
    scoring >= `min_score` are drawn in their class colour with "class:score"; their masks (if
    any) tint the pixels; ground-truth boxes (if given) are thin white outlines."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(np.round((img + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, -1)
    keep = np.asarray(detections["scores"]) >= min_score
    img = img.astype(np.float32)
    for m, c in zip(
        np.asarray(detections.get("masks", np.zeros((len(keep), 0, 0))))[keep],
        np.asarray(detections["labels"])[keep],
        strict=False,
    ):
        if m.size:
            img[m] = 0.5 * img[m] + 0.5 * _COLOURS[c % len(_COLOURS)]
    h, w = img.shape[:2]
    pic = Image.fromarray(img.astype(np.uint8)).resize((w * scale, h * scale), Image.NEAREST)
    draw = ImageDraw.Draw(pic)
    if ground_truth is not None:
        for box in np.asarray(ground_truth["boxes"]):
            draw.rectangle([float(v) * scale for v in box], outline=(255, 255, 255), width=1)
    for box, c, s in zip(
        np.asarray(detections["boxes"])[keep],
        np.asarray(detections["labels"])[keep],
        np.asarray(detections["scores"])[keep],
        strict=True,
    ):
        colour = tuple(int(v) for v in _COLOURS[c % len(_COLOURS)])
        draw.rectangle([float(v) * scale for v in box], outline=colour, width=2)
        draw.text((float(box[0]) * scale + 2, float(box[1]) * scale + 1), f"{c}:{s:.2f}", colour)
    return np.asarray(pic)
