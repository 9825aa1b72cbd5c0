"""Real photos bundled in installed packages, for restoration (denoising, super-resolution).

SPEC RES-1, RES-5: the embedded default for training and evaluating restoration models without a
download. Nine colour photos from scikit-image (astronaut, chelsea, coffee, rocket, the stereo
motorcycle pair), scikit-learn (china, flower) and matplotlib (grace_hopper), with one fixed
split by photo: the held-out photos are never cropped for training, and the stereo pair (two
views of one scene) stays on the training side.

    train: astronaut, rocket, motorcycle_left, motorcycle_right, china, flower
    test:  chelsea, coffee, grace_hopper

`PhotoCrops` is a grain random-access source of random crops of the training photos, each
record drawn from its own index and seed, so any number of workers and a resumed run see the
same crops.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from jaxdl.data.validate import RecordSpec

PHOTO_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("astronaut", "rocket", "motorcycle_left", "motorcycle_right", "china", "flower"),
    "test": ("chelsea", "coffee", "grace_hopper"),
}


def _sklearn_photo(name: str) -> np.ndarray:
    # The JPEG behind sklearn.datasets.load_sample_image, read directly (that loader decodes all
    # sample images on every call).
    from importlib.resources import files

    from PIL import Image

    with (files("sklearn.datasets") / "images" / f"{name}.jpg").open("rb") as f:
        return np.asarray(Image.open(f).convert("RGB"))


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(f).convert("RGB"))


@functools.cache
def _stereo_pair() -> tuple[np.ndarray, np.ndarray]:
    import skimage.data

    left, right, _ = skimage.data.stereo_motorcycle()
    return left, right


def _loaders() -> dict[str, Callable[[], np.ndarray]]:
    import skimage.data as sd

    return {
        "astronaut": sd.astronaut,
        "chelsea": sd.chelsea,
        "coffee": sd.coffee,
        "rocket": sd.rocket,
        "motorcycle_left": lambda: _stereo_pair()[0],
        "motorcycle_right": lambda: _stereo_pair()[1],
        "china": lambda: _sklearn_photo("china"),
        "flower": lambda: _sklearn_photo("flower"),
        "grace_hopper": _grace_hopper,
    }


PHOTO_NAMES: tuple[str, ...] = (*PHOTO_SPLITS["train"], *PHOTO_SPLITS["test"])


@functools.cache
def load_photo(name: str) -> np.ndarray:
    """One bundled photo as uint8 (H, W, 3). Read-only: copy before changing it."""
    loaders = _loaders()
    if name not in loaders:
        raise ValueError(f"unknown photo {name!r}; bundled photos are {', '.join(PHOTO_NAMES)}")
    image = np.ascontiguousarray(loaders[name]()[..., :3], dtype=np.uint8)
    image.setflags(write=False)
    return image


def photos(split: str = "test") -> dict[str, np.ndarray]:
    """``{name: uint8 (H, W, 3)}`` for ``split`` in "train", "test" or "all"."""
    if split == "all":
        names = PHOTO_NAMES
    elif split in PHOTO_SPLITS:
        names = PHOTO_SPLITS[split]
    else:
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    return {name: load_photo(name) for name in names}


class PhotoCrops:
    """Random ``size``×``size`` RGB crops of photos, as a grain random-access source.

    Record ``i`` is a pure function of ``(seed, i)``: a photo chosen with probability
    proportional to its area (so every pixel is equally likely), a uniform crop position and,
    with ``augment``, one of the 8 flips/rotations. ``length`` is the nominal epoch size.
    Records are ``{"image": uint8 (size, size, 3)}``. ``images`` replaces the bundled photos by
    any random-access sequence of uint8 (H, W, 3) images (e.g. DIV2K read through TFDS), read
    lazily: record ``i`` crops image ``i % len(images)``.
    """

    def __init__(
        self,
        size: int,
        *,
        split: str = "train",
        names: Sequence[str] | None = None,
        images: Sequence[np.ndarray] | None = None,
        length: int = 100_000,
        augment: bool = True,
        seed: int = 0,
    ):
        if size <= 0 or length <= 0:
            raise ValueError(f"size and length must be positive, got {size=}, {length=}")
        self.size, self.length, self.augment, self.seed = size, length, augment, seed
        self.spec = RecordSpec(image=((size, size, 3), np.uint8))
        self.probs = None
        if images is not None:
            if not len(images):
                raise ValueError("images is empty")
            self.images = images
            return
        self.images = (
            list(photos(split).values()) if names is None else [load_photo(n) for n in names]
        )
        small = [img.shape[:2] for img in self.images if min(img.shape[:2]) < size]
        if small:
            raise ValueError(f"crop size {size} is larger than photos of shape {small}")
        areas = np.array([img.shape[0] * img.shape[1] for img in self.images], np.float64)
        self.probs = areas / areas.sum()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} crops")
        rng = np.random.default_rng((self.seed, index))
        if self.probs is None:
            which = index % len(self.images)
        else:
            which = rng.choice(len(self.images), p=self.probs)
        image = np.asarray(self.images[which])
        h, w = image.shape[:2]
        if (
            image.ndim != 3
            or image.shape[-1] != 3
            or image.dtype != np.uint8
            or min(h, w) < self.size
        ):
            raise ValueError(
                f"image {which}: expected uint8 (H, W, 3) with H, W >= {self.size}, got "
                f"{image.dtype} {image.shape}"
            )
        top, left = rng.integers(0, h - self.size + 1), rng.integers(0, w - self.size + 1)
        crop = image[top : top + self.size, left : left + self.size]
        if self.augment:
            k, flip = rng.integers(0, 4), rng.integers(0, 2)
            crop = np.rot90(crop[:, ::-1] if flip else crop, k)
        return {"image": np.ascontiguousarray(crop)}

    def __repr__(self) -> str:
        return f"PhotoCrops(size={self.size}, images={len(self.images)}, length={self.length})"
