"""Anchor boxes with torchvision's `AnchorGenerator` conventions (Ren et al. 2015). SPEC: SEG-4.

For each size s and aspect ratio r = h/w the base anchor is centred on the origin with
w = s/sqrt(r), h = s·sqrt(r), its corners rounded to integers; base anchors are ordered
ratio-major (all sizes of the first ratio first). Grid anchors are the base anchors shifted to
(x·stride_x, y·stride_y) for each feature-map location, in (location, anchor) order with
locations row-major: row i·W·A + j·A + a is location (i, j), anchor a.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["base_anchors", "grid_anchors", "num_anchors"]


def num_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float]) -> int:
    return len(sizes) * len(aspect_ratios)


def base_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float]) -> np.ndarray:
    """(len(ratios)·len(sizes), 4) float32 ``[-w/2, -h/2, w/2, h/2]``, rounded (half to even, as
    `torch.round`)."""
    if not sizes or not aspect_ratios or min(sizes) <= 0 or min(aspect_ratios) <= 0:
        raise ValueError(
            f"anchor sizes and aspect_ratios must be non-empty and positive, got {sizes}, "
            f"{aspect_ratios}"
        )
    scales = np.asarray(sizes, np.float32)
    h_ratios = np.sqrt(np.asarray(aspect_ratios, np.float32))
    ws = ((1 / h_ratios)[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2).astype(np.float32)


def grid_anchors(
    base: np.ndarray, feature_size: tuple[int, int], image_size: tuple[int, int]
) -> np.ndarray:
    """(H·W·A, 4) float32 anchors for a feature map of `feature_size` (H, W) over an image of
    `image_size` (h, w); the stride is image // feature (integer division, as torchvision)."""
    (fh, fw), (ih, iw) = feature_size, image_size
    sy, sx = ih // fh, iw // fw
    ys, xs = np.meshgrid(np.arange(fh) * sy, np.arange(fw) * sx, indexing="ij")
    shifts = np.stack([xs, ys, xs, ys], axis=-1).reshape(-1, 1, 4).astype(np.float32)
    return (shifts + base[None]).reshape(-1, 4)
