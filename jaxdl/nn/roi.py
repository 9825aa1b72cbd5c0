"""RoI pooling (Fast R-CNN) and RoIAlign (Mask R-CNN) on NHWC feature maps.

SPEC: SEG-4 (Girshick 2015, arXiv:1504.08083; He et al. 2017, arXiv:1703.06870). Boxes are
[x1, y1, x2, y2] in input-image coordinates, given as (K, 4) with `batch_indices` (K,) or
torchvision-style (K, 5) rows [b, x1, y1, x2, y2]. Output (K, out_h, out_w, C).
"""

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["roi_align", "roi_pool"]


def _split_boxes(
    features: jax.Array, boxes: jax.Array, batch_indices: jax.Array | None
) -> tuple[jax.Array, jax.Array]:
    if features.ndim != 4:
        raise ValueError(f"expects NHWC features (N, H, W, C), got shape {features.shape}")
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(
            f"boxes must be (K, 4) [x1,y1,x2,y2] or (K, 5) [b,x1,y1,x2,y2], got shape {boxes.shape}"
        )
    if boxes.shape[1] == 5:
        if batch_indices is not None:
            raise ValueError("give batch indices either as boxes[:, 0] or batch_indices, not both")
        return boxes[:, 0].astype(jnp.int32), boxes[:, 1:]
    if batch_indices is None:
        batch_indices = jnp.zeros((boxes.shape[0],), jnp.int32)
    return jnp.asarray(batch_indices, jnp.int32), boxes


def _size(output_size: int | Sequence[int]) -> tuple[int, int]:
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    return int(oh), int(ow)


def roi_pool(
    features: jax.Array,
    boxes: jax.Array,
    output_size: int | Sequence[int],
    spatial_scale: float = 1.0,
    batch_indices: jax.Array | None = None,
) -> jax.Array:
    """Quantized max RoI pooling, as the SEG-4 worked example.

    The half-open box is scaled and floored; h = y2 - y1, w = x2 - x1 (at least 1); bin i spans
    rows [y1 + ⌊i·h/out_h⌋, y1 + ⌊(i+1)·h/out_h⌋), clipped to the map. Empty bins give 0.
    Unlike torchvision (rounded, inclusive corners), this follows the SEG-4 convention.
    """
    bidx, boxes = _split_boxes(features, boxes, batch_indices)
    return _roi_pool(features, boxes, bidx, _size(output_size), float(spatial_scale))


@partial(jax.jit, static_argnums=(3, 4))
def _roi_pool(features, boxes, bidx, output_size, spatial_scale):
    (oh, ow), (_, h_map, w_map, _) = output_size, features.shape
    q = jnp.floor(boxes.astype(jnp.float32) * spatial_scale).astype(jnp.int32)
    neg = jnp.asarray(-jnp.inf, features.dtype)

    def masks(lo, hi, n_bins, n):
        length = jnp.maximum(hi - lo, 1)
        i = jnp.arange(n_bins + 1)
        edges = lo + (i * length) // n_bins  # (n_bins + 1,)
        pos = jnp.arange(n)
        return (pos[None, :] >= edges[:-1, None]) & (pos[None, :] < edges[1:, None])

    def one(b, box):
        f = features[b]  # (H, W, C)
        mh = masks(box[1], box[3], oh, h_map)  # (oh, H)
        mw = masks(box[0], box[2], ow, w_map)  # (ow, W)
        cols = jnp.max(jnp.where(mw[:, None, :, None], f[None], neg), axis=2)  # (ow, H, C)
        out = jnp.max(jnp.where(mh[:, None, :, None], cols[None], neg), axis=2)  # (oh, ow, C)
        return jnp.where(jnp.isneginf(out), jnp.zeros((), features.dtype), out)

    return jax.vmap(one)(bidx, q)


def _interp_matrix(coords: jax.Array, n: int) -> jax.Array:
    """torchvision `bilinear_interpolate` along one axis as a (len(coords), n) weight matrix."""
    valid = (coords >= -1.0) & (coords <= n)
    c = jnp.maximum(coords, 0.0)
    low = jnp.floor(c).astype(jnp.int32)
    at_end = low >= n - 1
    low = jnp.where(at_end, n - 1, low)
    high = jnp.where(at_end, n - 1, low + 1)
    c = jnp.where(at_end, low.astype(c.dtype), c)
    frac = c - low
    pos = jnp.arange(n)
    w = (pos == low[:, None]) * (1 - frac)[:, None] + (pos == high[:, None]) * frac[:, None]
    return w * valid[:, None]


def roi_align(
    features: jax.Array,
    boxes: jax.Array,
    output_size: int | Sequence[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 2,
    aligned: bool = False,
    reduce: str = "max",
    batch_indices: jax.Array | None = None,
) -> jax.Array:
    """RoIAlign: no rounding; sampling_ratio² bilinear samples per bin (SPEC SEG-4).

    reduce="max" (SEG-4 default: max of the 4 samples) or "avg"/"mean" (torchvision `roi_align`).
    aligned=True shifts box corners by -0.5 px (pixel-centre model); aligned=False clamps box
    sizes to >= 1 as torchvision does. Sample points follow torchvision's `bilinear_interpolate`
    (out-of-map samples count as 0). sampling_ratio must be a positive int (static shapes;
    torchvision's adaptive -1 is not supported).
    """
    if reduce not in ("max", "avg", "mean"):
        raise ValueError(f"reduce must be 'max', 'avg' or 'mean', got {reduce!r}")
    if not isinstance(sampling_ratio, int) or sampling_ratio < 1:
        raise ValueError(f"sampling_ratio must be a positive int, got {sampling_ratio!r}")
    bidx, boxes = _split_boxes(features, boxes, batch_indices)
    args = (_size(output_size), float(spatial_scale), sampling_ratio, bool(aligned), reduce)
    return _roi_align(features, boxes, bidx, *args)


@partial(jax.jit, static_argnums=(3, 4, 5, 6, 7))
def _roi_align(features, boxes, bidx, output_size, spatial_scale, g, aligned, reduce):
    (oh, ow) = output_size
    _, h_map, w_map, c = features.shape
    dtype = jnp.promote_types(features.dtype, jnp.float32)
    offset = 0.5 if aligned else 0.0

    def coords(lo, hi, n_bins):
        start, length = lo * spatial_scale - offset, (hi - lo) * spatial_scale
        length = length if aligned else jnp.maximum(length, 1.0)
        bin_size = length / n_bins
        grid = (jnp.arange(n_bins)[:, None] + (jnp.arange(g)[None, :] + 0.5) / g) * bin_size
        return (start + grid).reshape(-1)  # (n_bins * g,)

    def one(b, box):
        box = box.astype(dtype)
        wy = _interp_matrix(coords(box[1], box[3], oh), h_map)  # (oh*g, H)
        wx = _interp_matrix(coords(box[0], box[2], ow), w_map)  # (ow*g, W)
        s = jnp.einsum(
            "ah,bw,hwc->abc", wy, wx, features[b].astype(dtype), precision=lax.Precision.HIGHEST
        )
        s = s.reshape(oh, g, ow, g, c)
        return s.max(axis=(1, 3)) if reduce == "max" else s.mean(axis=(1, 3))

    return jax.vmap(one)(bidx, boxes).astype(features.dtype)
