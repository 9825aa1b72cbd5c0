"""Image / label-map pairs of a TFDS segmentation set, and a joint crop to static shapes.

`TfdsSegmentation` reads two features of a TFDS split (e.g. ADE20K's ``scene_parse150``:
``image`` and ``annotation``) as ``{"image": uint8 (H, W, C), "label": int32 (H, W)}``;
``reduce_zero_label`` maps label 0 ("other") to ``ignore_index`` and k to k - 1 (the ADE20K
benchmark's convention). `CropPair` pads and crops image and label together to a fixed size,
padding labels with ``ignore_index``. SPEC: SEG-5 (int labels (N, H, W), optional ignore_index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jaxdl.data.tfds_source import TfdsImages
from jaxdl.data.validate import RecordSpec


class TfdsSegmentation:
    """Random-access ``{"image", "label"}`` pairs from features ``image_key`` / ``label_key``."""

    def __init__(
        self,
        name: str,
        split: str,
        *,
        image_key: str = "image",
        label_key: str = "annotation",
        data_dir: str | None = None,
        reduce_zero_label: bool = False,
        ignore_index: int = 255,
    ):
        self.images = TfdsImages(name, split, image_key, data_dir)
        self.labels = TfdsImages(name, split, label_key, data_dir)
        self.reduce_zero_label, self.ignore_index = reduce_zero_label, ignore_index
        self.name = f"{name}:{split}"
        self.spec = RecordSpec(image=((None, None, None), np.uint8), label=((None, None), np.int32))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        label = self.labels[index]
        label = (label[..., 0] if label.ndim == 3 else label).astype(np.int32)
        if self.reduce_zero_label:
            label = np.where(label == 0, self.ignore_index, label - 1).astype(np.int32)
        return {"image": self.images[index], "label": label}


@dataclass(frozen=True)
class CropPair:
    """Pad (image 0, label ``ignore_index``) to at least ``size`` x ``size``, then crop both at
    the same place: uniform (``random``) or the centre."""

    size: int
    ignore_index: int = 255
    random: bool = True

    def __call__(self, example: dict, rng: np.random.Generator) -> dict:
        image, label = example["image"], example["label"]
        if image.shape[:2] != label.shape:
            raise ValueError(f"image {image.shape} and label {label.shape} sizes differ")
        h, w = label.shape
        ph, pw = max(self.size - h, 0), max(self.size - w, 0)
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
        label = np.pad(label, ((0, ph), (0, pw)), constant_values=self.ignore_index)
        h, w = label.shape
        if self.random:
            top, left = int(rng.integers(h - self.size + 1)), int(rng.integers(w - self.size + 1))
        else:
            top, left = (h - self.size) // 2, (w - self.size) // 2
        window = (slice(top, top + self.size), slice(left, left + self.size))
        return {**example, "image": image[window], "label": label[window]}
