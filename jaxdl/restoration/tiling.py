"""Apply an image-to-image network to an image of any size, tile by tile, without seams.

Large images do not fit a network's memory (SUNet at 256x256 crops, SPEC RES-1; x4 upscalers,
RES-2/RES-3), and a plain tiling shows seams where tiles meet. Here tiles overlap by `overlap`
pixels and are blended with weights that ramp linearly across the overlap, normalised by the
sum of weights at every output pixel, so each pixel is a convex mix of the tiles that cover it.
Images smaller than a tile are reflect-padded and cropped back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size `tile` covering [0, length), neighbours overlapping by at
    least `overlap`; the last tile ends at `length` (length >= tile)."""
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile={tile}), got {overlap}")
    if length < tile:
        raise ValueError(f"length {length} is shorter than the tile {tile}: pad first")
    starts = list(range(0, length - tile, tile - overlap))
    return [*starts, length - tile]


def _ramp(tile: int, overlap: int) -> np.ndarray:
    i = np.arange(tile, dtype=np.float64)
    return np.minimum(1.0, np.minimum(i + 1, tile - i) / (overlap + 1))


def tiled_apply(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    *,
    tile: int,
    overlap: int,
    scale: int = 1,
    batch_size: int = 4,
    progress: bool = False,
) -> np.ndarray:
    """`fn` over overlapping tiles of `image` (H, W, C) float, blended: returns (sH, sW, C').

    `fn` maps a batch (N, tile, tile, C) to (N, s*tile, s*tile, C') with s = `scale` (1 for
    denoising, 4 for x4 super-resolution). Tiles go through `fn` `batch_size` at a time (pad
    the tile to a size your network accepts beforehand: `tile` itself must be valid for it).
    """
    if image.ndim != 3:
        raise ValueError(f"expected one image (H, W, C), got shape {image.shape}")
    h, w, _ = image.shape
    ph, pw = max(0, tile - h), max(0, tile - w)
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "symmetric"
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)
    hp, wp, _ = image.shape
    boxes = [(y, x) for y in tile_starts(hp, tile, overlap) for x in tile_starts(wp, tile, overlap)]
    st = tile * scale
    weight = np.outer(_ramp(st, overlap * scale), _ramp(st, overlap * scale))[..., None]
    out = acc = None
    batches = range(0, len(boxes), batch_size)
    for b in tqdm(batches, desc="tiles", unit="batch", disable=not progress):
        chunk = boxes[b : b + batch_size]
        result = np.asarray(fn(np.stack([image[y : y + tile, x : x + tile] for y, x in chunk])))
        if result.shape[:3] != (len(chunk), st, st):
            raise ValueError(
                f"fn returned {result.shape} for {len(chunk)} tiles of {tile}x{tile}; expected "
                f"({len(chunk)}, {st}, {st}, C) with scale={scale}"
            )
        if out is None:
            out = np.zeros((hp * scale, wp * scale, result.shape[-1]), np.float64)
            acc = np.zeros((hp * scale, wp * scale, 1), np.float64)
        for (y, x), r in zip(chunk, result, strict=True):
            ys, xs = slice(y * scale, y * scale + st), slice(x * scale, x * scale + st)
            out[ys, xs] += weight * r
            acc[ys, xs] += weight
    return (out / acc)[: h * scale, : w * scale].astype(np.float32)
