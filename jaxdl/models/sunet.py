"""SUNet: a U-Net of Swin Transformer blocks for image denoising.

Fan, Liu, Liu 2022, "SUNet: Swin Transformer UNet for Image Denoising" (ISCAS 2022); Swin blocks
from Liu et al. 2021, arXiv:2103.14030. SPEC: RES-1. The defaults are the paper's configuration:
conv 3x3 3->96, patch 4 (a 4x4 stride-4 conv + LayerNorm), four stages of 8 Swin blocks
(alternating W-MSA / SW-MSA, window 8, shift 4, 8 heads, MLP ratio 4, qkv bias) at 96/192/384/768
channels with PatchMerging after stages 1-3; a decoder that up-samples with the dual up-sampler
(pixel shuffle || bilinear), concatenates the encoder stage's input, projects 2C->C and runs the
stage's Swin blocks again; LayerNorm, dual up-sampling x4 to full resolution and a 3x3 conv to 3
channels (no bias, no global residual). `qk_scale` multiplies the attention logits instead of
head_dim^-1/2: the official training configuration sets 8.

Layout (NHWC): images (B, H, W, 3) in, (B, H, W, out_channels) out. H and W must be multiples of
`size_multiple(model)` = patch * 2^(stages-1) * window for the stages to tile into windows
(`pad_to_multiple` / `jaxdl.restoration.tiling` handle other sizes). As in the official code, a
stage whose map is no larger than the window uses one window covering the map and no shift;
unlike it, the bias table always has the full window's size (the official model sizes it for
the training resolution), so one set of parameters serves every input size. Parameter names
follow the official state dict (`jaxdl.convert.sunet`).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import flax.traverse_util
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.nn.drop_path import DropPath
from jaxdl.nn.sunet_sampling import DualUpSample, PatchMerging
from jaxdl.nn.window_attention import ShiftedWindowAttention

_LN_EPS = 1e-5  # torch.nn.LayerNorm's default, as in the official code


class SwinBlock(nn.Module):
    """Swin Transformer layer: x + DropPath((S)W-MSA(LN(x))), then x + DropPath(MLP(LN(x)))."""

    dim: int
    num_heads: int
    window_size: int
    shift_size: int = 0
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    drop_path: float = 0.0
    table_window: int | None = None

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        h = nn.LayerNorm(epsilon=_LN_EPS, name="norm1")(x)
        h = ShiftedWindowAttention(
            self.dim,
            self.num_heads,
            self.window_size,
            self.shift_size,
            self.qkv_bias,
            self.qk_scale,
            self.table_window,
            name="attn",
        )(h)
        x = x + DropPath(self.drop_path)(h, deterministic)
        h = nn.LayerNorm(epsilon=_LN_EPS, name="norm2")(x)
        h = nn.Dense(int(self.dim * self.mlp_ratio), name="fc1")(h)
        h = nn.Dense(self.dim, name="fc2")(nn.gelu(h, approximate=False))
        return x + DropPath(self.drop_path)(h, deterministic)


class SwinStage(nn.Module):
    """`depth` Swin blocks, shift 0 on even and window/2 on odd blocks (none on small maps)."""

    dim: int
    depth: int
    num_heads: int
    window_size: int
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    drop_path: Sequence[float] = ()

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        h, w = x.shape[1:3]
        window, shift = self.window_size, self.window_size // 2
        if min(h, w) <= window:  # one window covers the map (official rule)
            window, shift = min(h, w), 0
        if h % window or w % window:
            raise ValueError(
                f"a {self.dim}-channel stage got a {h}x{w} map, not divisible by the window "
                f"{window}: pad the image to a multiple of the model's size_multiple"
            )
        rates = list(self.drop_path) or [0.0] * self.depth
        for i in range(self.depth):
            x = SwinBlock(
                self.dim,
                self.num_heads,
                window,
                0 if i % 2 == 0 else shift,
                self.mlp_ratio,
                self.qkv_bias,
                self.qk_scale,
                rates[i],
                table_window=self.window_size,
                name=f"blocks_{i}",
            )(x, deterministic)
        return x


class SUNet(nn.Module):
    """SUNet (SPEC RES-1). images (B, H, W, in_channels) -> (B, H, W, out_channels)."""

    embed_dim: int = 96
    depths: Sequence[int] = (8, 8, 8, 8)
    num_heads: Sequence[int] = (8, 8, 8, 8)
    window_size: int = 8
    patch_size: int = 4
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_scale: float | None = 8.0
    drop_path_rate: float = 0.1
    patch_norm: bool = True
    in_channels: int = 3
    out_channels: int = 3

    @nn.compact
    def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
        self._check(images)
        det = not train
        stages = len(self.depths)
        dims = [self.embed_dim * 2**i for i in range(stages)]
        rates = np.linspace(0.0, self.drop_path_rate, sum(self.depths)).tolist()
        stage_rates = [
            rates[sum(self.depths[:i]) : sum(self.depths[: i + 1])] for i in range(stages)
        ]

        def stage(i: int, name: str) -> SwinStage:
            return SwinStage(
                dims[i],
                self.depths[i],
                self.num_heads[i],
                self.window_size,
                self.mlp_ratio,
                self.qkv_bias,
                self.qk_scale,
                stage_rates[i],
                name=name,
            )

        x = nn.Conv(self.embed_dim, (3, 3), padding=1, name="conv_first")(images)
        p = self.patch_size
        x = nn.Conv(self.embed_dim, (p, p), strides=p, padding="VALID", name="patch_embed")(x)
        if self.patch_norm:
            x = nn.LayerNorm(epsilon=_LN_EPS, name="patch_norm")(x)
        skips = []
        for i in range(stages):  # encoder; PatchMerging after every stage but the last
            skips.append(x)
            x = stage(i, f"layers_{i}")(x, det)
            if i < stages - 1:
                x = PatchMerging(dims[i], epsilon=_LN_EPS, name=f"downsample_{i}")(x)
        x = nn.LayerNorm(epsilon=_LN_EPS, name="norm")(x)
        x = DualUpSample(dims[-1], 2, name="layers_up_0")(x)
        for j in range(1, stages):  # decoder: concat skip, 2C -> C, blocks, up-sample
            i = stages - 1 - j
            x = jnp.concatenate([x, skips[i]], axis=-1)
            x = nn.Dense(dims[i], name=f"concat_back_dim_{j}")(x)
            x = stage(i, f"layers_up_{j}")(x, det)
            if j < stages - 1:
                x = DualUpSample(dims[i], 2, name=f"upsample_{j}")(x)
        x = nn.LayerNorm(epsilon=_LN_EPS, name="norm_up")(x)
        x = DualUpSample(self.embed_dim, p, name="up")(x)
        return nn.Conv(self.out_channels, (3, 3), padding=1, use_bias=False, name="output")(x)

    def _check(self, images: jax.Array) -> None:
        if len(self.depths) != len(self.num_heads) or not self.depths:
            raise ValueError(
                f"depths {tuple(self.depths)} and num_heads {tuple(self.num_heads)} need one "
                "entry per stage"
            )
        if self.patch_size not in (2, 4):
            raise ValueError(
                f"patch_size must be 2 or 4 (the dual up-sampler), got {self.patch_size}"
            )
        if images.ndim != 4 or images.shape[-1] != self.in_channels:
            raise ValueError(
                f"SUNet expects NHWC images (B, H, W, {self.in_channels}), got {images.shape}"
            )
        m = self.patch_size * 2 ** (len(self.depths) - 1)
        if images.shape[1] % m or images.shape[2] % m:
            raise ValueError(
                f"SUNet needs H and W divisible by {m} (patch {self.patch_size} x 2^"
                f"{len(self.depths) - 1} merges), got {images.shape[1]}x{images.shape[2]}: pad "
                f"with jaxdl.models.sunet.pad_to_multiple(images, size_multiple(model))"
            )


def init_params(model: SUNet, key: jax.Array, image_size: int = 256) -> dict:
    """Parameters initialised as the official code does: every Linear (Dense) kernel from a
    normal with std 0.02 truncated at ±2 std, biases 0, LayerNorms 1/0; convolutions keep their
    default initialisation. Returns the "params" collection."""
    k_init, k_trunc = jax.random.split(key)
    x = jnp.zeros((1, image_size, image_size, model.in_channels))
    params = model.init(k_init, x)["params"]
    flat = flax.traverse_util.flatten_dict(params)
    keys = jax.random.split(k_trunc, len(flat))
    for k, (path, w) in zip(keys, list(flat.items()), strict=True):
        if path[-1] == "kernel" and w.ndim == 2:
            flat[path] = 0.02 * jax.random.truncated_normal(k, -2.0, 2.0, w.shape, w.dtype)
    return flax.traverse_util.unflatten_dict(flat)


def size_multiple(model: SUNet) -> int:
    """Image sides that are multiples of this work at every stage: patch * 2^(stages-1) * window."""
    return model.patch_size * 2 ** (len(model.depths) - 1) * model.window_size


def pad_to_multiple(images: jax.Array, multiple: int) -> tuple[jax.Array, tuple[int, int]]:
    """Reflect-pads NHWC images at the bottom/right to multiples of `multiple`; returns the
    padded images and the original (H, W) to crop back with `[:, :H, :W]`. Sides shorter than
    the padding needed are padded symmetrically-by-reflection repeatedly (`mode="symmetric"`)."""
    h, w = images.shape[1:3]
    ph, pw = -h % multiple, -w % multiple
    mode = "reflect" if ph < h and pw < w else "symmetric"
    padded = jnp.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode)
    return padded, (h, w)
