"""Validated configuration of the Real-ESRGAN degradation model (Wang et al. 2021).

SPEC: RES-4. Defaults are the official `train_realesrgan_x4plus.yml` options. Every check runs
when the config is built, before any worker starts, and names the option (e.g.
``stage2.blur.sigma_range``) and its valid range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KERNEL_TYPES = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
RESIZE_MODES = ("area", "bilinear", "bicubic")


@dataclass(frozen=True)
class BlurConfig:
    """A stage's blur: kernel type probabilities (order `KERNEL_TYPES`), odd sizes, σ, β, sinc."""

    kernel_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    kernel_size_range: tuple[int, int] = (7, 21)
    sigma_range: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)  # generalized Gaussian shape β
    betap_range: tuple[float, float] = (1.0, 2.0)  # plateau shape β
    sinc_prob: float = 0.1


@dataclass(frozen=True)
class StageConfig:
    """One degradation stage: blur -> resize -> Gaussian or Poisson noise -> JPEG (fixed order)."""

    blur: BlurConfig = field(default_factory=BlurConfig)
    blur_prob: float = 1.0
    resize_probs: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5  # else Poisson
    noise_range: tuple[float, float] = (1.0, 30.0)  # Gaussian σ on the 0..255 scale
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[float, float] = (30.0, 95.0)


def _stage2() -> StageConfig:
    return StageConfig(
        blur=BlurConfig(sigma_range=(0.2, 1.5)),
        blur_prob=0.8,
        resize_probs=(0.3, 0.4, 0.3),
        resize_range=(0.3, 1.2),
        noise_range=(1.0, 25.0),
        poisson_scale_range=(0.05, 2.5),
    )


@dataclass(frozen=True)
class DegradationConfig:
    """Two stages, then {resize to HR/scale + final sinc, JPEG} in random order. SPEC: RES-4.

    `final_resize_first_prob`: probability that resize + sinc come before the last JPEG.
    `usm_*`: unsharp masking of the ground truth (the degradation starts from the sharpened HR, and
    the sharpened HR is the L1/perceptual target), as the official training code does.
    """

    scale: int = 4
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=_stage2)
    final_sinc_prob: float = 0.8
    final_sinc_size_range: tuple[int, int] = (7, 21)
    final_jpeg_range: tuple[float, float] = (30.0, 95.0)
    final_resize_first_prob: float = 0.5
    resize_modes: tuple[str, ...] = RESIZE_MODES
    usm: bool = True
    usm_weight: float = 0.5
    usm_radius: int = 50
    usm_threshold: float = 10.0

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DegradationConfig:
        """The defaults with the options in the nested mapping `d` replaced (e.g. an
        ml_collections ConfigDict's `to_dict()`); unknown keys raise naming the valid ones."""
        return _replace(cls(), d, "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _replace(default: Any, d: Mapping[str, Any], prefix: str) -> Any:
    names = [f.name for f in dataclasses.fields(default)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ValueError(
            f"unknown degradation option(s) {[prefix + k for k in unknown]}; "
            f"valid: {[prefix + k for k in names]}"
        )
    kwargs = {}
    for k, v in d.items():
        current = getattr(default, k)
        if dataclasses.is_dataclass(current) and isinstance(v, Mapping):
            v = _replace(current, v, f"{prefix}{k}.")
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[k] = v
    return dataclasses.replace(default, **kwargs)


def _prob(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")


def _probs(name: str, ps: tuple[float, ...], n: int) -> None:
    if len(ps) != n or any(p < 0 for p in ps) or not math.isclose(sum(ps), 1.0, abs_tol=1e-6):
        raise ValueError(f"{name} must be {n} non-negative probabilities summing to 1, got {ps}")


def _range(
    name: str, r: tuple[float, ...], lo: float, hi: float, straddle_one: bool = False
) -> None:
    ok = len(r) == 2 and lo <= r[0] <= r[1] <= hi and (not straddle_one or r[0] <= 1.0 <= r[1])
    if not ok:
        one = " and low <= 1 <= high" if straddle_one else ""
        raise ValueError(
            f"{name} must be (low, high) with {lo} <= low <= high <= {hi}{one}, got {r}"
        )


def _odd_sizes(name: str, r: tuple[int, int]) -> None:
    if len(r) != 2 or any(int(s) != s or s < 3 or s % 2 == 0 for s in r) or r[0] > r[1]:
        raise ValueError(
            f"{name} must be (low, high) odd kernel sizes >= 3 with low <= high, got {r}"
        )


def _validate_blur(b: BlurConfig, p: str) -> None:
    _probs(f"{p}kernel_probs", b.kernel_probs, len(KERNEL_TYPES))
    _odd_sizes(f"{p}kernel_size_range", b.kernel_size_range)
    _range(f"{p}sigma_range", b.sigma_range, 1e-6, math.inf)
    # β is drawn half below and half above 1, so the range must straddle 1.
    _range(f"{p}betag_range", b.betag_range, 1e-6, math.inf, straddle_one=True)
    _range(f"{p}betap_range", b.betap_range, 1e-6, math.inf, straddle_one=True)
    _prob(f"{p}sinc_prob", b.sinc_prob)


def _validate_stage(s: StageConfig, p: str) -> None:
    _validate_blur(s.blur, f"{p}blur.")
    _prob(f"{p}blur_prob", s.blur_prob)
    _probs(f"{p}resize_probs", s.resize_probs, 3)
    _range(f"{p}resize_range", s.resize_range, 1e-3, math.inf, straddle_one=True)
    _prob(f"{p}gaussian_noise_prob", s.gaussian_noise_prob)
    _range(f"{p}noise_range", s.noise_range, 0.0, 255.0)
    _range(f"{p}poisson_scale_range", s.poisson_scale_range, 0.0, math.inf)
    _prob(f"{p}gray_noise_prob", s.gray_noise_prob)
    _range(f"{p}jpeg_range", s.jpeg_range, 1.0, 100.0)


def _validate(c: DegradationConfig) -> None:
    if int(c.scale) != c.scale or c.scale < 1:
        raise ValueError(f"scale must be a positive int, got {c.scale}")
    for name in ("stage1", "stage2"):
        if not isinstance(getattr(c, name), StageConfig):
            raise ValueError(f"{name} must be a StageConfig, got {type(getattr(c, name))}")
        _validate_stage(getattr(c, name), f"{name}.")
    _prob("final_sinc_prob", c.final_sinc_prob)
    _odd_sizes("final_sinc_size_range", c.final_sinc_size_range)
    _range("final_jpeg_range", c.final_jpeg_range, 1.0, 100.0)
    _prob("final_resize_first_prob", c.final_resize_first_prob)
    bad = [m for m in c.resize_modes if m not in RESIZE_MODES]
    if not c.resize_modes or bad:
        raise ValueError(
            f"resize_modes must be a non-empty subset of {RESIZE_MODES}, got {c.resize_modes}"
        )
    if c.usm_radius < 1:
        raise ValueError(f"usm_radius must be >= 1, got {c.usm_radius}")
    if not 0.0 <= c.usm_threshold <= 255.0:
        raise ValueError(f"usm_threshold must be in [0, 255], got {c.usm_threshold}")
