"""Pieces shared by the super-resolution models: initializers and input checks. SPEC: RES-2, RES-3.

`kaiming_normal(scale)` is BasicSR's `default_init_weights`: Kaiming-normal (fan-in, ReLU gain,
std = sqrt(2 / fan_in)) times `scale`, bias 0; ESRGAN uses scale 0.1 in its residual blocks
(Wang et al. 2018, arXiv:1809.00219, sec. 3.1). `TORCH_DEFAULT_INIT` is PyTorch's default conv
init (uniform, std = 1 / sqrt(3 fan_in)), used for the layers BasicSR leaves untouched.
`add_upsampled` is the global residual over the interpolated input (`residual` of `MSRResNet`,
bilinear in BasicSR, and of `RRDBNet`, none in the paper).
"""

import flax.linen as nn
import jax

from jaxdl.nn.resize import resize
from jaxdl.restoration.imresize import imresize

RESIDUALS = ("", "bicubic", "bilinear")

TORCH_DEFAULT_INIT = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")


def kaiming_normal(scale: float = 1.0) -> nn.initializers.Initializer:
    """Kaiming-normal (fan-in, gain sqrt(2)) weights multiplied by `scale`."""
    return nn.initializers.variance_scaling(2.0 * scale**2, "fan_in", "normal")


def check_sr_input(x: jax.Array, name: str, channels: int, multiple: int = 1) -> None:
    """NHWC with `channels` channels and H, W divisible by `multiple` (else a clear error)."""
    if x.ndim != 4 or x.shape[-1] != channels:
        raise ValueError(
            f"{name} expects NHWC images (N, H, W, {channels}) in [0, 1], got shape {x.shape}"
        )
    if x.shape[1] % multiple or x.shape[2] % multiple:
        raise ValueError(
            f"{name} needs H and W divisible by {multiple}, got {x.shape[1]}x{x.shape[2]}: "
            "crop or pad the image first"
        )


def check_residual(name: str, residual: str, in_channels: int, out_channels: int) -> None:
    if residual not in RESIDUALS:
        raise ValueError(f"{name} residual must be one of {RESIDUALS}, got {residual!r}")
    if residual and in_channels != out_channels:
        raise ValueError(f"{name} residual needs in_channels == out_channels")


def add_upsampled(out: jax.Array, x: jax.Array, residual: str) -> jax.Array:
    """`out` + `x` resized to `out`'s size: "bicubic" is MATLAB's (`imresize`, the SR baseline
    itself), "bilinear" torch's (half-pixel, `jaxdl.nn.resize`), "" adds nothing."""
    if residual == "bicubic":
        return out + imresize(x, size=out.shape[1:3]).astype(out.dtype)
    if residual == "bilinear":
        return out + resize(x, out.shape[1:3], "bilinear").astype(out.dtype)
    return out
