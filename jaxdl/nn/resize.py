"""Image resizing equal to `torch.nn.functional.interpolate` (antialias=False), NHWC.

SPEC: BAS-4. `jax.image.resize` antialiases when downsampling and uses
half-pixel centres only, so it is not used. Sampling tables are built in NumPy float32 with the
same arithmetic as torch's CPU kernels (e.g. torch `nearest` = ⌊dst·in/out⌋ in float32, not
`nearest-exact`); the image is then gathered per axis (1, 2 or 4 taps) and weighted.
"""

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["resize", "resize_output_size", "interpolation_taps"]

_TAPS = {"nearest": 1, "bilinear": 2, "bicubic": 4}
_F = np.float32


def _scale(n_in: int, n_out: int, align_corners: bool, factor: float | None) -> np.float32:
    """torch `area_pixel_compute_scale` in float32."""
    if align_corners:
        return _F(n_in - 1) / _F(n_out - 1) if n_out > 1 else _F(0)
    return _F(1.0 / factor) if factor else _F(n_in) / _F(n_out)


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """Keys cubic convolution weights for offsets t ∈ [0,1]; torch uses A = -0.75."""
    a = _F(a)

    def near(u):  # |u| <= 1
        return ((a + 2) * u - (a + 3)) * u * u + 1

    def far(u):  # 1 < |u| < 2
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], -1).astype(_F)


def interpolation_taps(
    n_in: int, n_out: int, method: str, align_corners: bool = False, factor: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Source indices (n_out, taps) int32 and weights (n_out, taps) float32 for one axis."""
    dst = np.arange(n_out)
    if method == "nearest":
        if n_out == n_in:
            idx = dst
        elif n_out == 2 * n_in:  # torch special case, whatever the scale_factor
            idx = dst >> 1
        else:
            idx = np.floor(dst.astype(_F) * _scale(n_in, n_out, False, factor)).astype(np.int64)
        idx = np.minimum(idx, n_in - 1)[:, None]
        return idx.astype(np.int32), np.ones_like(idx, _F)
    scale = _scale(n_in, n_out, align_corners, factor)
    d = dst.astype(_F)
    src = scale * d if align_corners else scale * (d + _F(0.5)) - _F(0.5)
    if method == "bilinear":
        if n_out == n_in:  # torch copies this axis, even when scale_factor says otherwise
            return np.stack([dst, dst], -1).astype(np.int32), np.tile(
                np.array([1, 0], _F), (n_out, 1)
            )
        src = np.maximum(src, _F(0))
        i0 = np.minimum(src.astype(np.int64), n_in - 1)
        lam = np.clip(src - i0.astype(_F), 0, 1).astype(_F)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return np.stack([i0, i1], -1).astype(np.int32), np.stack([1 - lam, lam], -1).astype(_F)
    if method == "bicubic":
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        t = np.clip(src - i0.astype(_F), 0, 1).astype(_F)
        idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
        return idx.astype(np.int32), _cubic_weights(t)
    raise ValueError(f"method must be one of {sorted(_TAPS)}, got {method!r}")


def resize_output_size(
    in_hw: tuple[int, int],
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
) -> tuple[int, int]:
    """(H_out, W_out) as torch: `size`, or ⌊in·scale_factor⌋ per axis."""
    if (size is None) == (scale_factor is None):
        raise ValueError("give exactly one of size and scale_factor")
    if size is not None:
        out = (size, size) if isinstance(size, int) else tuple(size)
    else:
        sf = (scale_factor, scale_factor) if np.isscalar(scale_factor) else tuple(scale_factor)
        out = tuple(math.floor(n * f) for n, f in zip(in_hw, sf, strict=True))
    if len(out) != 2 or min(out) < 1:
        raise ValueError(f"output size must be two positive ints (H_out, W_out), got {out}")
    return int(out[0]), int(out[1])


def _resample_axis(x: jax.Array, axis: int, idx: np.ndarray, w: np.ndarray) -> jax.Array:
    shape = [1] * x.ndim
    shape[axis] = idx.shape[0]
    out = None
    for t in range(idx.shape[1]):
        term = jnp.take(x, jnp.asarray(idx[:, t]), axis=axis)
        if idx.shape[1] > 1:
            term = term * jnp.asarray(w[:, t]).reshape(shape).astype(x.dtype)
        out = term if out is None else out + term
    return out


def resize(
    x: jax.Array,
    size: int | Sequence[int] | None = None,
    method: str = "bilinear",
    align_corners: bool = False,
    *,
    scale_factor: float | Sequence[float] | None = None,
) -> jax.Array:
    """Resize NHWC `x` (N,H,W,C) → (N,H_out,W_out,C) like torch `F.interpolate` (SPEC BAS-4).

    method: "nearest" (torch legacy nearest) | "bilinear" | "bicubic" (A=-0.75, clamped border).
    align_corners: torch semantics (ignored for nearest). With `scale_factor` the source
    coordinate uses 1/scale_factor as torch does (recompute_scale_factor=None).
    Integer inputs are resized in float32 (torch rejects them for bilinear/bicubic).
    """
    if x.ndim != 4:
        raise ValueError(f"resize expects NHWC input (N, H, W, C), got shape {x.shape}")
    if method not in _TAPS:
        raise ValueError(f"method must be one of {sorted(_TAPS)}, got {method!r}")
    if method == "nearest" and align_corners:
        raise ValueError("align_corners is only for bilinear/bicubic (as in torch)")
    out_hw = resize_output_size(x.shape[1:3], size, scale_factor)
    if scale_factor is None:
        factors = (None, None)
    elif np.isscalar(scale_factor):
        factors = (float(scale_factor),) * 2
    else:
        factors = tuple(float(f) for f in scale_factor)
    if not jnp.issubdtype(x.dtype, jnp.floating) and method != "nearest":
        x = x.astype(jnp.float32)
    for ax, (n_in, n_out, f) in enumerate(zip(x.shape[1:3], out_hw, factors, strict=True)):
        idx, w = interpolation_taps(n_in, n_out, method, align_corners, f)
        x = _resample_axis(x, ax + 1, idx, w)
    return x
