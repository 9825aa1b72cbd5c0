"""The DDPM U-Net of Ho et al. 2020 (arXiv:2006.11239): the CIFAR-10 ε-prediction network.

SPEC: DIF-6. A Flax linen port of the official TF `diffusion_tf/models/unet.py` that is also
numerically the diffusers `UNet2DModel` with the `google/ddpm-cifar10-32` configuration, so the
official weights load with `jaxdl.convert.unet_params_from_diffusers` (docs/ddpm_weights.md).
"""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.unet_blocks import (
    AttnBlock,
    Downsample,
    ResBlock,
    Upsample,
    conv3x3,
    default_init,
    group_norm,
)
from jaxdl.nn.embeddings import timestep_embedding

# Ho et al. CIFAR-10 model: 35,746,307 parameters (the diffusers google/ddpm-cifar10-32 count).
CIFAR10_NUM_PARAMS = 35_746_307


class DDPMUNet(nn.Module):
    """ε_θ(x_t, t): x (N, H, W, in_ch) NHWC float, t (N,) int -> (N, H, W, out_ch).

    Defaults are the Ho et al. CIFAR-10 model (SPEC DIF-6): base `ch` 128, `ch_mult` (1, 2, 2, 2)
    (resolutions 32/16/8/4 for 32x32 inputs), `num_res_blocks` 2 per level on the way down and
    `num_res_blocks + 1` on the way up (skip concatenation), single-head self-attention where the
    feature map's height is in `attn_resolutions` plus a middle res-attn-res, GroupNorm
    (`num_groups`, eps 1e-6), Swish, `dropout` 0.1, sinusoidal time embedding of width `ch`
    (sin ‖ cos, freq shift 1) then Dense(4ch)-Swish-Dense(4ch). H and W must be divisible by
    2^(len(ch_mult) - 1). `in_ch` is 6 for the DIF-5 conditional model. Apply as
    `model.apply({"params": p}, x, t, train=True, rngs={"dropout": key})` when training.
    `fused_norm` (default) computes GroupNorm+Swish with `jaxdl.nn.fused_norm` (faster on CPU,
    same function and parameters); False uses plain flax GroupNorm + Swish.
    """

    ch: int = 128
    ch_mult: Sequence[int] = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: Sequence[int] = (16,)
    dropout: float = 0.1
    out_ch: int = 3
    in_ch: int = 3
    num_groups: int = 32
    dtype: Any = jnp.float32
    fused_norm: bool = True

    def _check_inputs(self, x: jax.Array, t: jax.Array) -> jax.Array:
        factor = 2 ** (len(self.ch_mult) - 1)
        if x.ndim != 4 or x.shape[-1] != self.in_ch:
            hint = (
                " (NCHW input? transpose it to NHWC)"
                if x.ndim == 4 and (x.shape[1] == self.in_ch)
                else ""
            )
            raise ValueError(
                f"DDPMUNet expects NHWC images (N, H, W, {self.in_ch}), got shape "
                f"{tuple(x.shape)}{hint}"
            )
        if x.shape[1] % factor or x.shape[2] % factor:
            raise ValueError(
                f"DDPMUNet with {len(self.ch_mult)} levels needs H and W divisible "
                f"by {factor}, got H={x.shape[1]}, W={x.shape[2]}"
            )
        bad = [self.ch * m for m in self.ch_mult if (self.ch * m) % self.num_groups]
        if self.ch % self.num_groups or bad:
            raise ValueError(
                f"num_groups={self.num_groups} must divide every channel count "
                f"(ch={self.ch}, ch * ch_mult={[self.ch * m for m in self.ch_mult]})"
            )
        t = jnp.asarray(t)
        if t.ndim == 0:
            t = jnp.broadcast_to(t, (x.shape[0],))
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must have shape (batch,) = ({x.shape[0]},), got {t.shape}")
        return t

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, train: bool = False) -> jax.Array:
        t = self._check_inputs(x, t)
        x = x.astype(self.dtype)
        attn = dict(num_groups=self.num_groups, dtype=self.dtype, fused_norm=self.fused_norm)
        blk = dict(dropout=self.dropout, **attn)
        dense = dict(kernel_init=default_init, dtype=self.dtype)

        temb = timestep_embedding(t, self.ch, flip_sin_to_cos=False, downscale_freq_shift=1.0)
        temb = nn.Dense(4 * self.ch, **dense, name="temb_dense_0")(temb.astype(self.dtype))
        temb = nn.Dense(4 * self.ch, **dense, name="temb_dense_1")(nn.silu(temb))

        h = conv3x3(self.ch, self.dtype, "conv_in")(x)
        hs = [h]
        num_levels = len(self.ch_mult)
        for level, mult in enumerate(self.ch_mult):
            for i in range(self.num_res_blocks):
                h = ResBlock(self.ch * mult, **blk, name=f"down_{level}_res_{i}")(h, temb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = AttnBlock(**attn, name=f"down_{level}_attn_{i}")(h)
                hs.append(h)
            if level != num_levels - 1:
                h = Downsample(self.dtype, name=f"down_{level}_downsample")(h)
                hs.append(h)

        h = ResBlock(h.shape[-1], **blk, name="mid_res_0")(h, temb, train)
        h = AttnBlock(**attn, name="mid_attn")(h)
        h = ResBlock(h.shape[-1], **blk, name="mid_res_1")(h, temb, train)

        for level in reversed(range(num_levels)):
            for i in range(self.num_res_blocks + 1):
                h = jnp.concatenate([h, hs.pop()], axis=-1)
                h = ResBlock(self.ch * self.ch_mult[level], **blk, name=f"up_{level}_res_{i}")(
                    h, temb, train
                )
                if h.shape[1] in self.attn_resolutions:
                    h = AttnBlock(**attn, name=f"up_{level}_attn_{i}")(h)
            if level != 0:
                h = Upsample(self.dtype, name=f"up_{level}_upsample")(h)
        assert not hs

        h = group_norm(self.num_groups, self.dtype, "norm_out", True, self.fused_norm)(h)
        h = conv3x3(self.out_ch, self.dtype, "conv_out", zero=True)(h)
        return h.astype(jnp.float32)
