"""Box arithmetic for two-stage detectors: IoU, the R-CNN delta encoding, clipping.

SPEC: SEG-4 (Girshick et al. 2014 appendix C; Ren et al. 2015, arXiv:1506.01497). Boxes are
(..., 4) ``[x1, y1, x2, y2]`` in pixel-edge coordinates (torchvision's convention: width is
x2 - x1, no +1). Host-side validation of dataset boxes and labels is `jaxdl.data.boxes.check_boxes`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

__all__ = ["BBOX_CLAMP", "box_area", "box_iou", "clip_boxes", "decode", "encode"]

# torchvision's `BoxCoder` bound on dw/dh before exp: a box grows at most 1000/16 times.
BBOX_CLAMP = math.log(1000.0 / 16)


def box_area(boxes: jax.Array) -> jax.Array:
    """(..., 4) -> (...): (x2 - x1) * (y2 - y1)."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_iou(a: jax.Array, b: jax.Array) -> jax.Array:
    """Pairwise IoU, (N, 4) x (M, 4) -> (N, M); 0 where the union is empty."""
    lt = jnp.maximum(a[:, None, :2], b[None, :, :2])
    rb = jnp.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = jnp.clip(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return jnp.where(union > 0, inter / jnp.where(union > 0, union, 1.0), 0.0)


def _centre_size(boxes: jax.Array) -> tuple[jax.Array, ...]:
    w, h = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h, w, h


def encode(
    targets: jax.Array, reference: jax.Array, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)
) -> jax.Array:
    """Regression targets of `targets` relative to `reference` boxes, both (..., 4) -> (..., 4):
    (wx·dx/w, wy·dy/h, ww·log(w'/w), wh·log(h'/h)) with (dx, dy) the centre offset."""
    wx, wy, ww, wh = weights
    cx, cy, w, h = _centre_size(reference)
    tx, ty, tw, th = _centre_size(targets)
    return jnp.stack(
        [wx * (tx - cx) / w, wy * (ty - cy) / h, ww * jnp.log(tw / w), wh * jnp.log(th / h)],
        axis=-1,
    )


def decode(
    deltas: jax.Array,
    reference: jax.Array,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    clamp: float = BBOX_CLAMP,
) -> jax.Array:
    """Inverse of `encode`: deltas (..., 4) applied to reference boxes (..., 4); dw, dh are
    clamped at `clamp` (log(1000/16)) before the exponential, as torchvision's `BoxCoder`."""
    wx, wy, ww, wh = weights
    cx, cy, w, h = _centre_size(reference)
    dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
    dw = jnp.minimum(deltas[..., 2] / ww, clamp)
    dh = jnp.minimum(deltas[..., 3] / wh, clamp)
    px, py = dx * w + cx, dy * h + cy
    pw, ph = jnp.exp(dw) * w, jnp.exp(dh) * h
    return jnp.stack([px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph], axis=-1)


def clip_boxes(boxes: jax.Array, height: int, width: int) -> jax.Array:
    """Clips (..., 4) boxes to the image [0, width] x [0, height]."""
    x = jnp.clip(boxes[..., 0::2], 0, width)
    y = jnp.clip(boxes[..., 1::2], 0, height)
    return jnp.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1)
