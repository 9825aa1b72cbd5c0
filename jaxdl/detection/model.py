"""Faster / Mask R-CNN with a single feature map (no FPN): backbone, RPN, RoIAlign heads.

SPEC: SEG-4 (Ren et al. 2015, arXiv:1506.01497; He et al. 2017, arXiv:1703.06870). Backbones:
`DigitBackbone`, a small conv net of stride 4 for the digit canvases, and `ResNet50C4`, ResNet-50
through its third stage (stride 16, 1024 channels) with frozen BatchNorm, the C4 feature of the
papers' ResNet detectors. Images are NHWC in [-1, 1] (ResNet: ImageNet-normalised); boxes are
image-pixel ``[x1, y1, x2, y2]``. `training_losses` is the whole training forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.detection.anchors import base_anchors, grid_anchors, num_anchors
from jaxdl.detection.losses import fast_rcnn_loss, mask_loss, rpn_loss
from jaxdl.detection.roi_heads import BoxHead, MaskHead, mask_targets, sample_rois
from jaxdl.detection.rpn import RPNHead, propose, rpn_targets
from jaxdl.models.classic import Bottleneck
from jaxdl.nn.norm import BatchNorm
from jaxdl.nn.roi import roi_align

__all__ = [
    "BACKBONES",
    "RCNN",
    "DigitBackbone",
    "ResNet50C4",
    "backbone_stride",
    "training_losses",
]


class DigitBackbone(nn.Module):
    """3x3 conv + ReLU layers; each width after the first starts with a stride-2 conv.
    (N, H, W, C) -> (N, H / 4, W / 4, widths[-1]) for three widths."""

    widths: Sequence[int] = (32, 64, 128)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, w in enumerate(self.widths):
            s = 1 if i == 0 else 2
            x = nn.relu(nn.Conv(w, (3, 3), (s, s), padding=1)(x))
            x = nn.relu(nn.Conv(w, (3, 3), padding=1)(x))
        return x


class ResNet50C4(nn.Module):
    """ResNet-50 stem and stages 1-3 (torchvision layout, `jaxdl.models.classic.Bottleneck`),
    BatchNorm frozen (running statistics, as detectors fine-tune it). Stride 16, 1024 channels."""

    widths: Sequence[int] = (64,)  # the stem width; stages are 4x, 8x, 16x it (bottleneck out)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.widths[0]
        x = nn.Conv(w, (7, 7), (2, 2), [(3, 3), (3, 3)], use_bias=False, name="stem")(x)
        x = nn.relu(BatchNorm(use_running_average=True, name="stem_bn")(x))
        x = nn.max_pool(x, (3, 3), (2, 2), [(1, 1), (1, 1)])
        for i, n_blocks in enumerate((3, 4, 6)):
            for j in range(n_blocks):
                x = Bottleneck(4 * w * 2**i, w * 2**i, 2 if i > 0 and j == 0 else 1)(x, False)
        return x


BACKBONES = {"digits": DigitBackbone, "resnet50": ResNet50C4}


def backbone_stride(backbone: str, widths: Sequence[int]) -> int:
    """The feature stride of a `BACKBONES` entry."""
    return 16 if backbone == "resnet50" else 2 ** (len(widths) - 1)


class RCNN(nn.Module):
    """Faster R-CNN (mask=False) or Mask R-CNN on one feature map; `num_classes` objects
    (the heads add background as class 0). Methods: `features`, `rpn`, `box`, `masks`."""

    num_classes: int
    backbone: str = "digits"
    backbone_widths: Sequence[int] = (32, 64, 128)
    anchor_sizes: Sequence[float] = (16.0, 24.0, 32.0)
    aspect_ratios: Sequence[float] = (1.0, 2.0)
    box_pool: int = 7
    box_hidden: int = 1024
    mask: bool = False
    mask_pool: int = 14
    mask_width: int = 256
    mask_convs: int = 4

    def setup(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {self.backbone!r}")
        self.body = BACKBONES[self.backbone](tuple(self.backbone_widths))
        self.rpn_head = RPNHead(num_anchors(self.anchor_sizes, self.aspect_ratios))
        self.box_head = BoxHead(self.num_classes + 1, self.box_hidden)
        if self.mask:
            self.mask_head = MaskHead(self.num_classes + 1, self.mask_width, self.mask_convs)

    @property
    def stride(self) -> int:
        return backbone_stride(self.backbone, self.backbone_widths)

    def anchors(self, image_size: tuple[int, int]) -> np.ndarray:
        """(H/s · W/s · A, 4) anchors for an image of `image_size`; its sides must be multiples of
        the backbone stride s."""
        s = self.stride
        if image_size[0] % s or image_size[1] % s:
            raise ValueError(
                f"image size {tuple(image_size)}: height and width must be multiples of the "
                f"backbone stride {s}"
            )
        base = base_anchors(self.anchor_sizes, self.aspect_ratios)
        return grid_anchors(base, (image_size[0] // s, image_size[1] // s), tuple(image_size))

    def features(self, images: jax.Array) -> jax.Array:
        if images.ndim != 4:
            raise ValueError(f"images: expected NHWC (N, H, W, C), got shape {images.shape}")
        self.anchors(images.shape[1:3])  # checks the size
        return self.body(images)

    def rpn(self, features: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.rpn_head(features)

    def _pool(self, features, rois, batch_indices, size):
        s = 1.0 / self.stride
        return roi_align(features, rois, size, s, 2, False, "avg", batch_indices)

    def box(self, features, rois, batch_indices):
        """rois (R, 4), batch_indices (R,) -> logits (R, K+1), deltas (R, K+1, 4)."""
        return self.box_head(self._pool(features, rois, batch_indices, self.box_pool))

    def masks(self, features, rois, batch_indices):
        """rois (R, 4) -> mask logits (R, 2·mask_pool, 2·mask_pool, K+1)."""
        return self.mask_head(self._pool(features, rois, batch_indices, self.mask_pool))

    def __call__(self, images: jax.Array):
        """Runs every part once (for `init`)."""
        f = self.features(images)
        out = self.rpn(f)
        rois, bidx = jnp.asarray([[0.0, 0.0, 8.0, 8.0]]), jnp.zeros((1,), jnp.int32)
        out = (*out, *self.box(f, rois, bidx))
        return (*out, self.masks(f, rois, bidx)) if self.mask else out


def training_losses(
    model: RCNN,
    variables: dict,
    batch: dict,
    rng: jax.Array,
    *,
    rpn_batch: int = 256,
    rpn_pre_nms: int = 2000,
    rpn_post_nms: int = 2000,
    roi_batch: int = 512,
) -> dict[str, jax.Array]:
    """The losses of one batch: {"rpn_objectness", "rpn_box", "classifier", "box", ("mask")}.

    batch: image (N, H, W, C), boxes (N, G, 4), labels (N, G) in [0, K), valid (N, G) and, for
    Mask R-CNN, masks (N, G, H, W). RPN: 256 anchors at positive fraction 0.5 (IoU 0.7/0.3);
    proposals: pre/post-NMS top-n at NMS 0.7 (no gradient through them); RoI heads:
    `roi_batch` RoIs at positive fraction 0.25; the mask loss on the positive RoIs.
    """
    images, gt_boxes, gt_labels, gt_valid = (
        batch[k] for k in ("image", "boxes", "labels", "valid")
    )
    n, h, w = images.shape[:3]
    apply = partial(model.apply, variables)
    feats = apply(images, method=RCNN.features)
    objectness, deltas = apply(feats, method=RCNN.rpn)
    anchors = jnp.asarray(model.anchors((h, w)))
    k_rpn, k_roi = jax.random.split(rng)
    labels, sampled, targets = jax.vmap(
        partial(rpn_targets, batch_size=rpn_batch), in_axes=(0, None, 0, 0)
    )(jax.random.split(k_rpn, n), anchors, gt_boxes, gt_valid)
    l_obj, l_rpn_box = rpn_loss(objectness, deltas, labels, sampled, targets)

    props, props_valid = jax.vmap(
        partial(propose, image_size=(h, w), pre_nms_top_n=rpn_pre_nms, post_nms_top_n=rpn_post_nms),
        in_axes=(0, 0, None),
    )(jax.lax.stop_gradient(objectness), jax.lax.stop_gradient(deltas), anchors)
    s = jax.vmap(partial(sample_rois, batch_size=roi_batch))(
        jax.random.split(k_roi, n), props, props_valid, gt_boxes, gt_labels, gt_valid
    )
    r = s["rois"].shape[1]
    bidx = jnp.repeat(jnp.arange(n), r)
    logits, box_deltas = apply(feats, s["rois"].reshape(-1, 4), bidx, method=RCNN.box)
    flat = {k: v.reshape(n * r, *v.shape[2:]) for k, v in s.items()}
    l_cls, l_box = fast_rcnn_loss(
        logits, box_deltas, flat["labels"], flat["targets"], flat["weight"]
    )
    losses = {"rpn_objectness": l_obj, "rpn_box": l_rpn_box, "classifier": l_cls, "box": l_box}
    if model.mask:
        k = r - roi_batch  # the positive slots come first
        pos = {key: v[:, :k] for key, v in s.items()}
        logits = apply(
            feats, pos["rois"].reshape(-1, 4), jnp.repeat(jnp.arange(n), k), method=RCNN.masks
        )
        size = logits.shape[1]
        mt = mask_targets(batch["masks"], pos["rois"], pos["gt_index"], size)
        losses["mask"] = mask_loss(
            logits, pos["labels"].reshape(-1), mt.reshape(-1, size, size), pos["weight"].reshape(-1)
        )
    return losses
