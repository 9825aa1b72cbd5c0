"""Region proposal network (Ren et al. 2015, arXiv:1506.01497). SPEC: SEG-4.

`RPNHead`: a 3x3 conv (padding 1) + ReLU, then 1x1 convs to A objectness logits and 4·A box
deltas per location, flattened in (location, anchor) order to match `jaxdl.detection.anchors`.
`rpn_targets` labels anchors (IoU >= 0.7 or best for a ground-truth box: positive; < 0.3:
negative) and samples 256 at positive fraction 0.5. `propose` turns one image's outputs into a
fixed number of proposals: pre-NMS top-n by objectness, decode, clip, drop tiny boxes, NMS at
0.7, post-NMS top-n.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.detection.boxes import clip_boxes, decode, encode
from jaxdl.detection.nms import nms
from jaxdl.detection.sampling import match, sample

__all__ = ["RPNHead", "propose", "rpn_targets"]


class RPNHead(nn.Module):
    """(N, H, W, C) features -> objectness (N, H·W·A), deltas (N, H·W·A, 4)."""

    num_anchors: int

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        init = nn.initializers.normal(0.01)  # torchvision's RPNHead init
        n, h, w, c = x.shape
        t = nn.relu(nn.Conv(c, (3, 3), padding=1, kernel_init=init, name="conv")(x))
        logits = nn.Conv(self.num_anchors, (1, 1), kernel_init=init, name="cls_logits")(t)
        deltas = nn.Conv(4 * self.num_anchors, (1, 1), kernel_init=init, name="bbox_pred")(t)
        return logits.reshape(n, -1), deltas.reshape(n, -1, 4)


def rpn_targets(
    rng: jax.Array,
    anchors: jax.Array,
    gt_boxes: jax.Array,
    gt_valid: jax.Array,
    *,
    batch_size: int = 256,
    positive_fraction: float = 0.5,
    fg_iou: float = 0.7,
    bg_iou: float = 0.3,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One image -> (objectness labels (M,) in {0, 1}, sampled (M,) bool, box targets (M, 4))."""
    index, pos, neg = match(gt_boxes, gt_valid, anchors, fg_iou, bg_iou, allow_low_quality=True)
    rows, ok = sample(rng, pos, neg, batch_size, positive_fraction)
    sampled = jnp.zeros(anchors.shape[0], bool).at[rows].max(ok)
    targets = jnp.where(pos[:, None], encode(gt_boxes[index], anchors), 0.0)
    return pos.astype(jnp.float32), sampled, targets


def propose(
    objectness: jax.Array,
    deltas: jax.Array,
    anchors: jax.Array,
    image_size: tuple[int, int],
    *,
    pre_nms_top_n: int,
    post_nms_top_n: int,
    nms_threshold: float = 0.7,
    min_size: float = 1e-3,
) -> tuple[jax.Array, jax.Array]:
    """One image's objectness (M,), deltas (M, 4) -> proposals (post_nms_top_n, 4), valid."""
    scores, top = jax.lax.top_k(objectness, min(pre_nms_top_n, objectness.shape[0]))
    boxes = clip_boxes(decode(deltas[top], anchors[top]), *image_size)
    wh = boxes[:, 2:] - boxes[:, :2]
    scores = jnp.where((wh >= min_size).all(-1), scores, -jnp.inf)
    keep, valid = nms(boxes, scores, nms_threshold, post_nms_top_n)
    return boxes[jnp.maximum(keep, 0)], valid
