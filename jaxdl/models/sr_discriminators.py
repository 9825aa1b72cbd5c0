"""VGG-style discriminators of SRGAN and ESRGAN. SPEC: RES-2, RES-3.

`SRGANDiscriminator` (Ledig et al. 2017, arXiv:1609.04802, fig. 4), 96² input: conv3 → num_feat
+ LReLU 0.2; seven [conv3, BN, LReLU 0.2] blocks with (channels, stride) (f, 2) (2f, 1) (2f, 2)
(4f, 1) (4f, 2) (8f, 1) (8f, 2); Dense 1024, LReLU 0.2, Dense 1.

`VGGStyleDiscriminator` (ESRGAN, Wang et al. 2018, arXiv:1809.00219; BasicSR's class of that
name), 128² input (or 256², one more pair): five pairs [conv3 stride 1, conv4 stride 2] with
channels f, 2f, 4f, 8f, 8f, BatchNorm after every conv but the first, LReLU 0.2; Dense
8f·4·4 → 100, LReLU, Dense 1. Convs after the first are bias-free. Parameter names follow
BasicSR's (`conv0_0`, `bn0_1`, `linear1`, ...), see `jaxdl.convert.basicsr`.

Both flatten the last feature map in PyTorch's (C, H, W) order, so Dense weights port
unchanged. Input: NHWC images of exactly `input_size`² (checked); output: logits (N,) (no
sigmoid). BatchNorm is `jaxdl.nn.BatchNorm`: `train=True` uses batch statistics and updates
`batch_stats` (apply with `mutable=["batch_stats"]`).
"""

from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.sr_common import TORCH_DEFAULT_INIT
from jaxdl.nn.activations import leaky_relu
from jaxdl.nn.conv import Conv2d
from jaxdl.nn.norm import BatchNorm

SRGAN_BLOCKS = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))  # (× num_feat, stride)


def _lrelu(x: jax.Array) -> jax.Array:
    return leaky_relu(x, 0.2)


def _check_image(x: jax.Array, name: str, size: int, channels: int) -> None:
    if x.shape[1:] != (size, size, channels) or x.ndim != 4:
        raise ValueError(
            f"{name} expects NHWC images (N, {size}, {size}, {channels}) (input_size={size}), "
            f"got shape {x.shape}; crop or resize the images, or build it with another input_size"
        )


def _flatten_chw(x: jax.Array) -> jax.Array:
    """(N, H, W, C) → (N, C·H·W) in torch's `view(N, -1)` order of an NCHW tensor."""
    return jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)


def _dense(features: int, name: str) -> nn.Dense:
    return nn.Dense(features, kernel_init=TORCH_DEFAULT_INIT, name=name)


class SRGANDiscriminator(nn.Module):
    """SRGAN's D: (N, input_size, input_size, C) → logits (N,) (SPEC RES-2).

    `input_size` must be divisible by 16 (four stride-2 convs); the paper's is 96.
    """

    in_channels: int = 3
    num_feat: int = 64
    input_size: int = 96

    def __post_init__(self):
        if not isinstance(self.input_size, int) or self.input_size < 16 or self.input_size % 16:
            raise ValueError(
                f"SRGANDiscriminator input_size must be a positive multiple of 16 (paper: 96), "
                f"got {self.input_size!r}"
            )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_image(x, "SRGANDiscriminator", self.input_size, self.in_channels)
        conv = partial(Conv2d, kernel_size=3, padding=1, kernel_init=TORCH_DEFAULT_INIT)
        x = _lrelu(conv(self.num_feat, name="conv0")(x))
        for i, (mult, stride) in enumerate(SRGAN_BLOCKS, 1):
            x = conv(self.num_feat * mult, strides=stride, name=f"conv{i}")(x)
            x = _lrelu(BatchNorm(use_running_average=not train, name=f"bn{i}")(x))
        x = _lrelu(_dense(1024, "linear1")(_flatten_chw(x)))
        return _dense(1, "linear2")(x).reshape(x.shape[0])


class VGGStyleDiscriminator(nn.Module):
    """ESRGAN's D (BasicSR `VGGStyleDiscriminator`): 128² or 256² input → logits (N,) (RES-3)."""

    in_channels: int = 3
    num_feat: int = 64
    input_size: int = 128

    def __post_init__(self):
        if self.input_size not in (128, 256):
            raise ValueError(
                f"VGGStyleDiscriminator input_size must be 128 or 256, got {self.input_size!r}"
            )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_image(x, "VGGStyleDiscriminator", self.input_size, self.in_channels)
        f = self.num_feat
        widths = (f, 2 * f, 4 * f, 8 * f, 8 * f) + ((8 * f,) if self.input_size == 256 else ())
        x = _lrelu(Conv2d(f, 3, 1, 1, kernel_init=TORCH_DEFAULT_INIT, name="conv0_0")(x))
        for i, width in enumerate(widths):
            for j, (k, s) in enumerate(((3, 1), (4, 2))):
                if i == 0 and j == 0:
                    continue  # conv0_0 above: bias, no BatchNorm
                name = f"conv{i}_{j}"
                x = Conv2d(
                    width, k, s, 1, use_bias=False, kernel_init=TORCH_DEFAULT_INIT, name=name
                )(x)
                x = _lrelu(BatchNorm(use_running_average=not train, name=f"bn{i}_{j}")(x))
        x = _lrelu(_dense(100, "linear1")(_flatten_chw(x)))
        return _dense(1, "linear2")(x).reshape(x.shape[0])
