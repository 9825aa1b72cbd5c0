"""Building blocks of the DDPM U-Net: residual, self-attention, down- and up-sampling (NHWC).

Ho et al. 2020 (arXiv:2006.11239), official TF code `diffusion_tf/models/unet.py`. SPEC: DIF-6.
Sub-module names follow the official code (norm1, conv1, temb_proj, ...); `jaxdl.convert` maps
them to and from the diffusers `UNet2DModel` names.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.fused_norm import FusedGroupNorm

# Official code: variance scaling (fan_avg, uniform) everywhere, zero biases; the last conv of a
# residual block, the attention output projection and the output conv start at (near) zero.
default_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")
zero_init = nn.initializers.zeros


def conv3x3(features: int, dtype: Any, name: str, zero: bool = False) -> nn.Conv:
    """3x3 stride-1 convolution with symmetric padding 1 (PyTorch `padding=1`)."""
    init = zero_init if zero else default_init
    return nn.Conv(
        features, (3, 3), padding=((1, 1), (1, 1)), kernel_init=init, dtype=dtype, name=name
    )


def group_norm(num_groups: int, dtype: Any, name: str, silu: bool, fused: bool):
    """GroupNorm(num_groups, eps 1e-6), then Swish if `silu`. `fused` selects
    `jaxdl.nn.fused_norm.FusedGroupNorm` (same function and parameters, faster on CPU);
    otherwise plain `flax.linen.GroupNorm` + `nn.silu`."""
    if fused:
        return FusedGroupNorm(num_groups, 1e-6, silu=silu, dtype=dtype, name=name)
    norm = nn.GroupNorm(num_groups, epsilon=1e-6, dtype=dtype, name=name)
    return (lambda x: nn.silu(norm(x))) if silu else norm


class ResBlock(nn.Module):
    """GN-Swish-conv3-(+Dense(Swish(temb)))-GN-Swish-dropout-conv3, plus a 1x1 shortcut.

    x (N, H, W, C_in), temb (N, D) -> (N, H, W, out_ch). SPEC: DIF-6 "Res".
    """

    out_ch: int
    dropout: float
    num_groups: int = 32
    dtype: Any = jnp.float32
    fused_norm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, temb: jax.Array, train: bool) -> jax.Array:
        gn = dict(num_groups=self.num_groups, dtype=self.dtype, silu=True, fused=self.fused_norm)
        h = group_norm(**gn, name="norm1")(x)
        h = conv3x3(self.out_ch, self.dtype, "conv1")(h)
        t = nn.Dense(self.out_ch, kernel_init=default_init, dtype=self.dtype, name="temb_proj")
        h = h + t(nn.silu(temb))[:, None, None, :]
        h = group_norm(**gn, name="norm2")(h)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = conv3x3(self.out_ch, self.dtype, "conv2", zero=True)(h)
        if x.shape[-1] != self.out_ch:
            x = nn.Dense(
                self.out_ch, kernel_init=default_init, dtype=self.dtype, name="nin_shortcut"
            )(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with a residual: x + proj_out(softmax(q k^T / sqrt(C)) v).

    q, k, v and proj_out are 1x1 convolutions (Dense on the channel axis). (N, H, W, C) -> same.
    Softmax in float32. SPEC: DIF-6 "Attn".
    """

    num_groups: int = 32
    dtype: Any = jnp.float32
    fused_norm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        n, hgt, wid, c = x.shape
        h = group_norm(self.num_groups, self.dtype, "norm", silu=False, fused=self.fused_norm)(x)
        h = h.reshape(n, hgt * wid, c)
        dense = dict(kernel_init=default_init, dtype=self.dtype)
        q = nn.Dense(c, **dense, name="q")(h)
        k = nn.Dense(c, **dense, name="k")(h)
        v = nn.Dense(c, **dense, name="v")(h)
        logits = jnp.einsum("bqc,bkc->bqk", q, k) * (c**-0.5)
        w = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(v.dtype)
        h = jnp.einsum("bqk,bkc->bqc", w, v)
        h = nn.Dense(c, kernel_init=zero_init, dtype=self.dtype, name="proj_out")(h)
        return x + h.reshape(n, hgt, wid, c)


class Downsample(nn.Module):
    """3x3 stride-2 conv with TF "SAME" padding for even sizes: pad (0, 1) on H and W.

    Equals diffusers `Downsample2D(padding=0)` (F.pad (0, 1, 0, 1) then conv). (N, H, W, C) ->
    (N, H/2, W/2, C). SPEC: DIF-6 "Down".
    """

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Conv(
            x.shape[-1],
            (3, 3),
            strides=(2, 2),
            padding=((0, 1), (0, 1)),
            kernel_init=default_init,
            dtype=self.dtype,
            name="conv",
        )(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2 (PyTorch `F.interpolate(mode="nearest")`) then a 3x3 conv.

    (N, H, W, C) -> (N, 2H, 2W, C). SPEC: DIF-6 "Up".
    """

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        n, h, w, c = x.shape
        x = jnp.broadcast_to(x[:, :, None, :, None, :], (n, h, 2, w, 2, c))
        return conv3x3(c, self.dtype, "conv")(x.reshape(n, 2 * h, 2 * w, c))
