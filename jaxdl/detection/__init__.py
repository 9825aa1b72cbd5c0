"""Two-stage detectors (Faster / Mask R-CNN) as pure pieces: anchors, boxes, NMS, RPN, RoI heads,
losses, post-processing and COCO-style evaluation. SPEC: SEG-4."""

from jaxdl.detection.anchors import base_anchors, grid_anchors, num_anchors
from jaxdl.detection.boxes import BBOX_CLAMP, box_area, box_iou, clip_boxes, decode, encode
from jaxdl.detection.nms import batched_nms, nms

__all__ = [
    "BBOX_CLAMP",
    "base_anchors",
    "batched_nms",
    "box_area",
    "box_iou",
    "clip_boxes",
    "decode",
    "encode",
    "grid_anchors",
    "nms",
    "num_anchors",
]
