"""Losses as pure functions with `reduction="mean"|"sum"|"none"` and optional weights/masks.

SPEC: BAS-2 (basic losses), SEG-1/SEG-3 (overlap, focal, MS-SSIM), RES-5 (SSIM), SEQ-5
(multi-label), SEQ-4/SEQ-10 (distillation, scalar batch means; docs/sequence_models.md). See
docs/losses_metrics.md for references and tolerances.
"""

from jaxdl.losses._reduce import reduce_loss
from jaxdl.losses.binary import binary_cross_entropy, hinge, sigmoid_bce, sigmoid_focal_loss
from jaxdl.losses.classification import log_softmax, nll, softmax_ce
from jaxdl.losses.distillation import (
    attention_score_loss,
    hinton_kd_loss,
    layer_map,
    prediction_loss,
    projected_mse,
    soft_target_kl,
    tinybert_layer_loss,
)
from jaxdl.losses.information import cross_entropy, entropy, kl
from jaxdl.losses.multilabel import soft_f1_floor_loss, soft_f1_loss, zlpr_loss
from jaxdl.losses.regression import huber, mae, mse
from jaxdl.losses.segmentation import dice_loss, iou_loss
from jaxdl.losses.ssim import ms_ssim_loss, ssim_loss

__all__ = [
    "attention_score_loss",
    "hinton_kd_loss",
    "layer_map",
    "prediction_loss",
    "projected_mse",
    "soft_target_kl",
    "tinybert_layer_loss",
    "binary_cross_entropy",
    "cross_entropy",
    "dice_loss",
    "entropy",
    "hinge",
    "huber",
    "iou_loss",
    "kl",
    "log_softmax",
    "mae",
    "ms_ssim_loss",
    "mse",
    "nll",
    "reduce_loss",
    "sigmoid_bce",
    "sigmoid_focal_loss",
    "soft_f1_floor_loss",
    "soft_f1_loss",
    "softmax_ce",
    "ssim_loss",
    "zlpr_loss",
]
