"""PSNR and the shared image checks / Y-channel conversion for image-quality metrics.

SPEC: RES-5. Images are NHWC batches with values in [0, max_val]; metrics are per image (N,).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

# ITU-R BT.601 luma as MATLAB `rgb2ycbcr` (the SR convention): Y = 16 + 65.481 R + 128.553 G
# + 24.966 B for R, G, B in [0, 1], giving Y in [16, 235] on the [0, 255] scale.
_BT601_Y = (65.481, 128.553, 24.966)


def rgb_to_y(images: ArrayLike, max_val: float = 1.0) -> Array:
    """BT.601 luma of RGB images (..., 3) in [0, max_val], returned on the same scale (..., 1).

    Y / 255 * max_val, so Y lies in [16/255, 235/255] * max_val. SPEC: RES-5.
    """
    x = jnp.asarray(images)
    if x.shape[-1] != 3:
        raise ValueError(f"expected RGB images (..., 3) for the Y channel, got {x.shape}")
    x = x.astype(jnp.result_type(x.dtype, jnp.float32)) / max_val
    y = 16.0 + x[..., 0] * _BT601_Y[0] + x[..., 1] * _BT601_Y[1] + x[..., 2] * _BT601_Y[2]
    return (y / 255.0 * max_val)[..., None]


def check_nhwc(pred: ArrayLike, target: ArrayLike, min_size: int = 1) -> tuple[Array, Array]:
    """Validate an NHWC pair of one shape; cast to float. Raises with the expected shape."""
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    if pred.ndim != 4:
        raise ValueError(f"expected NHWC images (N, H, W, C), got shape {pred.shape}")
    if pred.shape != target.shape:
        raise ValueError(
            f"expected pred and target of one NHWC shape, got {pred.shape} and {target.shape}"
        )
    n, h, w, c = pred.shape
    if c > 4 and h in (1, 3, 4):
        raise ValueError(
            f"expected NHWC images (N, H, W, C) but shape {pred.shape} looks like NCHW; "
            "transpose with x.transpose(0, 2, 3, 1)"
        )
    if min(h, w) < min_size:
        raise ValueError(
            f"expected NHWC images with H, W >= {min_size} (after crop_border), got {pred.shape}"
        )
    dtype = jnp.result_type(pred.dtype, jnp.float32)
    return pred.astype(dtype), target.astype(dtype)


def prepare(
    pred: ArrayLike, target: ArrayLike, max_val: float, crop_border: int, y_channel: bool
) -> tuple[Array, Array]:
    """Shared preprocessing: NHWC check, optional border crop, optional BT.601 Y channel."""
    pred, target = check_nhwc(pred, target)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        b = crop_border
        if min(pred.shape[1:3]) <= 2 * b:
            raise ValueError(f"crop_border={b} leaves no pixels of images {pred.shape}")
        pred, target = pred[:, b:-b, b:-b, :], target[:, b:-b, b:-b, :]
    if y_channel:
        pred, target = rgb_to_y(pred, max_val), rgb_to_y(target, max_val)
    return pred, target


def psnr(
    pred: ArrayLike,
    target: ArrayLike,
    max_val: float = 1.0,
    crop_border: int = 0,
    *,
    y_channel: bool = False,
) -> Array:
    """Peak signal-to-noise ratio 10 log10(max_val^2 / MSE) per image, shape (N,). SPEC: RES-5.

    NHWC in [0, max_val]; `crop_border` px are dropped per side first (SR: the scale);
    `y_channel=True` scores BT.601 Y only (SR tables). Identical images give inf.
    """
    pred, target = prepare(pred, target, max_val, crop_border, y_channel)
    mse = jnp.mean(jnp.square(pred - target), axis=(1, 2, 3))
    return 10.0 * jnp.log10(max_val**2 / mse)
