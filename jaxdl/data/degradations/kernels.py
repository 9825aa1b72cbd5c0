"""Blur kernels of Real-ESRGAN's degradation model (Wang et al. 2021, arXiv:2107.10833).

SPEC: RES-4. Gaussian, generalized Gaussian (exp(-q^β / 2)) and plateau (1 / (1 + q^β))
kernels, each isotropic or anisotropic, where q = xᵀΣ⁻¹x with Σ = R(θ) diag(σx², σy²) R(θ)ᵀ on
the integer grid centred on the kernel; and the circular low-pass (sinc) kernel
ω·J1(ω·r) / (2π·r). All are normalized to sum 1 and returned as float64 (k, k) arrays.
`sample_kernel` draws a kernel's type and parameters as the official training recipe does;
`build_kernel` turns the draw into the array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from jaxdl.data.degradations.config import KERNEL_TYPES, BlurConfig

__all__ = [
    "KERNEL_TYPES",
    "KernelDraw",
    "build_kernel",
    "circular_lowpass_kernel",
    "gaussian_kernel",
    "generalized_gaussian_kernel",
    "plateau_kernel",
    "random_mixed_kernels",
    "sample_kernel",
    "sample_sinc",
]


def _check_size(kernel_size: int) -> None:
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size}")


def _quadratic_form(kernel_size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """q = |diag(1/σx, 1/σy) R(θ)ᵀ (x, y)|² on the centred grid (x: column, y: row)."""
    _check_size(kernel_size)
    ax = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2
    x, y = np.meshgrid(ax, ax)
    c, s = math.cos(theta), math.sin(theta)
    return ((c * x + s * y) / sigma_x) ** 2 + ((c * y - s * x) / sigma_y) ** 2


def _normalized(k: np.ndarray) -> np.ndarray:
    return k / k.sum()


def gaussian_kernel(
    kernel_size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0
) -> np.ndarray:
    """Bivariate Gaussian; isotropic when `sigma_y` is None (then θ is ignored)."""
    if sigma_y is None:
        sigma_y, theta = sigma_x, 0.0
    return _normalized(np.exp(-0.5 * _quadratic_form(kernel_size, sigma_x, sigma_y, theta)))


def generalized_gaussian_kernel(
    kernel_size: int, sigma_x: float, beta: float, sigma_y: float | None = None, theta: float = 0.0
) -> np.ndarray:
    """exp(-q^β / 2) (Pascal et al. 2013); β = 1 is the Gaussian."""
    if sigma_y is None:
        sigma_y, theta = sigma_x, 0.0
    q = _quadratic_form(kernel_size, sigma_x, sigma_y, theta)
    return _normalized(np.exp(-0.5 * np.power(q, beta)))


def plateau_kernel(
    kernel_size: int, sigma_x: float, beta: float, sigma_y: float | None = None, theta: float = 0.0
) -> np.ndarray:
    """Plateau-shaped 1 / (1 + q^β)."""
    if sigma_y is None:
        sigma_y, theta = sigma_x, 0.0
    q = _quadratic_form(kernel_size, sigma_x, sigma_y, theta)
    return _normalized(1.0 / (np.power(q, beta) + 1.0))


def circular_lowpass_kernel(cutoff: float, kernel_size: int, pad_to: int = 0) -> np.ndarray:
    """2-D sinc ω·J1(ω·r)/(2π·r), centre ω²/(4π), zero-padded to `pad_to` if larger. SPEC: RES-4."""
    _check_size(kernel_size)
    if pad_to and pad_to % 2 == 0:
        raise ValueError(f"pad_to must be odd or 0, got {pad_to}")
    ax = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2
    r = np.hypot(*np.meshgrid(ax, ax))
    c = kernel_size // 2
    r[c, c] = 1.0  # placeholder, replaced by the limit below
    k = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    k[c, c] = cutoff**2 / (4 * np.pi)
    k = _normalized(k)
    if pad_to > kernel_size:
        p = (pad_to - kernel_size) // 2
        k = np.pad(k, p)
    return k


@dataclass(frozen=True)
class KernelDraw:
    """One sampled kernel: `kind` in `KERNEL_TYPES` or "sinc", and its parameters."""

    kind: str
    size: int
    sigma_x: float = 0.0
    sigma_y: float = 0.0
    theta: float = 0.0
    beta: float = 1.0
    omega: float = 0.0


def build_kernel(draw: KernelDraw) -> np.ndarray:
    """The (size, size) float64 kernel of `draw`."""
    aniso = draw.kind.endswith("aniso")
    sy, theta = (draw.sigma_y, draw.theta) if aniso else (None, 0.0)
    if draw.kind == "sinc":
        return circular_lowpass_kernel(draw.omega, draw.size)
    if draw.kind in ("iso", "aniso"):
        return gaussian_kernel(draw.size, draw.sigma_x, sy, theta)
    if draw.kind.startswith("generalized"):
        return generalized_gaussian_kernel(draw.size, draw.sigma_x, draw.beta, sy, theta)
    if draw.kind.startswith("plateau"):
        return plateau_kernel(draw.size, draw.sigma_x, draw.beta, sy, theta)
    raise ValueError(f"unknown kernel kind {draw.kind!r}; valid: {KERNEL_TYPES + ('sinc',)}")


def pick(rng: np.random.Generator, probs: tuple[float, ...]) -> int:
    """An index drawn with probabilities `probs` (summing to 1)."""
    i = int(np.searchsorted(np.cumsum(probs), rng.random(), side="right"))
    return min(i, len(probs) - 1)


def odd_size(rng: np.random.Generator, size_range: tuple[int, int]) -> int:
    """An odd kernel size drawn uniformly from `size_range` (both ends odd, included)."""
    return size_range[0] + 2 * int(rng.integers((size_range[1] - size_range[0]) // 2 + 1))


def _beta(rng: np.random.Generator, beta_range: tuple[float, float]) -> float:
    # Half the draws below 1, half above (the official recipe's split around the Gaussian).
    if rng.random() < 0.5:
        return float(rng.uniform(beta_range[0], 1.0))
    return float(rng.uniform(1.0, beta_range[1]))


def random_mixed_kernels(rng: np.random.Generator, blur: BlurConfig, size: int) -> KernelDraw:
    """Draw a kernel type with `blur.kernel_probs`, then σx, σy, θ ∈ [-π, π] and β. SPEC: RES-4."""
    kind = KERNEL_TYPES[pick(rng, blur.kernel_probs)]
    sigma_x = float(rng.uniform(*blur.sigma_range))
    sigma_y, theta = sigma_x, 0.0
    if kind.endswith("aniso"):
        sigma_y = float(rng.uniform(*blur.sigma_range))
        theta = float(rng.uniform(-math.pi, math.pi))
    beta = 1.0
    if kind.startswith("generalized"):
        beta = _beta(rng, blur.betag_range)
    elif kind.startswith("plateau"):
        beta = _beta(rng, blur.betap_range)
    return KernelDraw(kind, size, sigma_x, sigma_y, theta, beta)


def sample_sinc(rng: np.random.Generator, size: int, final: bool = False) -> KernelDraw:
    """Sinc draw: ω ~ U[π/3, π] for the final filter and sizes < 13, else U[π/5, π]."""
    low = math.pi / 3 if final or size < 13 else math.pi / 5
    return KernelDraw("sinc", size, omega=float(rng.uniform(low, math.pi)))


def sample_kernel(rng: np.random.Generator, blur: BlurConfig) -> KernelDraw:
    """A stage's blur kernel: odd size uniform in `blur.kernel_size_range`, sinc with
    probability `blur.sinc_prob`, otherwise `random_mixed_kernels`."""
    size = odd_size(rng, blur.kernel_size_range)
    if rng.random() < blur.sinc_prob:
        return sample_sinc(rng, size)
    return random_mixed_kernels(rng, blur, size)
