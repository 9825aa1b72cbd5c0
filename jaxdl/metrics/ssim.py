"""SSIM (Wang et al. 2004) and MS-SSIM (Wang et al. 2003), per image, differentiable.

SPEC: RES-5. Gaussian window sigma 1.5, 11 taps (scipy `truncate=3.5`), K1 0.01, K2 0.03,
C_i = (K_i L)^2 with L = max_val, population (not sample) covariances, mean over the valid
(un-padded) positions and over channels: equal to scikit-image `structural_similarity(...,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=max_val,
channel_axis=-1)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.metrics.image_quality import prepare

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, 5 scales
WIN_SIZE = 11


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> Array:
    """Normalised 1-D Gaussian taps, radius int(truncate * sigma + 0.5) as scipy.ndimage."""
    radius = int(truncate * sigma + 0.5)
    x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    g = jnp.exp(-0.5 * (x / sigma) ** 2)
    return g / jnp.sum(g)


def _band(taps: Array, n_in: int) -> Array:
    """(n_in - k + 1, n_in) matrix A with A[i, i + t] = taps[t]: a 'valid' 1-D filter."""
    k = taps.shape[0]
    offset = jnp.arange(n_in)[None, :] - jnp.arange(n_in - k + 1)[:, None]
    return jnp.where((offset >= 0) & (offset < k), taps[jnp.clip(offset, 0, k - 1)], 0.0)


def _filter_valid(x: Array, taps: Array) -> Array:
    """Separable 'valid' filtering of NHWC `x` with 1-D `taps` along H then W.

    Two banded matmuls: on CPU about 25x faster than a depthwise convolution (value and
    gradient of an 11-class 64x84 batch of 16: 0.23 s vs 6.1 s), equal up to float rounding.
    """
    k = taps.astype(x.dtype)
    x = jnp.einsum("ih,nhwc->niwc", _band(k, x.shape[1]), x)
    return jnp.einsum("jw,niwc->nijc", _band(k, x.shape[2]), x)


def _ssim_and_cs(x: Array, y: Array, max_val: float) -> tuple[Array, Array]:
    """Per-image mean SSIM and mean contrast-structure term, each (N,)."""
    taps = gaussian_window()
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    stats = _filter_valid(jnp.concatenate([x, y, x * x, y * y, x * y], axis=-1), taps)
    mx, my, mxx, myy, mxy = jnp.split(stats, 5, axis=-1)
    vx, vy, vxy = mxx - mx * mx, myy - my * my, mxy - mx * my
    cs = (2.0 * vxy + c2) / (vx + vy + c2)
    lum = (2.0 * mx * my + c1) / (mx * mx + my * my + c1)
    return jnp.mean(lum * cs, axis=(1, 2, 3)), jnp.mean(cs, axis=(1, 2, 3))


def ssim(
    pred: ArrayLike,
    target: ArrayLike,
    max_val: float = 1.0,
    crop_border: int = 0,
    *,
    y_channel: bool = False,
) -> Array:
    """Structural similarity per image, shape (N,), NHWC in [0, max_val]. SPEC: RES-5.

    `crop_border` px dropped per side first; `y_channel=True` uses BT.601 Y only (SR
    convention, see `rgb_to_y`). Needs H, W >= 11.
    """
    x, y = prepare(pred, target, max_val, crop_border, y_channel)
    if min(x.shape[1:3]) < WIN_SIZE:
        raise ValueError(f"expected NHWC images with H, W >= {WIN_SIZE} for SSIM, got {x.shape}")
    return _ssim_and_cs(x, y, max_val)[0]


def _downsample2(x: Array) -> Array:
    """2x2 average pooling, stride 2, dropping an odd last row/column (as tf.image)."""
    n, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2, :]
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def ms_ssim(
    pred: ArrayLike,
    target: ArrayLike,
    max_val: float = 1.0,
    crop_border: int = 0,
    *,
    y_channel: bool = False,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
) -> Array:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) per image, shape (N,). SPEC: RES-5.

    prod_{j<M} cs_j^{w_j} * ssim_M^{w_M} over M = len(weights) scales, each scale a 2x2 average
    pool of the last; cs_j and ssim_M are clipped at 0 first (as tf.image / pytorch_msssim).
    Small images: the coarsest scale still needs the 11-px window, so H, W >= 11 * 2^(M-1)
    (176 for the 5 default scales); smaller images raise. Pass fewer `weights` (e.g. the first
    three, renormalised) for them rather than shrinking the window.
    """
    weights = tuple(float(w) for w in weights)
    x, y = prepare(pred, target, max_val, crop_border, y_channel)
    min_size = WIN_SIZE * 2 ** (len(weights) - 1)
    if not weights or min(x.shape[1:3]) < min_size:
        raise ValueError(
            f"expected NHWC images with H, W >= {min_size} for {len(weights)}-scale MS-SSIM, got "
            f"{x.shape}; pass fewer weights= for small images"
        )
    out = jnp.ones(x.shape[:1], x.dtype)
    for j, w in enumerate(weights):
        s, cs = _ssim_and_cs(x, y, max_val)
        term = s if j == len(weights) - 1 else cs
        # 0 where term <= 0 (clipped), with a zero rather than NaN gradient there.
        positive = term > 0
        out = out * jnp.where(positive, jnp.where(positive, term, 1.0) ** w, 0.0)
        if j < len(weights) - 1:
            x, y = _downsample2(x), _downsample2(y)
    return out
