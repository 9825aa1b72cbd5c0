"""Real-ESRGAN's second-order degradation pipeline as a host data transform (Wang et al. 2021).

SPEC: RES-4 (with its errata: fixed stage order, one of Gaussian or Poisson noise per stage).
HR (optionally USM-sharpened) → 2 × [blur → random resize (up / down / keep; area, bilinear or
bicubic) → Gaussian or Poisson noise (colour or grey) → JPEG] → {resize to HR/scale + final
sinc, JPEG} in random order → rounded to 1/255. Stage 1 resizes by a scale factor, stage 2 to
(HR / scale)·s, as the official code does.

Every random choice is drawn from one `np.random.Generator`: first all the parameters
(`sample_degradation`, a `DegradationDraw`), then the noise pixels. `RealESRGANDegradation` is a
`jaxdl.data` transform; the pipeline seeds its generator from (seed, stream position), so a
record gives the same LR image whatever the number of workers or processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from jaxdl.data.degradations import ops
from jaxdl.data.degradations.config import DegradationConfig, StageConfig
from jaxdl.data.degradations.kernels import (
    KernelDraw,
    build_kernel,
    odd_size,
    pick,
    sample_kernel,
    sample_sinc,
)

__all__ = [
    "DegradationDraw",
    "RealESRGANDegradation",
    "StageDraw",
    "apply_degradation",
    "degrade",
    "sample_degradation",
]

_RESIZE = ("up", "down", "keep")


@dataclass(frozen=True)
class StageDraw:
    """One stage's random choices; `kernel` None means no blur."""

    kernel: KernelDraw | None
    resize: str  # "up" | "down" | "keep"
    resize_scale: float
    resize_mode: str
    noise: str  # "gaussian" (level = σ on 0..255) | "poisson" (level = scale)
    noise_level: float
    gray_noise: bool
    jpeg_quality: float


@dataclass(frozen=True)
class DegradationDraw:
    """All random choices of one degradation except the noise pixels."""

    stage1: StageDraw
    stage2: StageDraw
    final_sinc: KernelDraw | None  # None: no final sinc filter
    final_resize_mode: str
    final_jpeg_quality: float
    resize_first: bool  # resize + sinc before the last JPEG, else after


def _sample_stage(rng: np.random.Generator, s: StageConfig, modes: tuple[str, ...]) -> StageDraw:
    kernel = sample_kernel(rng, s.blur) if rng.random() < s.blur_prob else None
    direction = _RESIZE[pick(rng, s.resize_probs)]
    scale = {
        "up": lambda: rng.uniform(1.0, s.resize_range[1]),
        "down": lambda: rng.uniform(s.resize_range[0], 1.0),
        "keep": lambda: 1.0,
    }[direction]()
    mode = modes[rng.integers(len(modes))]
    if rng.random() < s.gaussian_noise_prob:
        noise, level = "gaussian", rng.uniform(*s.noise_range)
    else:
        noise, level = "poisson", rng.uniform(*s.poisson_scale_range)
    gray = bool(rng.random() < s.gray_noise_prob)
    quality = rng.uniform(*s.jpeg_range)
    return StageDraw(
        kernel, direction, float(scale), mode, noise, float(level), gray, float(quality)
    )


def sample_degradation(rng: np.random.Generator, config: DegradationConfig) -> DegradationDraw:
    """Draw every parameter of one degradation from `rng`. SPEC: RES-4."""
    stage1 = _sample_stage(rng, config.stage1, config.resize_modes)
    stage2 = _sample_stage(rng, config.stage2, config.resize_modes)
    sinc = None
    if rng.random() < config.final_sinc_prob:
        sinc = sample_sinc(rng, odd_size(rng, config.final_sinc_size_range), final=True)
    mode = config.resize_modes[rng.integers(len(config.resize_modes))]
    quality = float(rng.uniform(*config.final_jpeg_range))
    first = bool(rng.random() < config.final_resize_first_prob)
    return DegradationDraw(stage1, stage2, sinc, mode, quality, first)


def _kernel_name(k: KernelDraw) -> str:
    if k.kind == "sinc":
        return f"sinc {k.size}² ω={k.omega:.2f}"
    return f"{k.kind} {k.size}² σ={k.sigma_x:.2f}"


@dataclass
class _Recorder:
    steps: list[tuple[str, np.ndarray]] | None = field(default=None)

    def __call__(self, name: str, img: np.ndarray) -> np.ndarray:
        if self.steps is not None:
            self.steps.append((name, img))
        return img


def _stage(x, d: StageDraw, size: tuple[int, int], factor, rng, rec: _Recorder, n: int):
    if d.kernel is not None:
        x = rec(f"{n}: blur {_kernel_name(d.kernel)}", ops.filter2d(x, build_kernel(d.kernel)))
    if size != x.shape[:2]:
        x = ops.resize(x, size, d.resize_mode, factor)
        rec(f"{n}: resize ×{d.resize_scale:.2f} {d.resize_mode}", x)
    if d.noise == "gaussian":
        noise = ops.gaussian_noise(x.shape, d.noise_level, d.gray_noise, rng)
    else:
        noise = ops.poisson_noise(x, d.noise_level, d.gray_noise, rng)
    level = f"σ={d.noise_level:.1f}" if d.noise == "gaussian" else f"scale {d.noise_level:.2f}"
    grey = " grey" if d.gray_noise else ""
    x = rec(f"{n}: {d.noise} {level}{grey}", ops.add_noise(x, noise))
    return rec(f"{n}: JPEG q={round(d.jpeg_quality)}", ops.jpeg(x, d.jpeg_quality))


def apply_degradation(
    hr: np.ndarray,
    draw: DegradationDraw,
    config: DegradationConfig,
    rng: np.random.Generator,
    steps: list[tuple[str, np.ndarray]] | None = None,
) -> np.ndarray:
    """LR image (H/scale, W/scale, 3) float32 of the HR image (H, W, 3) float32 in [0, 1].

    `hr` is the degradation's input (the USM-sharpened HR when `config.usm`). Noise pixels come
    from `rng`. When `steps` is a list, (description, image) pairs of every step are appended.
    """
    h, w = hr.shape[:2]
    sc = config.scale
    if hr.ndim != 3 or hr.shape[2] != 3 or h % sc or w % sc:
        raise ValueError(
            f"the HR image must be (H, W, 3) with H, W multiples of {sc}, got {hr.shape}"
        )
    rec = _Recorder(steps)
    s1 = draw.stage1.resize_scale
    size1 = (max(math.floor(h * s1), 1), max(math.floor(w * s1), 1))
    x = _stage(hr, draw.stage1, size1, s1, rng, rec, 1)
    s2 = draw.stage2.resize_scale
    size2 = (max(int(h / sc * s2), 1), max(int(w / sc * s2), 1))
    x = _stage(x, draw.stage2, size2, None, rng, rec, 2)

    def resize_sinc(x):
        x = rec(
            f"resize to LR {draw.final_resize_mode}",
            ops.resize(x, (h // sc, w // sc), draw.final_resize_mode),
        )
        if draw.final_sinc is not None:
            x = rec(
                f"final {_kernel_name(draw.final_sinc)}",
                ops.filter2d(x, build_kernel(draw.final_sinc)),
            )
        return x

    def compress(x):
        return rec(
            f"final JPEG q={round(draw.final_jpeg_quality)}", ops.jpeg(x, draw.final_jpeg_quality)
        )

    x = compress(resize_sinc(x)) if draw.resize_first else resize_sinc(compress(x))
    return (np.clip(np.rint(x * 255.0), 0, 255) / 255.0).astype(np.float32)


def _unit_float(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    if img.dtype != np.float32:
        raise ValueError(f"expected a uint8 or float32 [0, 1] image, got {img.dtype}")
    return img


def degrade(
    hr: np.ndarray,
    config: DegradationConfig,
    rng: np.random.Generator | int,
    steps: list[tuple[str, np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """{"hr", "hr_usm" (when `config.usm`), "lr"} float32 [0, 1] from an HR image (uint8 or float32
    [0, 1], (H, W, 3)); `rng` a Generator or an int seed. SPEC: RES-4."""
    rng = np.random.default_rng(rng) if isinstance(rng, int) else rng
    hr = _unit_float(hr)
    out = {"hr": hr}
    source = hr
    if config.usm:
        source = ops.usm_sharpen(hr, config.usm_weight, config.usm_radius, config.usm_threshold)
        out["hr_usm"] = source
    if steps is not None:
        steps.append(("HR (USM)" if config.usm else "HR", source))
    draw = sample_degradation(rng, config)
    out["lr"] = apply_degradation(source, draw, config, rng, steps)
    return out


@dataclass(frozen=True)
class RealESRGANDegradation:
    """`jaxdl.data` transform: replaces `key` (an HR image) by "hr", "hr_usm" and "lr". SPEC: RES-4.

    Build it in the main process: the config was validated when it was created, so a bad option
    fails there, not in a worker.
    """

    config: DegradationConfig = field(default_factory=DegradationConfig)
    key: str = "image"

    def __call__(self, example: dict, rng: np.random.Generator) -> dict:
        rest = {k: v for k, v in example.items() if k != self.key}
        return {**rest, **degrade(example[self.key], self.config, rng)}
