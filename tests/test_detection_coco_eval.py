"""COCO-style AP (SPEC SEG-4) against pycocotools' COCOeval fed from in-memory dicts."""

import contextlib
import io

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from jaxdl.detection.coco_eval import average_precision

H, W = 40, 60


def _xywh(b):
    return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]


def _rle(m):
    return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))


def _mask(rng, box):
    m = np.zeros((H, W), bool)
    x1, y1, x2, y2 = np.round(box).astype(int)
    m[y1:y2, x1:x2] = rng.uniform(size=(y2 - y1, x2 - x1)) < 0.97
    return m


def _scene(seed, n_images=12, n_classes=3):
    """Random ground truth (some crowd) and detections: jittered copies, misclassified and
    duplicate boxes, false positives; scores random."""
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for _ in range(n_images):
        n = int(rng.integers(0, 6))
        xy = rng.uniform(0, [W - 12, H - 12], (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(4, 12, (n, 2))], 1)
        labels = rng.integers(0, n_classes, n)
        crowd = rng.uniform(size=n) < 0.15
        gts.append(
            {
                "boxes": boxes,
                "labels": labels,
                "iscrowd": crowd,
                "masks": np.stack([_mask(rng, b) for b in boxes])
                if n
                else np.zeros((0, H, W), bool),
            }
        )
        keep = rng.uniform(size=n) < 0.85
        d_boxes = [boxes[keep] + rng.normal(0, 1.2, (keep.sum(), 4))]
        d_labels = [
            np.where(
                rng.uniform(size=keep.sum()) < 0.85,
                labels[keep],
                rng.integers(0, n_classes, keep.sum()),
            )
        ]
        k = int(rng.integers(0, 4))
        fxy = rng.uniform(0, [W - 12, H - 12], (k, 2))
        d_boxes.append(np.concatenate([fxy, fxy + rng.uniform(3, 12, (k, 2))], 1))
        d_labels.append(rng.integers(0, n_classes, k))
        d_boxes = np.clip(np.concatenate(d_boxes), 0, [W, H, W, H])
        d_boxes[:, 2:] = np.maximum(d_boxes[:, 2:], d_boxes[:, :2] + 1)
        dets.append(
            {
                "boxes": d_boxes,
                "labels": np.concatenate(d_labels),
                "scores": rng.uniform(size=len(d_boxes)),
                "masks": np.stack([_mask(rng, b) for b in d_boxes])
                if len(d_boxes)
                else np.zeros((0, H, W), bool),
            }
        )
    return gts, dets


def coco_reference(gts, dets, iou_type, n_classes=3):
    anns, results, ann_id = [], [], 1
    for i, g in enumerate(gts):
        for b, c, crowd, m in zip(g["boxes"], g["labels"], g["iscrowd"], g["masks"], strict=True):
            ann = {
                "id": ann_id,
                "image_id": i + 1,
                "category_id": int(c) + 1,
                "iscrowd": int(crowd),
                "bbox": _xywh(b),
            }
            ann["area"] = (
                float(mask_utils.area(_rle(m)))
                if iou_type == "segm"
                else ann["bbox"][2] * ann["bbox"][3]
            )
            if iou_type == "segm":
                ann["segmentation"] = _rle(m)
            anns.append(ann)
            ann_id += 1
        for b, c, s, m in zip(
            dets[i]["boxes"], dets[i]["labels"], dets[i]["scores"], dets[i]["masks"], strict=True
        ):
            r = {"image_id": i + 1, "category_id": int(c) + 1, "score": float(s)}
            r.update({"segmentation": _rle(m)} if iou_type == "segm" else {"bbox": _xywh(b)})
            results.append(r)
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i + 1, "height": H, "width": W} for i in range(len(gts))],
        "annotations": anns,
        "categories": [{"id": c + 1} for c in range(n_classes)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        e = COCOeval(coco, coco.loadRes(results), iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e.stats[:3]


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", [0, 1])
def test_average_precision_matches_pycocotools(seed, iou_type):
    gts, dets = _scene(seed)
    ref = coco_reference(gts, dets, iou_type)
    got = average_precision(gts, dets, iou_type)
    mine = np.array([got["AP"], got["AP50"], got["AP75"]])
    assert 0.05 < ref[0] < 0.95  # a non-trivial case
    np.testing.assert_allclose(mine, ref, atol=1e-12)


def test_perfect_and_handmade_detections():
    gt = {"boxes": np.array([[0.0, 0, 10, 10], [20, 20, 30, 40]]), "labels": np.array([0, 1])}
    perfect = {**gt, "scores": np.array([0.9, 0.8])}
    r = average_precision([gt], [perfect])
    assert r["AP"] == pytest.approx(1.0) and r["AP50"] == r["AP75"] == pytest.approx(1.0)
    # class 0 found at IoU 0.81 (above a false positive of higher score); class 1 missed
    dt = {
        "boxes": np.array([[1.0, 0, 10, 10], [40, 40, 50, 50]]),
        "labels": np.array([0, 0]),
        "scores": np.array([0.5, 0.9]),
    }
    r = average_precision([gt], [dt])
    no_masks = {"masks": np.zeros((2, H, W), bool)}
    ref = coco_reference(
        [{**gt, **no_masks, "iscrowd": np.zeros(2, bool)}], [{**dt, **no_masks}], "bbox", 2
    )
    np.testing.assert_allclose([r["AP"], r["AP50"], r["AP75"]], ref, atol=1e-12)
    assert r["per_class_AP"][1] == 0.0 and r["AP50"] == pytest.approx(0.5 * 0.5, abs=0.01)
    with pytest.raises(ValueError, match="iou_type must be"):
        average_precision([gt], [dt], "keypoints")
    with pytest.raises(ValueError, match="one entry per image"):
        average_precision([gt], [])
