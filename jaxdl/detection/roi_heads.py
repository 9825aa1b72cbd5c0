"""Fast R-CNN box head and Mask R-CNN mask head on RoIAlign features, and their training samples.

SPEC: SEG-4 (Girshick 2015, arXiv:1504.08083; He et al. 2017, arXiv:1703.06870). Class 0 is
background, so a head for K object classes has K + 1 outputs. `sample_rois` appends the ground
truth to the proposals (as torchvision), labels IoU >= 0.5 foreground (its box's class) and
< 0.5 background, and samples `batch_size` RoIs at positive fraction 0.25; box targets use the
weights (10, 10, 5, 5). `mask_targets` RoIAligns each positive's ground-truth mask onto its RoI
(28x28, soft targets as torchvision's `project_masks_on_boxes`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.detection.boxes import encode
from jaxdl.detection.sampling import match, sample
from jaxdl.nn.roi import roi_align

__all__ = ["BOX_WEIGHTS", "BoxHead", "MaskHead", "mask_targets", "sample_rois"]

BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


class BoxHead(nn.Module):
    """RoI features (R, h, w, C) -> class logits (R, K+1), per-class deltas (R, K+1, 4).

    Two fully connected layers of `hidden` units with ReLU (torchvision's TwoMLPHead), then the
    class and box predictors."""

    num_classes: int  # K + 1, background included
    hidden: int = 1024

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.hidden, name="fc6")(x))
        x = nn.relu(nn.Dense(self.hidden, name="fc7")(x))
        logits = nn.Dense(self.num_classes, kernel_init=nn.initializers.normal(0.01))(x)
        deltas = nn.Dense(4 * self.num_classes, kernel_init=nn.initializers.normal(0.001))(x)
        return logits, deltas.reshape(x.shape[0], self.num_classes, 4)


class MaskHead(nn.Module):
    """RoI features (R, 14, 14, C) -> mask logits (R, 28, 28, K+1): `num_convs` 3x3 convs of
    `width` channels with ReLU, a 2x2 stride-2 transposed conv + ReLU, a 1x1 conv per class.

    The transposed conv's windows do not overlap, so it is computed as a 1x1 conv to 4·width
    channels and a depth-to-space (the same function; XLA's CPU transposed conv was ~60x slower
    in its gradient at these sizes)."""

    num_classes: int
    width: int = 256
    num_convs: int = 4

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i in range(self.num_convs):
            x = nn.relu(nn.Conv(self.width, (3, 3), padding=1, name=f"mask_fcn{i + 1}")(x))
        r, h, w, _ = x.shape
        x = nn.Conv(4 * self.width, (1, 1), name="conv5_mask")(x).reshape(r, h, w, 2, 2, -1)
        x = nn.relu(x.transpose(0, 1, 3, 2, 4, 5).reshape(r, 2 * h, 2 * w, self.width))
        return nn.Conv(self.num_classes, (1, 1), name="mask_logits")(x)


def sample_rois(
    rng: jax.Array,
    proposals: jax.Array,
    proposal_valid: jax.Array,
    gt_boxes: jax.Array,
    gt_labels: jax.Array,
    gt_valid: jax.Array,
    *,
    batch_size: int = 512,
    positive_fraction: float = 0.25,
    fg_iou: float = 0.5,
    bg_iou: float = 0.5,
) -> dict[str, jax.Array]:
    """One image -> RoIs for the heads, k = int(batch_size · positive_fraction) positive slots
    first, then batch_size negative slots: ``rois`` (k + batch_size, 4), ``labels`` (0 =
    background, else gt label + 1), ``targets`` (deltas to the matched box, BOX_WEIGHTS),
    ``weight`` (1 for sampled rows), ``gt_index`` (the matched ground-truth row)."""
    boxes = jnp.concatenate([proposals, gt_boxes])
    valid = jnp.concatenate([proposal_valid, gt_valid])
    index, pos, neg = match(gt_boxes, gt_valid, boxes, fg_iou, bg_iou)
    rows, ok = sample(rng, pos & valid, neg & valid, batch_size, positive_fraction)
    rois, gt_index = boxes[rows], index[rows]
    positive = pos[rows] & ok
    labels = jnp.where(positive, gt_labels[gt_index] + 1, 0)
    targets = jnp.where(positive[:, None], encode(gt_boxes[gt_index], rois, BOX_WEIGHTS), 0.0)
    return {
        "rois": rois,
        "labels": labels,
        "targets": targets,
        "weight": ok.astype(jnp.float32),
        "gt_index": gt_index,
    }


def mask_targets(
    gt_masks: jax.Array, rois: jax.Array, gt_index: jax.Array, size: int = 28
) -> jax.Array:
    """gt_masks (N, G, H, W), rois (N, R, 4), gt_index (N, R) -> (N, R, size, size) in [0, 1]."""
    n, g, h, w = gt_masks.shape
    r = rois.shape[1]
    flat = gt_masks.reshape(n * g, h, w, 1).astype(jnp.float32)
    bidx = (jnp.arange(n)[:, None] * g + gt_index).reshape(-1)
    out = roi_align(flat, rois.reshape(-1, 4), size, 1.0, 2, False, "avg", bidx)
    return out.reshape(n, r, size, size)
