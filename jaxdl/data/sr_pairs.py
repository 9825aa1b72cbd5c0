"""HR/LR pairs for ×s super-resolution: MATLAB-bicubic LR images and aligned random crops.

SPEC: RES-2, RES-3, RES-5. As the SR papers prepare DIV2K: each HR image is cropped at its
bottom/right to a multiple of the scale (`modcrop`), its LR image is MATLAB's bicubic
`imresize(hr, 1/s)` of the whole image rounded to 8 bits (`bicubic_lr`), and a training record
is an LR crop with the HR crop at s× its position, flipped/rotated together. The embedded
default uses the photos of `jaxdl.data.photos` (train: astronaut, rocket, the stereo pair,
china, flower; held out: chelsea, coffee, grace_hopper); DIV2K comes through TFDS with its own
LR images (`div2k/bicubic_x4`: features "hr", "lr").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from jaxdl.data.photos import photos
from jaxdl.data.validate import RecordSpec
from jaxdl.restoration.imresize import imresize


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """`image` (H, W, C) cropped at the bottom/right to H, W multiples of `scale` (BasicSR's
    `mod_crop`): the SR protocol crops, it never pads."""
    h, w = image.shape[:2]
    if h < scale or w < scale:
        raise ValueError(f"image {image.shape[:2]} is smaller than the scale {scale}")
    return image[: h - h % scale, : w - w % scale]


def bicubic_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """uint8 LR image of a uint8 HR image (H, W, 3), H and W multiples of `scale`: MATLAB
    bicubic `imresize(hr, 1/scale)` rounded to 8 bits, as the ×s benchmark LR images are made."""
    check_image(hr, "HR image")
    if hr.shape[0] % scale or hr.shape[1] % scale:
        raise ValueError(f"HR image {hr.shape[:2]} is not a multiple of the scale {scale}: modcrop")
    lr = imresize(hr.astype(np.float64) / 255.0, 1.0 / scale)
    return np.clip(np.round(lr * 255.0), 0, 255).astype(np.uint8)


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: MATLAB `imresize(lr, scale)` of a uint8 image, float in [0, 1]."""
    check_image(lr, "LR image")
    return np.clip(imresize(lr.astype(np.float64) / 255.0, float(scale)), 0.0, 1.0)


def check_image(image: np.ndarray, what: str = "image") -> None:
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 (H, W, 3), got {image.dtype} {image.shape}")


@functools.cache
def photo_pairs(split: str, scale: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{name: (HR modcropped, LR)} of the bundled photos of `split` ("train", "test", "all"),
    read-only (computed once per process)."""
    out = {}
    for name, image in photos(split).items():
        hr = modcrop(image, scale)
        lr = bicubic_lr(hr, scale)
        lr.setflags(write=False)
        out[name] = (hr, lr)
    return out


class SRPairs:
    """Random aligned HR/LR crops as a grain random-access source.

    Records `{"hr": uint8 (P, P, 3), "lr": uint8 (P/s, P/s, 3)}` for `hr_size` P and `scale` s.
    Record `i` is a pure function of `(seed, i)`: an image (the bundled photos: chosen with
    probability proportional to area; `hr_images`: image `i % len`), a uniform LR crop position,
    and with `augment` one of the 8 flips/rotations applied to both crops. `hr_images` /
    `lr_images` replace the photos by any random-access sequences of uint8 (H, W, 3) pairs (e.g.
    DIV2K through TFDS), read lazily; without `lr_images` each LR image is made by `bicubic_lr`.
    """

    def __init__(
        self,
        hr_size: int,
        scale: int = 4,
        *,
        split: str = "train",
        hr_images: Sequence[np.ndarray] | None = None,
        lr_images: Sequence[np.ndarray] | None = None,
        length: int = 100_000,
        augment: bool = True,
        seed: int = 0,
    ):
        if scale < 1 or hr_size < scale or hr_size % scale or length <= 0:
            raise ValueError(
                f"expected scale >= 1, hr_size a positive multiple of scale and length > 0, "
                f"got {hr_size=}, {scale=}, {length=}"
            )
        if lr_images is not None and hr_images is None:
            raise ValueError("lr_images needs hr_images")
        self.hr_size, self.scale, self.length = hr_size, scale, length
        self.augment, self.seed = augment, seed
        self.spec = RecordSpec(
            hr=((hr_size, hr_size, 3), np.uint8), lr=((hr_size // scale,) * 2 + (3,), np.uint8)
        )
        self.probs = None
        if hr_images is not None:
            if not len(hr_images) or (lr_images is not None and len(lr_images) != len(hr_images)):
                raise ValueError("hr_images must be non-empty and as long as lr_images")
            self.hr_images, self.lr_images = hr_images, lr_images
            return
        pairs = list(photo_pairs(split, scale).values())
        small = [hr.shape[:2] for hr, _ in pairs if min(hr.shape[:2]) < hr_size]
        if small:
            raise ValueError(f"HR crop size {hr_size} is larger than photos of shape {small}")
        self.hr_images = [hr for hr, _ in pairs]
        self.lr_images = [lr for _, lr in pairs]
        areas = np.array([hr.shape[0] * hr.shape[1] for hr in self.hr_images], np.float64)
        self.probs = areas / areas.sum()

    def __len__(self) -> int:
        return self.length

    def _pair(self, which: int) -> tuple[np.ndarray, np.ndarray]:
        hr = np.asarray(self.hr_images[which])
        check_image(hr, f"HR image {which}")
        if self.lr_images is None:
            hr = modcrop(hr, self.scale)
            return hr, bicubic_lr(hr, self.scale)
        lr = np.asarray(self.lr_images[which])
        check_image(lr, f"LR image {which}")
        s = self.scale
        if abs(hr.shape[0] - s * lr.shape[0]) >= s or abs(hr.shape[1] - s * lr.shape[1]) >= s:
            raise ValueError(
                f"pair {which}: HR {hr.shape[:2]} is not {s}x LR {lr.shape[:2]} (up to modcrop)"
            )
        return hr, lr

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} crops")
        rng = np.random.default_rng((self.seed, index))
        if self.probs is None:
            which = index % len(self.hr_images)
        else:
            which = int(rng.choice(len(self.hr_images), p=self.probs))
        hr, lr = self._pair(which)
        s, p = self.scale, self.hr_size // self.scale
        h, w = min(lr.shape[0], hr.shape[0] // s), min(lr.shape[1], hr.shape[1] // s)
        if min(h, w) < p:
            raise ValueError(f"image {which}: LR {lr.shape[:2]} is smaller than the crop {p}")
        top, left = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
        lr = lr[top : top + p, left : left + p]
        hr = hr[s * top : s * (top + p), s * left : s * (left + p)]
        if self.augment:
            k, flip = rng.integers(0, 4), rng.integers(0, 2)
            lr, hr = (np.rot90(x[:, ::-1] if flip else x, k) for x in (lr, hr))
        return {"hr": np.ascontiguousarray(hr), "lr": np.ascontiguousarray(lr)}

    def __repr__(self) -> str:
        return (
            f"SRPairs(hr_size={self.hr_size}, scale={self.scale}, "
            f"images={len(self.hr_images)}, length={self.length})"
        )
