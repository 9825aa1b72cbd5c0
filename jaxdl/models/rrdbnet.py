"""RRDBNet, the ESRGAN generator (Wang et al. 2018, arXiv:1809.00219). SPEC: RES-3, RES-4.

SRResNet without BatchNorm whose residual blocks are Residual-in-Residual Dense Blocks (RRDB):

- RDB: five 3x3 convs with dense inputs num_feat + k·num_grow_ch (k = 0..4) → num_grow_ch
  (the last → num_feat), LeakyReLU 0.2 after the first four, out = x + 0.2·conv5;
- RRDB: x + 0.2·RDB3(RDB2(RDB1(x)));
- net: conv3 → num_block RRDBs → conv3, + skip; 2 × [nearest ×2, conv3, LReLU 0.2]; conv3 +
  LReLU; conv3 → out_channels (nearest + conv up-sampling, not pixel shuffle).

The paper's net is nf 64, gc 32, 23 RRDBs, ×4 (16.7M parameters). `scale` 2 and 1 are
Real-ESRGAN's variants (SPEC RES-4): the input is pixel-unshuffled by 2 (12 channels for RGB)
or 4 (48) and then runs the ×4 net, so H and W must be divisible by 2 or 4. RDB convs start
Kaiming-normal ×0.1 with zero bias, the other convs with PyTorch's default init, as BasicSR's
`RRDBNet`. Parameter names follow BasicSR's (`body_0/rdb1/conv1` ↔ `body.0.rdb1.conv1`), see
`jaxdl.convert.basicsr`.

`residual` ("" by default, the paper's net) is an option outside the papers: "bicubic" or
"bilinear" adds the interpolated input to the output (MATLAB bicubic, the SR baseline itself, or
torch-style bilinear as BasicSR's MSRResNet does), so the net learns only the residual over the
baseline. It adds no parameters: BasicSR checkpoints load either way.

Shapes: (N, H, W, in_channels) in [0, 1] → (N, H·scale, W·scale, out_channels).
"""

import operator

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.sr_common import (
    TORCH_DEFAULT_INIT,
    add_upsampled,
    check_residual,
    check_sr_input,
    kaiming_normal,
)
from jaxdl.nn.activations import leaky_relu
from jaxdl.nn.conv import Conv2d
from jaxdl.nn.pixel_shuffle import pixel_unshuffle

RRDB_SCALES = (4, 2, 1)
_UNSHUFFLE = {4: 1, 2: 2, 1: 4}


def _conv(features: int, name: str, init=TORCH_DEFAULT_INIT) -> Conv2d:
    return Conv2d(features, 3, 1, 1, kernel_init=init, name=name)


def _lrelu(x: jax.Array) -> jax.Array:
    return leaky_relu(x, 0.2)


class ResidualDenseBlock(nn.Module):
    """RDB: 5 densely connected 3x3 convs, out = x + res_scale·conv5 (SPEC RES-3)."""

    num_feat: int = 64
    num_grow_ch: int = 32
    res_scale: float = 0.2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = kaiming_normal(0.1)
        feats = [x]
        for i in range(1, 5):
            h = _conv(self.num_grow_ch, f"conv{i}", init)(jnp.concatenate(feats, -1))
            feats.append(_lrelu(h))
        out = _conv(self.num_feat, "conv5", init)(jnp.concatenate(feats, -1))
        return x + self.res_scale * out


class RRDB(nn.Module):
    """Residual in residual dense block: x + res_scale·RDB3(RDB2(RDB1(x))) (SPEC RES-3)."""

    num_feat: int = 64
    num_grow_ch: int = 32
    res_scale: float = 0.2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        out = x
        for i in range(1, 4):
            out = ResidualDenseBlock(
                self.num_feat, self.num_grow_ch, self.res_scale, name=f"rdb{i}"
            )(out)
        return x + self.res_scale * out


def _upsample_nearest2(x: jax.Array) -> jax.Array:
    """Nearest ×2 (torch `F.interpolate(scale_factor=2, mode="nearest")`)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class RRDBNet(nn.Module):
    """ESRGAN generator, (N, H, W, C) in [0, 1] → (N, H·scale, W·scale, C_out) (SPEC RES-3)."""

    in_channels: int = 3
    out_channels: int = 3
    scale: int = 4
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32
    res_scale: float = 0.2
    residual: str = ""  # "" (paper) | "bicubic" | "bilinear": add the upsampled input

    def __post_init__(self):
        if self.scale not in RRDB_SCALES:
            raise ValueError(f"RRDBNet scale must be one of {RRDB_SCALES}, got {self.scale!r}")
        check_residual("RRDBNet", self.residual, self.in_channels, self.out_channels)
        for field in ("in_channels", "out_channels", "num_feat", "num_block", "num_grow_ch"):
            value = getattr(self, field)
            try:
                ok = operator.index(value) >= 1
            except TypeError:
                ok = False
            if not ok:
                raise ValueError(f"RRDBNet {field} must be a positive int, got {value!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        r = _UNSHUFFLE[self.scale]
        check_sr_input(x, f"RRDBNet(scale={self.scale})", self.in_channels, r)
        feat = pixel_unshuffle(x, r) if r > 1 else x
        feat = _conv(self.num_feat, "conv_first")(feat)
        body = feat
        for i in range(self.num_block):
            body = RRDB(self.num_feat, self.num_grow_ch, self.res_scale, name=f"body_{i}")(body)
        feat = feat + _conv(self.num_feat, "conv_body")(body)
        for i in (1, 2):
            feat = _lrelu(_conv(self.num_feat, f"conv_up{i}")(_upsample_nearest2(feat)))
        feat = _lrelu(_conv(self.num_feat, "conv_hr")(feat))
        return add_upsampled(_conv(self.out_channels, "conv_last")(feat), x, self.residual)
