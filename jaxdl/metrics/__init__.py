"""Metrics: jit-able functions and streaming states (init / update / merge / compute).

SPEC: SEG-1 (segmentation), RES-5 (image quality), SEQ-5 (classification). See
docs/losses_metrics.md for the reference each is tested against. Generative-model metrics (FID,
Inception Score, classifier scores; SPEC DIF-6) are the subpackage `jaxdl.metrics.generative`,
imported on its own so that this package does not load InceptionV3 or the data sources.
"""

from jaxdl.metrics import streaming
from jaxdl.metrics.classification import (
    accuracy,
    accuracy_from_counts,
    f1_score,
    precision,
    prf_from_counts,
    recall,
    roc_auc,
)
from jaxdl.metrics.confusion import confusion_matrix, multilabel_confusion_matrix
from jaxdl.metrics.hausdorff import hausdorff_distance
from jaxdl.metrics.image_quality import psnr, rgb_to_y
from jaxdl.metrics.segmentation import (
    dice,
    dice_from_counts,
    fw_iou,
    fw_iou_from_counts,
    iou,
    iou_from_counts,
    mean_iou,
    mean_iou_from_counts,
    pixel_accuracy,
    pixel_accuracy_from_counts,
)
from jaxdl.metrics.ssim import MS_SSIM_WEIGHTS, ms_ssim, ssim
from jaxdl.metrics.streaming import ConfusionState, MeanState

__all__ = [
    "MS_SSIM_WEIGHTS",
    "ConfusionState",
    "MeanState",
    "accuracy",
    "accuracy_from_counts",
    "confusion_matrix",
    "dice",
    "dice_from_counts",
    "f1_score",
    "fw_iou",
    "fw_iou_from_counts",
    "hausdorff_distance",
    "iou",
    "iou_from_counts",
    "mean_iou",
    "mean_iou_from_counts",
    "ms_ssim",
    "multilabel_confusion_matrix",
    "pixel_accuracy",
    "pixel_accuracy_from_counts",
    "precision",
    "prf_from_counts",
    "psnr",
    "recall",
    "rgb_to_y",
    "roc_auc",
    "ssim",
    "streaming",
]
