"""SUNet's down- and up-sampling blocks: Swin PatchMerging and the dual up-sample.

SPEC: RES-1 (Fan et al. 2022, SUNet; Liu et al. 2021, Swin, arXiv:2103.14030). Both
take tokens (B, H·W, C) with `input_resolution=(H, W)` (as the reference code) or NHWC
(B, H, W, C), and return the same layout. Submodule layouts mirror FanChiMao/SUNet so PyTorch
weights port one-to-one (Linear/1×1-conv weights transposed).
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.conv import Conv1x1
from jaxdl.nn.pixel_shuffle import pixel_shuffle
from jaxdl.nn.resize import resize

__all__ = ["DualUpSample", "PatchMerging"]


def _to_nhwc(x: jax.Array, dim: int, res: Sequence[int] | None, name: str) -> jax.Array:
    if x.ndim == 3:
        if res is None:
            raise ValueError(f"{name}: tokens (B, H*W, C) need input_resolution=(H, W)")
        h, w = res
        if x.shape[1] != h * w or x.shape[2] != dim:
            raise ValueError(f"{name} expects tokens (B, {h}*{w}, {dim}), got shape {x.shape}")
        return x.reshape(x.shape[0], h, w, dim)
    if x.ndim != 4 or x.shape[-1] != dim:
        raise ValueError(
            f"{name} expects NHWC (B, H, W, {dim}) or tokens (B, H*W, {dim}), got shape "
            f"{x.shape} (NCHW given?)"
        )
    return x


class PatchMerging(nn.Module):
    """2×2 patch merging: (B,H,W,C) → (B,H/2,W/2,2C) (tokens: (B,H·W,C) → (B,H·W/4,2C)).

    Concat order x0=[0::2,0::2], x1=[1::2,0::2], x2=[0::2,1::2], x3=[1::2,1::2] (row first),
    then LayerNorm(4C, eps 1e-5 as torch) and Dense 4C→2C without bias (SPEC RES-1).
    """

    dim: int
    input_resolution: Sequence[int] | None = None
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        tokens = x.ndim == 3
        x = _to_nhwc(x, self.dim, self.input_resolution, "PatchMerging")
        b, h, w, c = x.shape
        if h % 2 or w % 2:
            raise ValueError(
                f"PatchMerging expects even H and W, i.e. (B, 2*h, 2*w, {c}), got {(b, h, w, c)}"
            )
        x0, x1 = x[:, 0::2, 0::2], x[:, 1::2, 0::2]
        x2, x3 = x[:, 0::2, 1::2], x[:, 1::2, 1::2]
        x = jnp.concatenate([x0, x1, x2, x3], axis=-1)  # (B, H/2, W/2, 4C)
        x = nn.LayerNorm(epsilon=self.epsilon, name="norm")(x)
        x = nn.Dense(2 * c, use_bias=False, name="reduction")(x)
        return x.reshape(b, -1, 2 * c) if tokens else x


class DualUpSample(nn.Module):
    """SUNet dual up-sample: PixelShuffle branch ‖ bilinear branch, fused by a 1×1 conv.

    factor 2: (B,H,W,C) → (B,2H,2W,C/2); factor 4: (B,H,W,C) → (B,4H,4W,C) (SPEC RES-1).
    P: 1×1 C→2C (r=2) or C→16C (r=4), no bias, PReLU, PixelShuffle r,
    1×1; B: 1×1 C→C with bias, PReLU, bilinear ×r (align_corners=False), 1×1; fuse: 1×1.
    PReLU slopes start at 0.25 (torch). Params: up_p_0, up_p_1 (PReLU), up_p_3, up_b_0, up_b_1,
    up_b_3, conv, named after the torch `nn.Sequential` indices.
    """

    dim: int
    factor: int = 2
    input_resolution: Sequence[int] | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.factor not in (2, 4):
            raise ValueError(f"DualUpSample factor must be 2 or 4, got {self.factor!r}")
        tokens = x.ndim == 3
        x = _to_nhwc(x, self.dim, self.input_resolution, "DualUpSample")
        c, r = self.dim, self.factor
        out_c = c // 2 if r == 2 else c
        if r == 2 and c % 2:
            raise ValueError(f"DualUpSample(factor=2) needs an even channel count, got {c}")
        p = Conv1x1(2 * c if r == 2 else 16 * c, use_bias=False, name="up_p_0")(x)
        p = nn.PReLU(negative_slope_init=0.25, name="up_p_1")(p)
        p = pixel_shuffle(p, r)
        p = Conv1x1(out_c, use_bias=False, name="up_p_3")(p)
        b_ = Conv1x1(c, use_bias=True, name="up_b_0")(x)
        b_ = nn.PReLU(negative_slope_init=0.25, name="up_b_1")(b_)
        b_ = resize(b_, (x.shape[1] * r, x.shape[2] * r), "bilinear", align_corners=False)
        b_ = Conv1x1(out_c, use_bias=False, name="up_b_3")(b_)
        out = Conv1x1(out_c, use_bias=False, name="conv")(jnp.concatenate([p, b_], axis=-1))
        return out.reshape(out.shape[0], -1, out_c) if tokens else out
