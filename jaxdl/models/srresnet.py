"""SRResNet (Ledig et al. 2017, arXiv:1609.04802) and BasicSR's BN-free MSRResNet. SPEC: RES-2.

`SRResNet`, the SRGAN generator as in the paper: conv9 → PReLU; `num_block` residual blocks
[conv3, BN, PReLU, conv3, BN, + x]; conv3, BN, + the head's output; up-sampling by sub-pixel
convolution (×4: 2 × [conv3 → 4·num_feat, pixel shuffle 2, PReLU]; ×2 one such block; ×3 one
with 9·num_feat and shuffle 3); conv9 → out_channels. BatchNorm is `jaxdl.nn.BatchNorm` (torch
numerics): apply with `train=True, mutable=["batch_stats"]` while training. The paper scales
HR targets to [-1, 1]; here inputs and outputs are both in [0, 1] (the last conv is linear, so
the range is a matter of the targets), the convention every jaxdl SR model shares.

`MSRResNet` ("modified SRResNet", BasicSR): no BatchNorm, residual blocks x + conv(ReLU(conv x))
(Kaiming-normal ×0.1 init), LeakyReLU 0.1, pixel-shuffle up-sampling as above (no PReLU),
conv_hr + LReLU, conv_last, plus the bilinearly up-sampled input (global residual; `residual`
"bicubic" adds MATLAB's bicubic instead, the SR baseline, and "" nothing: no parameters change).
Parameter names follow BasicSR's (`body_0/conv1` ↔ `body.0.conv1`), see `jaxdl.convert.basicsr`.

Shapes: (N, H, W, in_channels) in [0, 1] → (N, H·upscale, W·upscale, out_channels).
"""

from functools import partial

import flax.linen as nn
import jax

from jaxdl.models.sr_common import (
    TORCH_DEFAULT_INIT,
    add_upsampled,
    check_residual,
    check_sr_input,
    kaiming_normal,
)
from jaxdl.nn.activations import PReLU, leaky_relu, relu
from jaxdl.nn.conv import Conv2d
from jaxdl.nn.norm import BatchNorm
from jaxdl.nn.pixel_shuffle import pixel_shuffle

SR_UPSCALES = (2, 3, 4)


def _check_config(name: str, upscale: int, num_block: int) -> None:
    if upscale not in SR_UPSCALES:
        raise ValueError(f"{name} upscale must be one of {SR_UPSCALES}, got {upscale!r}")
    if not isinstance(num_block, int) or num_block < 0:
        raise ValueError(f"{name} num_block must be a non-negative int, got {num_block!r}")


def _up_steps(upscale: int) -> list[int]:
    """Pixel-shuffle factors: ×4 = 2 × (shuffle 2); ×2, ×3 one shuffle."""
    return [2, 2] if upscale == 4 else [upscale]


class ResidualBlockBN(nn.Module):
    """SRResNet block: x + BN(conv3(PReLU(BN(conv3(x))))) (SPEC RES-2)."""

    num_feat: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        conv = partial(Conv2d, self.num_feat, 3, 1, 1, kernel_init=TORCH_DEFAULT_INIT)
        bn = partial(BatchNorm, use_running_average=not train)
        r = PReLU(name="prelu")(bn(name="bn1")(conv(name="conv1")(x)))
        return x + bn(name="bn2")(conv(name="conv2")(r))


class ResidualBlockNoBN(nn.Module):
    """MSRResNet block: x + conv3(ReLU(conv3(x))), Kaiming-normal ×0.1 init (SPEC RES-2)."""

    num_feat: int = 64

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        conv = partial(Conv2d, self.num_feat, 3, 1, 1, kernel_init=kaiming_normal(0.1))
        return x + conv(name="conv2")(relu(conv(name="conv1")(x)))


class SRResNet(nn.Module):
    """Ledig et al.'s SRResNet with BatchNorm (SPEC RES-2); `train` selects batch statistics."""

    in_channels: int = 3
    out_channels: int = 3
    num_feat: int = 64
    num_block: int = 16
    upscale: int = 4

    def __post_init__(self):
        _check_config("SRResNet", self.upscale, self.num_block)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        check_sr_input(x, "SRResNet", self.in_channels)
        f = self.num_feat

        def bn(name: str) -> BatchNorm:
            return BatchNorm(use_running_average=not train, name=name)

        def conv(features: int, name: str, k: int = 3) -> Conv2d:
            return Conv2d(features, k, 1, k // 2, kernel_init=TORCH_DEFAULT_INIT, name=name)

        head = PReLU(name="prelu_first")(conv(f, "conv_first", 9)(x))
        h = head
        for i in range(self.num_block):
            h = ResidualBlockBN(f, name=f"body_{i}")(h, train)
        h = head + bn("bn_body")(conv(f, "conv_body")(h))
        for i, r in enumerate(_up_steps(self.upscale), 1):
            h = PReLU(name=f"prelu_up{i}")(pixel_shuffle(conv(f * r * r, f"upconv{i}")(h), r))
        return conv(self.out_channels, "conv_last", 9)(h)


class MSRResNet(nn.Module):
    """BasicSR's BN-free modified SRResNet with a bilinear global residual (SPEC RES-2)."""

    in_channels: int = 3
    out_channels: int = 3
    num_feat: int = 64
    num_block: int = 16
    upscale: int = 4
    residual: str = "bilinear"  # BasicSR | "bicubic" (MATLAB) | "": added up-sampled input

    def __post_init__(self):
        _check_config("MSRResNet", self.upscale, self.num_block)
        check_residual("MSRResNet", self.residual, self.in_channels, self.out_channels)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        check_sr_input(x, "MSRResNet", self.in_channels)
        f, small = self.num_feat, kaiming_normal(0.1)

        def conv(features: int, name: str, init=small) -> Conv2d:
            return Conv2d(features, 3, 1, 1, kernel_init=init, name=name)

        def lrelu(v: jax.Array) -> jax.Array:
            return leaky_relu(v, 0.1)

        h = lrelu(conv(f, "conv_first")(x))
        for i in range(self.num_block):
            h = ResidualBlockNoBN(f, name=f"body_{i}")(h)
        for i, r in enumerate(_up_steps(self.upscale), 1):
            h = lrelu(pixel_shuffle(conv(f * r * r, f"upconv{i}")(h), r))
        out = conv(self.out_channels, "conv_last")(lrelu(conv(f, "conv_hr")(h)))
        return add_upsampled(out, x, self.residual)
