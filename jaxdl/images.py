"""Image utilities: [-1, 1] floats to uint8, PNG sample grids, and reading a user's image as RGB."""

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


def read_rgb(path: str) -> tuple[np.ndarray, str | None]:
    """A user's image file as uint8 (H, W, 3), and a note when it had to be converted.

    Grey images are repeated over 3 channels; an alpha channel is composited over white (what
    viewers show); palette and 16-bit images are converted by Pillow. Raises FileNotFoundError
    or ValueError naming the file when it is missing or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no image file at {path!r}")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path!r} is not a readable image ({e})") from None
    mode, note = image.mode, None
    if mode == "RGB":
        return np.asarray(image), None
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
        note = f"{path}: {mode} image with alpha, composited over white"
    elif mode in ("L", "1", "I", "I;16", "F"):
        if mode in ("I", "I;16", "F"):
            scale = 255.0 / max(float(np.asarray(image).max()), 1.0)
            image = Image.fromarray(np.clip(np.asarray(image) * scale, 0, 255).astype(np.uint8))
        note = f"{path}: single-channel {mode} image, repeated over RGB"
    else:
        note = f"{path}: {mode} image converted to RGB"
    return np.asarray(image.convert("RGB")), note
