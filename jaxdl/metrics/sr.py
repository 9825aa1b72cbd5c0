"""Super-resolution evaluation as the SR literature reports it (Set5, Set14, BSD100, DIV2K val).

SPEC: RES-5 (RES-2/RES-3 tables). Per image: the output quantized to 8 bits, `crop_border =
scale` pixels dropped at each side, PSNR and SSIM on the BT.601 Y channel (MATLAB `rgb2ycbcr`,
`jaxdl.metrics.image_quality.rgb_to_y`) and on RGB (SSIM: channel mean); then the mean over the
set. Matches BasicSR's `calculate_psnr` / `calculate_ssim` (`test_y_channel` True / False).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import numpy as np

from jaxdl.metrics.image_quality import psnr
from jaxdl.metrics.ssim import ssim

SR_METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


def to_unit(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 in [0, 1]; float images are taken as [0, 1] and quantized to
    8 bits (round(clip(x, 0, 1) * 255) / 255), as every SR method's output is saved."""
    x = np.asarray(image)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"expected uint8 or float images in [0, 1], got dtype {x.dtype}")
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.float32) / 255.0


def sr_scores(sr: np.ndarray, hr: np.ndarray, crop_border: int) -> dict[str, float]:
    """{psnr_y, ssim_y, psnr_rgb, ssim_rgb} of one output against its HR image, each (H, W, 3)
    uint8 or float in [0, 1]; `crop_border` is the SR scale by convention."""
    x, y = to_unit(sr)[None], to_unit(hr)[None]
    if x.shape != y.shape:
        raise ValueError(f"expected output and HR image of one shape, got {x.shape[1:]} and "
                         f"{y.shape[1:]}")  # fmt: skip
    return {k: float(v[0]) for k, v in _scores(x, y, int(crop_border)).items()}


@functools.partial(jax.jit, static_argnums=2)
def _scores(x: jax.Array, y: jax.Array, crop_border: int) -> dict[str, jax.Array]:
    out = {}
    for name, y_channel in (("y", True), ("rgb", False)):
        out[f"psnr_{name}"] = psnr(x, y, 1.0, crop_border, y_channel=y_channel)
        out[f"ssim_{name}"] = ssim(x, y, 1.0, crop_border, y_channel=y_channel)
    return out


def mean_scores(per_image: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The set's mean of each metric over `{image name: sr_scores(...)}`."""
    if not per_image:
        raise ValueError("no images to average")
    return {k: float(np.mean([s[k] for s in per_image.values()])) for k in SR_METRICS}
