"""CycleGAN ResNet generator and 70x70 PatchGAN (Zhu et al. 2017, arXiv:1703.10593). SPEC: GAN-5.

Layer lists of the paper's appendix (7.2) and the official PyTorch code with `norm="instance"`:
InstanceNorm without affine parameters (`jaxdl.nn.InstanceNorm`), convs with biases, weights
N(0, 0.02), biases 0. Reference sizes: `ResnetGenerator()` (9 blocks, for 256x256) has
11,378,179 parameters, `PatchDiscriminator()` 2,764,737. Neither has state beyond `params`.
Images NHWC in [-1, 1].
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.activations import leaky_relu
from jaxdl.nn.conv import Conv2d, ConvTranspose
from jaxdl.nn.norm import InstanceNorm

CYCLEGAN_INIT = nn.initializers.normal(0.02)


def reflect_pad(x: jax.Array, p: int) -> jax.Array:
    """torch `ReflectionPad2d(p)` on NHWC (the edge row is not repeated)."""
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")


def _check_nhwc(x: jax.Array, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} expects NHWC images (N, H, W, C), got shape {x.shape}")


class ResnetBlock(nn.Module):
    """R_k: x + [reflect-pad 1, 3x3 conv, IN, ReLU, reflect-pad 1, 3x3 conv, IN](x). (N,H,W,k)."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = Conv2d(self.features, 3, padding=0, kernel_init=CYCLEGAN_INIT, name="conv0")(
            reflect_pad(x, 1)
        )
        y = nn.relu(InstanceNorm()(y))
        y = Conv2d(self.features, 3, padding=0, kernel_init=CYCLEGAN_INIT, name="conv1")(
            reflect_pad(y, 1)
        )
        return x + InstanceNorm()(y)


class ResnetGenerator(nn.Module):
    """c7s1-64, d128, d256, R256 x num_res_blocks, u128, u64, c7s1-3: (N,H,W,C) -> (N,H,W,out).

    c7s1-k: reflect-pad 3, 7x7 conv, IN, ReLU (the last one: no IN, Tanh). dk: 3x3 conv stride 2
    padding 1, IN, ReLU. uk: 3x3 transposed conv stride 2 padding 1 output padding 1 (torch
    semantics), IN, ReLU. Widths scale with `base`; the paper uses 9 blocks at 256x256 and 6 at
    128x128. H and W must be divisible by 2**num_downsampling.
    """

    base: int = 64
    num_res_blocks: int = 9
    out_channels: int = 3
    num_downsampling: int = 2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_nhwc(x, "ResnetGenerator")
        f = 2**self.num_downsampling
        if x.shape[1] % f or x.shape[2] % f:
            raise ValueError(f"ResnetGenerator needs H and W divisible by {f}, got {x.shape}")
        conv = dict(kernel_init=CYCLEGAN_INIT)
        x = Conv2d(self.base, 7, padding=0, name="c7s1_in", **conv)(reflect_pad(x, 3))
        x = nn.relu(InstanceNorm()(x))
        width = self.base
        for i in range(self.num_downsampling):
            width *= 2
            x = nn.relu(InstanceNorm()(Conv2d(width, 3, 2, 1, name=f"down{i}", **conv)(x)))
        for i in range(self.num_res_blocks):
            x = ResnetBlock(width, name=f"res{i}")(x)
        for i in range(self.num_downsampling):
            width //= 2
            up = ConvTranspose(width, 3, 2, 1, output_padding=1, name=f"up{i}", **conv)
            x = nn.relu(InstanceNorm()(up(x)))
        x = Conv2d(self.out_channels, 7, padding=0, name="c7s1_out", **conv)(reflect_pad(x, 3))
        return jnp.tanh(x)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN C64-C128-C256-C512 + 1-channel conv: (N,H,W,C) -> logits (N,H',W',1).

    Ck: 4x4 conv, IN (none on the first layer), LeakyReLU 0.2; strides 2 except the last Ck and
    the output conv (stride 1), all padding 1; widths base * min(2**i, 8) over `num_layers` + 1
    C-layers. Each output logit sees a 70x70 patch (num_layers=3): 256 -> 30x30 logits.
    """

    base: int = 64
    num_layers: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_nhwc(x, "PatchDiscriminator")
        conv = dict(kernel_size=4, padding=1, kernel_init=CYCLEGAN_INIT)
        for i in range(self.num_layers + 1):
            stride = 2 if i < self.num_layers else 1
            x = Conv2d(self.base * min(2**i, 8), strides=stride, name=f"c{i}", **conv)(x)
            if i > 0:
                x = InstanceNorm()(x)
            x = leaky_relu(x, 0.2)
        return Conv2d(1, name="out", **conv)(x)
