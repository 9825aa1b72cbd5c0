"""Image utilities for experiment outputs: [-1, 1] floats to uint8, and PNG sample grids."""

from __future__ import annotations

import os

import numpy as np


def to_uint8(images: np.ndarray) -> np.ndarray:
    """NHWC floats in [-1, 1] -> uint8 [0, 255] (values outside are clipped)."""
    x = (np.asarray(images, np.float32) + 1.0) * 127.5
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 NHWC images -> one (H', W', C) uint8 grid with `nrow` images per row."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (N, H, W, C), got {images.dtype} {images.shape}")
    n, h, w, c = images.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / nrow))
    grid = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = img
    return grid


def save_grid(images: np.ndarray, path: str, nrow: int | None = None, pad: int = 2) -> str:
    """Writes uint8 NHWC `images` as a PNG grid; returns the path."""
    from PIL import Image

    grid = make_grid(images, nrow, pad)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)
    return path
