"""DCGAN generator and discriminator (Radford et al. 2016, arXiv:1511.06434). SPEC: GAN-2, GAN-7.

The DCGAN rules: strided (transposed) convs instead of pooling, no fully connected hidden
layers, BatchNorm after every layer except G's output and D's input, ReLU in G with a Tanh
output, LeakyReLU 0.2 in D, weights N(0, 0.02). The layer list is that of the PyTorch DCGAN
tutorial (bias-free 4x4 convs, stride 2, padding 1, BatchNorm scale N(1, 0.02)): at 64x64 with
nz = 100, base 64, 3 channels, G has 3,576,704 and D 2,765,568 parameters. G's first layer
projects z with a bias-free Dense to (s, s, C) (the tutorial's 4x4 stride-1 transposed conv on a
1x1 input, same parameters); s = 4 for powers of two, 7 for 28x28 MNIST (7 -> 14 -> 28).
BatchNorm is `jaxdl.nn.BatchNorm` (torch numerics) in the `batch_stats` collection.
"""

from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.activations import DCGAN_LEAKY_SLOPE, leaky_relu
from jaxdl.nn.conv import Conv2d, ConvTranspose
from jaxdl.nn.norm import BatchNorm
from jaxdl.nn.spectral_norm import SpectralNorm

DCGAN_INIT = nn.initializers.normal(0.02)  # conv / dense weights, GAN-2


def _scale_init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


class _BatchNorm(BatchNorm):
    """`jaxdl.nn.BatchNorm` with its scale initialized N(1, 0.02) (DCGAN reference init)."""

    @nn.nowrap
    def param(self, name, init_fn, *args, **kwargs):
        return super().param(name, _scale_init if name == "scale" else init_fn, *args, **kwargs)


def dcgan_layout(image_size: int) -> tuple[int, int]:
    """(start size s, number of 2x resamplings n) with image_size = s * 2**n, s <= 7.

    64 -> (4, 4), 32 -> (4, 3), 28 -> (7, 2), 16 -> (4, 2).
    """
    s, n = image_size, 0
    while s % 2 == 0 and s > 7:
        s, n = s // 2, n + 1
    if n == 0 or s > 7:
        raise ValueError(f"DCGAN needs image_size = s * 2**n with n >= 1, s <= 7; got {image_size}")
    return s, n


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, image_size, image_size, out_channels) in [-1, 1].

    Dense projection to (s, s, base * 2**(n-1)) + BN + ReLU, then n - 1 transposed convs
    (4x4, stride 2, padding 1; widths halving to `base`) each + BN + ReLU, and a last transposed
    conv to `out_channels` + Tanh (no BN). `train=True` normalizes with batch statistics and
    updates `batch_stats` (apply with `mutable=["batch_stats"]`); False uses running averages.
    """

    latent_dim: int = 100
    base: int = 64
    out_channels: int = 3
    image_size: int = 64

    @nn.compact
    def __call__(self, z: jax.Array, train: bool = False) -> jax.Array:
        if z.ndim != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"DCGANGenerator expects z (N, {self.latent_dim}), got {z.shape}")
        s, n = dcgan_layout(self.image_size)
        bn = partial(_BatchNorm, use_running_average=not train)
        width = self.base * 2 ** (n - 1)
        x = nn.Dense(s * s * width, use_bias=False, kernel_init=DCGAN_INIT, name="project")(z)
        x = nn.relu(bn(name="project_bn")(x.reshape(z.shape[0], s, s, width)))
        up = partial(ConvTranspose, kernel_size=4, strides=2, padding=1, use_bias=False)
        for i in range(n - 1):
            width //= 2
            x = up(width, kernel_init=DCGAN_INIT, name=f"up{i}")(x)
            x = nn.relu(bn(name=f"up{i}_bn")(x))
        return jnp.tanh(up(self.out_channels, kernel_init=DCGAN_INIT, name="out")(x))


class DCGANDiscriminator(nn.Module):
    """Images (N, H, H, C) -> logits (N,) (one per image; no sigmoid).

    n strided convs (4x4, stride 2, padding 1; widths base, 2 base, ...) + LeakyReLU 0.2, with
    BatchNorm on all but the first, then an s x s valid conv to one channel (for 64x64:
    64 -> 32 -> 16 -> 8 -> 4 -> 1); H = s * 2**n as for the generator. Convs are bias-free.
    `spectral_norm=True` is the SN-GAN variant (Miyato et al. 2018, arXiv:1802.05957, GAN-7):
    no BatchNorm, every conv (with a bias) wrapped in `jaxdl.nn.SpectralNorm`, whose u, v, sigma
    also live in `batch_stats`. Either way `train=True` updates `batch_stats`: apply with
    `mutable=["batch_stats"]` (`has_mutable=True` in `jaxdl.train.adversarial`).
    `batch_norm=False` (without spectral norm) is the WGAN-GP critic (Gulrajani et al. 2017,
    GAN-3): no normalization, convs with a bias, so the gradient penalty is per sample.
    """

    base: int = 64
    spectral_norm: bool = False
    batch_norm: bool = True
    sn_steps: int = 1

    @nn.nowrap
    def _conv(self, x: jax.Array, features: int, k: int, s: int, p: int, name: str, train: bool):
        if not self.spectral_norm:
            bias = not self.batch_norm
            conv = Conv2d(features, k, s, p, use_bias=bias, kernel_init=DCGAN_INIT, name=name)
            return conv(x)
        conv = Conv2d(features, k, s, p, kernel_init=DCGAN_INIT, parent=None)
        return SpectralNorm(conv, n_steps=self.sn_steps, name=name)(x, update_stats=train)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if x.ndim != 4 or x.shape[1] != x.shape[2]:
            raise ValueError(f"DCGANDiscriminator expects square NHWC images, got {x.shape}")
        s, n = dcgan_layout(x.shape[1])
        for i in range(n):
            x = self._conv(x, self.base * 2**i, 4, 2, 1, f"down{i}", train)
            if i > 0 and self.batch_norm and not self.spectral_norm:
                x = _BatchNorm(use_running_average=not train, name=f"down{i}_bn")(x)
            x = leaky_relu(x, DCGAN_LEAKY_SLOPE)
        return self._conv(x, 1, s, 1, 0, "out", train).reshape(x.shape[0])
