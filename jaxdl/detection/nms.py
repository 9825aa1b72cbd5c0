"""Non-maximum suppression with static shapes (jit-able), and its class-aware batched form.

SPEC: SEG-4 (RPN proposals, Ren et al. 2015; per-class detections, Girshick 2015). Greedy NMS:
repeatedly keep the highest-scoring remaining box and drop every remaining box whose IoU with it
exceeds the threshold. The output has a fixed length `max_output`: indices into the input in
descending score order, padded with -1, and a `valid` mask.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdl.detection.boxes import box_iou

__all__ = ["batched_nms", "nms"]


def nms(
    boxes: jax.Array,
    scores: jax.Array,
    iou_threshold: float,
    max_output: int,
    score_threshold: float | None = None,
) -> tuple[jax.Array, jax.Array]:
    """boxes (N, 4), scores (N,) -> (indices (max_output,) int32 padded with -1, valid (bool)).

    A box is suppressed when its IoU with a kept box is > `iou_threshold`. Boxes with score
    -inf (use it to mask padding) or score <= `score_threshold` are never kept.
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4 or scores.shape != boxes.shape[:1]:
        raise ValueError(
            f"nms expects boxes (N, 4) and scores (N,), got {boxes.shape}, {scores.shape}"
        )
    if max_output < 1:
        raise ValueError(f"max_output must be >= 1, got {max_output}")
    scores = scores.astype(jnp.float32)
    if score_threshold is not None:
        scores = jnp.where(scores > score_threshold, scores, -jnp.inf)

    def body(i, carry):
        remaining, keep = carry
        masked = jnp.where(remaining, scores, -jnp.inf)
        best = jnp.argmax(masked)
        ok = masked[best] > -jnp.inf
        iou = box_iou(boxes[best][None], boxes)[0]
        remaining = remaining & (iou <= iou_threshold) & (jnp.arange(len(scores)) != best)
        remaining = jnp.where(ok, remaining, jnp.zeros_like(remaining))
        return remaining, keep.at[i].set(jnp.where(ok, best, -1).astype(jnp.int32))

    remaining = scores > -jnp.inf
    keep = jnp.full((max_output,), -1, jnp.int32)
    _, keep = jax.lax.fori_loop(0, max_output, body, (remaining, keep))
    return keep, keep >= 0


def batched_nms(
    boxes: jax.Array,
    scores: jax.Array,
    classes: jax.Array,
    iou_threshold: float,
    max_output: int,
    score_threshold: float | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Class-aware NMS: boxes of different `classes` (N,) never suppress each other. Same outputs
    as `nms`. Each class's boxes are shifted by class · (max coordinate + 1), so boxes of two
    classes cannot overlap, then one `nms` runs."""
    if classes.shape != scores.shape:
        raise ValueError(f"classes must be (N,) like scores, got {classes.shape}")
    finite = jnp.isfinite(scores)[:, None]
    span = jnp.max(jnp.where(finite, boxes, 0.0)) - jnp.min(jnp.where(finite, boxes, 0.0)) + 1.0
    shifted = boxes + (classes.astype(boxes.dtype) * span)[:, None]
    return nms(shifted, scores, iou_threshold, max_output, score_threshold)
