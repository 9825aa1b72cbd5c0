"""Digit scenes: canvases of non-overlapping real MNIST digits with segmentation and box labels.

The embedded stand-in for a labelled segmentation / detection set, in the spirit of M2NIST and
multi-digit MNIST. Each record places 1..`max_digits` MNIST-5k digits on a black canvas at
non-overlapping positions (the placed patches do not overlap, so neither do the digits) and
labels them:

- ``image`` (H, W, 1) uint8: the canvas (patches pasted with a pixel-wise max).
- ``segmentation`` (H, W) int32 in [0, 11): 0 background, ``1 + d`` for a pixel of digit ``d``.
  A pixel is ink when its digit's grey value is >= `INK_THRESHOLD` (128 of 255, half intensity);
  the fainter anti-aliased rim is background.
- ``masks`` (max_boxes, H, W) bool: one instance mask per digit (its ink pixels).
- ``boxes`` (max_boxes, 4) float32: tight box of each mask, ``(x1, y1, x2, y2)`` pixel-edge
  coordinates (`jaxdl.data.boxes`); ``labels`` (max_boxes,) int32 digit class in [0, 10);
  ``valid`` (max_boxes,) bool marks the real rows (padding rows are zero), so batches have
  static shapes.

Train canvases draw only from MNIST-5k's train digits (4,000) and test canvases only from its
test digits (1,000): the split is made on the 5,000 digits first, so no test digit is seen in
training. Record ``i`` is built on access from ``np.random.default_rng([seed, i])``:
deterministic, and ``size`` costs nothing. `digit_scenes` is the segmentation variant (digits at
their native 28x28); `digit_detection` rescales each digit (its ink crop's longer side 14-28 px)
and places 1-4. SPEC: SEG-5 (segmentation data), SEG-4 (detection data).
"""

from __future__ import annotations

import numpy as np

from jaxdl.data.boxes import pad_boxes
from jaxdl.data.sources import ArraySource, mnist5k
from jaxdl.data.transforms import Resize
from jaxdl.data.validate import RecordSpec

INK_THRESHOLD = 128
NUM_DIGITS = 10
NUM_CLASSES = NUM_DIGITS + 1  # segmentation classes: background + 10 digits
_PLACEMENT_TRIES = 50
_DEFAULT_SIZE = {"train": 10_000, "test": 1_000}


class DigitScenes:
    """Random-access source of digit canvases (fields in the module docstring).

    `digits`: single-channel 28x28 digits with labels 0..9 (one split of MNIST-5k). `digit_size`:
    ``None`` pastes each 28x28 digit as is; ``(lo, hi)`` crops the digit to its nonzero pixels
    and rescales (bilinear) so the crop's longer side is uniform in [lo, hi] px. Each canvas has
    a uniform number of digits in [min_digits, max_digits]; a digit that finds no free place in
    50 tries is left out (never the first). ``max_boxes`` (default ``max_digits``) rows of
    box fields.
    """

    def __init__(
        self,
        digits: ArraySource,
        size: int,
        *,
        height: int = 64,
        width: int = 84,
        min_digits: int = 1,
        max_digits: int = 3,
        digit_size: tuple[int, int] | None = None,
        max_boxes: int | None = None,
        seed: int = 0,
    ):
        if digits.images.shape[-1] != 1 or digits.num_classes != NUM_DIGITS:
            raise ValueError(
                f"DigitScenes needs single-channel digits with 10 classes, got images "
                f"{digits.images.shape} with {digits.num_classes} classes"
            )
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        if not 1 <= min_digits <= max_digits:
            raise ValueError(f"need 1 <= min_digits <= max_digits, got {min_digits}, {max_digits}")
        max_boxes = max_digits if max_boxes is None else max_boxes
        if max_boxes < max_digits:
            raise ValueError(f"max_boxes must be >= max_digits={max_digits}, got {max_boxes}")
        side = digits.images.shape[1] if digit_size is None else digit_size[1]
        if digit_size is not None and not 1 <= digit_size[0] <= digit_size[1]:
            raise ValueError(f"digit_size must be (lo, hi) with 1 <= lo <= hi, got {digit_size}")
        if height < side or width < side:
            raise ValueError(f"canvas {height}x{width} is smaller than a {side} px digit")
        self.digits, self.size, self.seed = digits, size, seed
        self.height, self.width = height, width
        self.min_digits, self.max_digits = min_digits, max_digits
        self.digit_size, self.max_boxes = digit_size, max_boxes
        self.num_classes = NUM_CLASSES
        self.name = f"digit_scenes:{digits.name}"
        hw = (height, width)
        self.spec = RecordSpec(
            image=((*hw, 1), np.uint8),
            segmentation=(hw, np.int32),
            masks=((max_boxes, *hw), np.bool_),
            boxes=((max_boxes, 4), np.float32),
            labels=((max_boxes,), np.int32),
            valid=((max_boxes,), np.bool_),
        )

    def __len__(self) -> int:
        return self.size

    def _digit(self, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        k = int(rng.integers(len(self.digits)))
        patch, label = self.digits.images[k, ..., 0], int(self.digits.labels[k])
        if self.digit_size is None:
            return patch, label
        rows, cols = np.flatnonzero(patch.any(1)), np.flatnonzero(patch.any(0))
        crop = patch[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        longer = int(rng.integers(self.digit_size[0], self.digit_size[1] + 1))
        h, w = crop.shape
        scale = longer / max(h, w)
        out = (max(1, round(h * scale)), max(1, round(w * scale)))
        return Resize(out)({"image": crop[..., None]}, rng)["image"][..., 0], label

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} outside [0, {self.size})")
        rng = np.random.default_rng([self.seed, index])
        n = int(rng.integers(self.min_digits, self.max_digits + 1))
        image = np.zeros((self.height, self.width), np.uint8)
        segmentation = np.zeros((self.height, self.width), np.int32)
        masks = np.zeros((self.max_boxes, self.height, self.width), bool)
        placed: list[tuple[int, int, int, int]] = []  # (top, left, bottom, right) of patches
        boxes, labels = [], []
        for _ in range(n):
            patch, label = self._digit(rng)
            h, w = patch.shape
            for _ in range(_PLACEMENT_TRIES):
                top = int(rng.integers(self.height - h + 1))
                left = int(rng.integers(self.width - w + 1))
                if all(
                    top >= b or top + h <= t or left >= r or left + w <= lft
                    for t, lft, b, r in placed
                ):
                    break
            else:
                continue
            ink = patch >= INK_THRESHOLD
            if not ink.any():
                continue
            placed.append((top, left, top + h, left + w))
            region = (slice(top, top + h), slice(left, left + w))
            image[region] = np.maximum(image[region], patch)
            masks[len(boxes)][region] = ink
            segmentation[region][ink] = label + 1
            rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
            boxes.append([left + cols[0], top + rows[0], left + cols[-1] + 1, top + rows[-1] + 1])
            labels.append(label)
        padded = pad_boxes(np.asarray(boxes, np.float32), np.asarray(labels), self.max_boxes, 10)
        return {"image": image[..., None], "segmentation": segmentation, "masks": masks, **padded}

    def __repr__(self) -> str:
        return f"DigitScenes({self.name!r}, n={len(self)}, spec={self.spec})"


def _source(split: str, size: int | None, seed: int, **kw) -> DigitScenes:
    if split not in _DEFAULT_SIZE:
        raise ValueError(f"split must be one of {tuple(_DEFAULT_SIZE)}, got {split!r}")
    size = _DEFAULT_SIZE[split] if size is None else size
    # The digit pools are disjoint (mnist5k's splits); the seeds differ too.
    return DigitScenes(mnist5k(split), size, seed=seed if split == "train" else seed + 1, **kw)


def digit_scenes(
    split: str = "train",
    size: int | None = None,
    *,
    seed: int = 0,
    height: int = 64,
    width: int = 84,
    max_digits: int = 3,
) -> DigitScenes:
    """Segmentation variant: 1..`max_digits` native 28x28 MNIST-5k digits per canvas.
    ``size`` defaults to 10,000 train / 1,000 test canvases."""
    return _source(split, size, seed, height=height, width=width, max_digits=max_digits)


def digit_detection(
    split: str = "train",
    size: int | None = None,
    *,
    seed: int = 0,
    height: int = 64,
    width: int = 84,
    digit_size: tuple[int, int] = (14, 28),
    min_digits: int = 1,
    max_digits: int = 4,
    max_boxes: int | None = None,
) -> DigitScenes:
    """Detection variant: `min_digits`..`max_digits` digits rescaled to `digit_size` px (longer
    side of the ink crop). ``size`` defaults to 10,000 train / 1,000 test canvases."""
    return _source(
        split,
        size,
        seed,
        height=height,
        width=width,
        min_digits=min_digits,
        max_digits=max_digits,
        digit_size=tuple(digit_size),
        max_boxes=max_boxes,
    )
