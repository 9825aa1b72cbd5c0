"""Inference: proposals -> per-class boxes -> class-aware NMS -> fixed-size detections; masks
pasted into the image. SPEC: SEG-4 (torchvision's `RoIHeads.postprocess_detections`)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxdl.detection.boxes import clip_boxes, decode
from jaxdl.detection.model import RCNN
from jaxdl.detection.nms import batched_nms
from jaxdl.detection.roi_heads import BOX_WEIGHTS
from jaxdl.detection.rpn import propose

__all__ = ["detect", "paste_masks"]


def _select(boxes, probs, valid, score_threshold, nms_threshold, max_detections, min_size):
    """One image: boxes (P, K+1, 4), probs (P, K+1) -> detections of the K object classes."""
    p, k1 = probs.shape
    boxes, probs = boxes[:, 1:].reshape(-1, 4), probs[:, 1:].reshape(-1)
    classes = jnp.tile(jnp.arange(k1 - 1), p)
    wh = boxes[:, 2:] - boxes[:, :2]
    ok = jnp.repeat(valid, k1 - 1) & (probs > score_threshold) & (wh >= min_size).all(-1)
    scores = jnp.where(ok, probs, -jnp.inf)
    keep, kept = batched_nms(boxes, scores, classes, nms_threshold, max_detections)
    i = jnp.maximum(keep, 0)
    return {
        "boxes": jnp.where(kept[:, None], boxes[i], 0.0),
        "scores": jnp.where(kept, probs[i], 0.0),
        "labels": jnp.where(kept, classes[i], 0),
        "valid": kept,
    }


def detect(
    model: RCNN,
    variables: dict,
    images: jax.Array,
    *,
    rpn_pre_nms: int = 1000,
    rpn_post_nms: int = 1000,
    score_threshold: float = 0.05,
    nms_threshold: float = 0.5,
    max_detections: int = 100,
    min_size: float = 1e-2,
) -> dict[str, jax.Array]:
    """images (N, H, W, C) -> {"boxes" (N, D, 4), "scores" (N, D), "labels" (N, D) in [0, K),
    "valid" (N, D)} with D = max_detections, in descending score order; Mask R-CNN adds
    "masks" (N, D, 28, 28) probabilities of each detection's class in its box."""
    n, h, w = images.shape[:3]
    apply = partial(model.apply, variables)
    feats = apply(images, method=RCNN.features)
    objectness, deltas = apply(feats, method=RCNN.rpn)
    props, props_valid = jax.vmap(
        partial(propose, image_size=(h, w), pre_nms_top_n=rpn_pre_nms, post_nms_top_n=rpn_post_nms),
        in_axes=(0, 0, None),
    )(objectness, deltas, jnp.asarray(model.anchors((h, w))))
    p = props.shape[1]
    logits, box_deltas = apply(
        feats, props.reshape(-1, 4), jnp.repeat(jnp.arange(n), p), method=RCNN.box
    )
    k1 = logits.shape[-1]
    boxes = decode(box_deltas, props.reshape(-1, 1, 4), BOX_WEIGHTS)
    boxes = clip_boxes(boxes, h, w).reshape(n, p, k1, 4)
    probs = jax.nn.softmax(logits).reshape(n, p, k1)
    select = partial(
        _select,
        score_threshold=score_threshold,
        nms_threshold=nms_threshold,
        max_detections=max_detections,
        min_size=min_size,
    )
    out = jax.vmap(select)(boxes, probs, props_valid)
    if model.mask:
        d = out["boxes"].shape[1]
        m = apply(
            feats, out["boxes"].reshape(-1, 4), jnp.repeat(jnp.arange(n), d), method=RCNN.masks
        )
        own = jnp.take_along_axis(m, (out["labels"].reshape(-1) + 1)[:, None, None, None], -1)
        out["masks"] = jax.nn.sigmoid(own[..., 0]).reshape(n, d, *m.shape[1:3])
    return out


def paste_masks(masks: jax.Array, boxes: jax.Array, height: int, width: int) -> jax.Array:
    """masks (D, M, M) in box coordinates, boxes (D, 4) -> (D, height, width) probabilities.

    Each pixel centre inside its box samples the M x M mask bilinearly (cell centres at
    (i + 0.5)·box/M, clamped at the mask's edge); pixels outside the box are 0.
    """
    m = masks.shape[-1]

    def weights(lo, hi, n):
        centre = jnp.arange(n) + 0.5
        u = jnp.clip((centre - lo) / jnp.maximum(hi - lo, 1e-6) * m - 0.5, 0, m - 1)
        low = jnp.floor(u).astype(jnp.int32)
        high = jnp.minimum(low + 1, m - 1)
        frac = u - low
        cols = jnp.arange(m)
        wts = (cols == low[:, None]) * (1 - frac)[:, None] + (cols == high[:, None]) * frac[:, None]
        return wts * ((centre >= lo) & (centre < hi))[:, None]  # (n, M)

    def one(mask, box):
        wy, wx = weights(box[1], box[3], height), weights(box[0], box[2], width)
        return jnp.einsum("hi,ij,wj->hw", wy, mask, wx, precision=jax.lax.Precision.HIGHEST)

    return jax.vmap(one)(masks, boxes)
