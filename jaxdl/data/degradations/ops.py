"""Image operations of the Real-ESRGAN degradation model: NumPy on the host, HWC float32 [0, 1].

SPEC: RES-4. Semantics follow the official PyTorch training code: `filter2d` is a correlation
with reflect padding (torch `F.pad(mode="reflect")`, which does not repeat the edge); `resize`
equals `torch.nn.functional.interpolate` (antialias off) for "area", "bilinear" and "bicubic";
noise is added and clipped to [0, 1]; JPEG is a real codec (Pillow, 4:2:0 chroma).
Random draws come from the `rng` passed in (an `np.random.Generator`, or anything with its
`standard_normal(size, dtype)` and `poisson(lam)`).
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image
from scipy import ndimage, signal

__all__ = [
    "add_noise",
    "filter2d",
    "gaussian_noise",
    "jpeg",
    "poisson_noise",
    "resize",
    "resize_matrix",
    "usm_sharpen",
]

_F = np.float32


def _check_image(img: np.ndarray, name: str) -> None:
    if img.ndim != 3 or img.dtype != _F:
        raise ValueError(f"{name} expects an HWC float32 image, got {img.dtype} {img.shape}")


def _separable(img: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    # scipy's "mirror" boundary is torch's "reflect" (the edge pixel is not repeated).
    out = ndimage.correlate1d(img, col, axis=0, mode="mirror")
    return ndimage.correlate1d(out, row, axis=1, mode="mirror")


def filter2d(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each channel of `img` (H, W, C) with the odd (k, k) `kernel`, reflect-padded.

    Rank-1 kernels (isotropic Gaussians) run as two 1-D passes, the others by a float32 FFT.
    """
    _check_image(img, "filter2d")
    k = kernel.shape[0]
    if kernel.ndim != 2 or kernel.shape[1] != k or k % 2 == 0:
        raise ValueError(f"filter2d expects an odd square kernel, got shape {kernel.shape}")
    u, s, vt = np.linalg.svd(np.asarray(kernel, np.float64))
    if s[1] <= 1e-9 * s[0]:
        return _separable(img, u[:, 0] * s[0], vt[0])
    p = k // 2
    padded = np.pad(img, ((p, p), (p, p), (0, 0)), mode="reflect")
    kern = np.asarray(kernel, _F)[::-1, ::-1, None]
    return signal.fftconvolve(padded, kern, mode="valid", axes=(0, 1)).astype(_F, copy=False)


def _usm_taps(radius: int) -> np.ndarray:
    size = radius + 1 if radius % 2 == 0 else radius
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def usm_sharpen(
    img: np.ndarray, weight: float = 0.5, radius: int = 50, threshold: float = 10.0
) -> np.ndarray:
    """Unsharp masking: I + w·(I − blur(I)) (clipped) where |I − blur(I)|·255 > threshold,
    blended by the blurred mask. SPEC: RES-4 (sharpened GT).

    blur: Gaussian of size `radius` (made odd), σ = 0.3·((size − 1)/2 − 1) + 0.8 (OpenCV's
    `getGaussianKernel(size, 0)`), separable, reflect-padded.
    """
    _check_image(img, "usm_sharpen")
    g = _usm_taps(radius)
    residual = img - _separable(img, g, g)
    mask = (np.abs(residual) * 255 > threshold).astype(_F)
    soft = _separable(mask, g, g)
    sharp = np.clip(img + _F(weight) * residual, 0, 1)
    return (soft * sharp + (1 - soft) * img).astype(_F)


def _cubic(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """Keys cubic-convolution weights of the 4 taps at offsets (−1, 0, 1, 2) − t, t ∈ [0, 1)."""
    a = _F(a)

    def near(u):
        return ((a + 2) * u - (a + 3)) * u * u + 1

    def far(u):
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], -1).astype(_F)


def resize_matrix(n_in: int, n_out: int, mode: str, factor: float | None = None) -> np.ndarray:
    """(n_out, n_in) float32 matrix resampling one axis like torch `F.interpolate`.

    "area" is adaptive average pooling; "bilinear"/"bicubic" use half-pixel centres with source
    scale 1/`factor` when a scale factor was given, else n_in/n_out (A = −0.75, clamped border).
    """
    rows = np.arange(n_out)
    m = np.zeros((n_out, n_in), _F)
    if mode == "area":
        start = (rows * n_in) // n_out
        end = -((-(rows + 1) * n_in) // n_out)
        for i, (s, e) in enumerate(zip(start, end, strict=True)):
            m[i, s:e] = _F(1) / _F(e - s)
        return m
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(
            f"resize mode must be one of ('area', 'bilinear', 'bicubic'), got {mode!r}"
        )
    if mode == "bilinear" and n_in == n_out:  # torch copies such an axis, whatever the factor
        return np.eye(n_out, dtype=_F)
    scale = _F(1.0 / factor) if factor else _F(n_in) / _F(n_out)
    src = scale * (rows.astype(_F) + _F(0.5)) - _F(0.5)
    if mode == "bilinear":
        src = np.maximum(src, _F(0))
        i0 = np.minimum(src.astype(np.int64), n_in - 1)
        lam = np.clip(src - i0.astype(_F), 0, 1).astype(_F)
        idx = np.stack([i0, np.minimum(i0 + 1, n_in - 1)], -1)
        w = np.stack([1 - lam, lam], -1)
    else:
        i0 = np.floor(src).astype(np.int64)
        w = _cubic(np.clip(src - i0.astype(_F), 0, 1).astype(_F))
        idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    np.add.at(m, (np.repeat(rows, idx.shape[1]), idx.ravel()), w.ravel())
    return m


def _taps(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A resampling matrix as (n_out, T) source indices and weights (zero-weight padding)."""
    nz = m != 0
    first = np.argmax(nz, axis=1)
    last = m.shape[1] - 1 - np.argmax(nz[:, ::-1], axis=1)
    t = int((last - first).max()) + 1
    idx = np.minimum(first[:, None] + np.arange(t)[None, :], m.shape[1] - 1)
    return idx, np.take_along_axis(m, idx, 1) * (first[:, None] + np.arange(t) < m.shape[1])


def _resample(x: np.ndarray, m: np.ndarray, axis: int) -> np.ndarray:
    # Rows of a resampling matrix are contiguous bands: a few weighted gathers, no BLAS threads.
    idx, w = _taps(m)
    shape = [1] * x.ndim
    shape[axis] = -1
    out = np.take(x, idx[:, 0], axis=axis) * w[:, 0].reshape(shape)
    for t in range(1, idx.shape[1]):
        out += np.take(x, idx[:, t], axis=axis) * w[:, t].reshape(shape)
    return out


def resize(
    img: np.ndarray, size: tuple[int, int], mode: str, scale_factor: float | None = None
) -> np.ndarray:
    """Resize HWC `img` to `size` (H, W) like `F.interpolate(..., mode, align_corners=False)`.

    Pass the `scale_factor` that gave `size` to reproduce torch's `scale_factor=` call exactly.
    """
    _check_image(img, "resize")
    h, w = img.shape[:2]
    oh, ow = size
    if oh < 1 or ow < 1:
        raise ValueError(f"resize: output size must be positive, got {size}")
    out = _resample(img, resize_matrix(h, oh, mode, scale_factor), 0)
    return _resample(out, resize_matrix(w, ow, mode, scale_factor), 1)


def gaussian_noise(shape: tuple[int, int, int], sigma: float, gray: bool, rng) -> np.ndarray:
    """N(0, (σ/255)²) noise of `shape` (H, W, C), the same for all channels when `gray`."""
    h, w, c = shape
    if gray:
        noise = rng.standard_normal((h, w), dtype=_F) * float(sigma) / 255.0
        return np.repeat(noise[:, :, None], c, axis=2)
    return rng.standard_normal((h, w, c), dtype=_F) * float(sigma) / 255.0


def _poisson(img: np.ndarray, rng) -> np.ndarray:
    levels = np.clip(np.rint(img * 255.0), 0, 255)
    img = levels / _F(255.0)
    n_values = np.count_nonzero(np.bincount(levels.astype(np.uint8).ravel(), minlength=256))
    vals = 2.0 ** math.ceil(math.log2(n_values))
    return _F(rng.poisson(img * vals) / vals) - img


def poisson_noise(img: np.ndarray, scale: float, gray: bool, rng) -> np.ndarray:
    """Shot noise: Poisson(q·v)/v − q, q the image rounded to 1/255, v the number of distinct
    levels rounded up to a power of 2, times `scale`; `gray` draws it once on the BT.601 luma."""
    _check_image(img, "poisson_noise")
    if gray:
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        luma = _F(0.299) * r + _F(0.587) * g + _F(0.114) * b
        noise = np.repeat(_poisson(luma, rng)[:, :, None], img.shape[2], axis=2)
    else:
        noise = _poisson(img, rng)
    return (noise * _F(scale)).astype(_F)


def add_noise(img: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """img + noise, clipped to [0, 1]."""
    return np.clip(img + noise, 0, 1).astype(_F)


def jpeg(img: np.ndarray, quality: float) -> np.ndarray:
    """Encode and decode with Pillow's JPEG codec at round(`quality`) (1..100)."""
    _check_image(img, "jpeg")
    if img.shape[2] != 3:
        raise ValueError(f"jpeg expects an RGB image (H, W, 3), got shape {img.shape}")
    q = int(round(quality))
    if not 1 <= q <= 100:
        raise ValueError(f"jpeg quality must be in [1, 100], got {quality}")
    u8 = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=q)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), _F) / _F(255.0)
