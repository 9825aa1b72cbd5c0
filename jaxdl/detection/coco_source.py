"""TFDS COCO detection records at a fixed size, for the full presets (SPEC: SEG-4).

Each image is resized (bilinear) so its longer side is `image_size`'s, then zero-padded at the
bottom/right to `image_size`; boxes scale with it. Records: ``image`` (H, W, 3) uint8, ``boxes``
(max_boxes, 4) pixel ``[x1, y1, x2, y2]``, ``labels`` (max_boxes,) in [0, 80), ``valid``,
``iscrowd`` (max_boxes,) bool. Training images drop crowd boxes (torchvision's reference); the
validation split keeps them for the evaluation to ignore. Needs `tensorflow_datasets` and the
prepared dataset (`tfds build coco/2017 --file_format=array_record`).
"""

from __future__ import annotations

import numpy as np

from jaxdl.data.boxes import pad_boxes
from jaxdl.data.transforms import Resize
from jaxdl.data.validate import RecordSpec

__all__ = ["CocoDetection", "coco_detection", "num_classes"]

NUM_CLASSES = {"digit_detection": 10, "tfds:coco/2017": 80, "tfds:coco/2014": 80}


def num_classes(dataset: str) -> int:
    if dataset not in NUM_CLASSES:
        raise ValueError(f"dataset must be one of {sorted(NUM_CLASSES)}, got {dataset!r}")
    return NUM_CLASSES[dataset]


class CocoDetection:
    """Random-access fixed-size view of a TFDS COCO split (fields in the module docstring)."""

    def __init__(self, ds, image_size: tuple[int, int], max_boxes: int, keep_crowd: bool):
        self._ds, self.size, self.max_boxes = ds, tuple(image_size), max_boxes
        self.keep_crowd = keep_crowd
        h, w = self.size
        self.spec = RecordSpec(
            image=((h, w, 3), np.uint8),
            boxes=((max_boxes, 4), np.float32),
            labels=((max_boxes,), np.int32),
            valid=((max_boxes,), np.bool_),
            iscrowd=((max_boxes,), np.bool_),
        )

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        r = self._ds[index]
        image = np.asarray(r["image"])
        h0, w0 = image.shape[:2]
        scale = min(self.size[0] / h0, self.size[1] / w0)
        h1, w1 = max(1, round(h0 * scale)), max(1, round(w0 * scale))
        out = np.zeros((*self.size, 3), np.uint8)
        out[:h1, :w1] = Resize((h1, w1))({"image": image}, None)["image"]
        obj = r["objects"]
        y1, x1, y2, x2 = np.asarray(obj["bbox"], np.float32).reshape(-1, 4).T
        boxes = np.stack([x1 * w1, y1 * h1, x2 * w1, y2 * h1], 1)
        crowd = np.asarray(obj["is_crowd"], bool).reshape(-1)
        labels = np.asarray(obj["label"], np.int64).reshape(-1)
        keep = np.ones(len(crowd), bool) if self.keep_crowd else ~crowd
        boxes, labels, crowd = boxes[keep][: self.max_boxes], labels[keep], crowd[keep]
        labels, crowd = labels[: self.max_boxes], crowd[: self.max_boxes]
        padded = pad_boxes(boxes, labels, self.max_boxes, 80)
        iscrowd = np.zeros(self.max_boxes, bool)
        iscrowd[: len(crowd)] = crowd
        return {"image": out, **padded, "iscrowd": iscrowd}


def coco_detection(
    name: str, split: str, data_dir: str, image_size: tuple[int, int], max_boxes: int
) -> CocoDetection:
    """The TFDS `name` split as `CocoDetection` (crowd boxes kept except in "train")."""
    import tensorflow_datasets as tfds

    from jaxdl.data.tfds_source import DatasetNotFoundError, _not_found_message

    try:
        ds = tfds.data_source(name, split=split, data_dir=data_dir or None, download=False)
    except Exception as e:  # re-raised as is unless the data is simply missing
        try:  # a builder that is not prepared may need TensorFlow just to be constructed
            prepared = tfds.builder(name, data_dir=data_dir or None).is_prepared()
        except Exception:
            prepared = False
        if prepared:
            raise
        where = data_dir or "the TFDS data dir ($TFDS_DATA_DIR or ~/tensorflow_datasets)"
        raise DatasetNotFoundError(_not_found_message(name, where, False)) from e
    return CocoDetection(ds, image_size, max_boxes, keep_crowd=split != "train")
