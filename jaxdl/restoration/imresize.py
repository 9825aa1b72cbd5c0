"""MATLAB-compatible bicubic `imresize`, the degradation of the SR literature's ×s benchmarks.

SPEC: RES-3, RES-5. LR images of DIV2K, Set5, Set14 and BSD100 are made by MATLAB's
`imresize(hr, 1/s, 'bicubic')`: the Keys cubic (a = -0.5), antialiased when shrinking (the kernel
stretched by 1/s and scaled by s), pixel centres mapped so that 0.5 in the output is 0.5 in the
input, symmetric (edge-repeating) padding, rows then columns. Each axis is one linear map, built
here as a dense (out, in) matrix, so the resize is two matrix products (NumPy in float64, or jax
under `jit`). Equal to BasicSR's `matlab_functions.imresize` (its tests: within 1e-5).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """The Keys cubic convolution kernel with a = -0.5, MATLAB's 'bicubic' (support [-2, 2])."""
    a = np.abs(x)
    near = (1.5 * a**3 - 2.5 * a**2 + 1.0) * (a <= 1)
    far = (-0.5 * a**3 + 2.5 * a**2 - 4.0 * a + 2.0) * ((a > 1) & (a <= 2))
    return near + far


@functools.cache
def resize_matrix(in_len: int, out_len: int, scale: float, antialias: bool = True) -> np.ndarray:
    """(out_len, in_len) float64 matrix of MATLAB's bicubic resize along one axis.

    `scale` is MATLAB's scale factor for this axis (out/in when an output size is given). Row i
    holds the normalised kernel weights of output pixel i; taps outside [0, in_len) fold back
    symmetrically (index -1 reads 0, index in_len reads in_len - 1).
    """
    if in_len < 1 or out_len < 1 or not scale > 0:
        raise ValueError(f"expected positive sizes and scale, got {in_len=}, {out_len=}, {scale=}")
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = left[:, None] + np.arange(math.ceil(width) + 2)[None, :]  # 1-based input indices
    dist = u[:, None] - taps
    weights = scale * cubic(dist * scale) if shrink else cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    j = np.mod(taps.astype(np.int64) - 1, 2 * in_len)  # 0-based, period 2n of the mirrored axis
    j = np.where(j >= in_len, 2 * in_len - 1 - j, j)
    matrix = np.zeros((out_len, in_len), np.float64)
    np.add.at(matrix, (np.repeat(np.arange(out_len), taps.shape[1]), j.ravel()), weights.ravel())
    matrix.setflags(write=False)
    return matrix


def resize_shape(
    shape: tuple[int, int], scale: float | None, size: tuple[int, int] | None
) -> tuple[tuple[int, int], tuple[float, float]]:
    """MATLAB's output (H, W) and per-axis scale: ceil(shape * scale), or `size` with
    size / shape."""
    if (scale is None) == (size is None):
        raise ValueError("pass exactly one of scale= and size=")
    if size is not None:
        size = tuple(int(o) for o in size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be two positive ints (H, W), got {size}")
        return size, (size[0] / shape[0], size[1] / shape[1])
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return (math.ceil(shape[0] * scale), math.ceil(shape[1] * scale)), (scale, scale)


def imresize(
    image,
    scale: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
):
    """MATLAB `imresize(image, scale | [H W], 'bicubic')` of (H, W, C) or (N, H, W, C) images.

    NumPy input is resized in float64 and returned as float64 (float32 stays float32); jax input
    in its float dtype (at least float32), jit-able. No rounding or clipping: values keep the
    input's scale (bicubic overshoots slightly), quantize afterwards as needed.
    """
    if image.ndim not in (3, 4):
        raise ValueError(f"expected an image (H, W, C) or a batch (N, H, W, C), got {image.shape}")
    (oh, ow), (sh, sw) = resize_shape(image.shape[-3:-1], scale, size)
    mh = resize_matrix(image.shape[-3], oh, sh, antialias)
    mw = resize_matrix(image.shape[-2], ow, sw, antialias)
    if isinstance(image, jax.Array):
        x = image.astype(jnp.result_type(image.dtype, jnp.float32))
        hi = jax.lax.Precision.HIGHEST
        x = jnp.einsum("oh,...hwc->...owc", mh.astype(x.dtype), x, precision=hi)
        return jnp.einsum("pw,...owc->...opc", mw.astype(x.dtype), x, precision=hi)
    x = np.asarray(image)
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    x = np.einsum("oh,...hwc->...owc", mh, x.astype(np.float64), optimize=True)
    return np.einsum("pw,...owc->...opc", mw, x, optimize=True).astype(dtype)
