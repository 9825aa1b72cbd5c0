"""UNet 3+ (Huang et al. 2020, arXiv:2004.08790): full-scale skips, deep supervision. SPEC: SEG-3.

Encoder: L levels of two 3x3 conv + BN + ReLU, 2x2 max pool between levels (widths
``widths``, the paper's 64..1024). Decoder node X_De^i (i < L) takes every encoder map X_En^j,
j <= i (max-pooled down to level i) and every deeper decoder map X_De^j, j > i (bilinear up;
X_De^L = X_En^L), brings each to ``widths[0]`` channels (the paper's n/5 with n = 5 x 64 = 320)
by a 3x3 conv + BN + ReLU, concatenates and fuses them by a 3x3 conv + BN + ReLU. Deep
supervision: a 3x3 conv head on every X_De^i, bilinearly upsampled to the input (sigmoid in
the loss, `unet3plus_loss`). Classification-guided module (CGM): a presence classifier on
X_En^L (dropout, 1x1 conv, global max pool); the paper's binary "organ / no organ" becomes one
presence logit per foreground class, and `cgm_gate` zeroes the maps of absent classes. NHWC.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.losses.binary import sigmoid_focal_loss
from jaxdl.losses.segmentation import iou_loss
from jaxdl.losses.ssim import ms_ssim_loss
from jaxdl.models.classic import _check_nhwc, _conv
from jaxdl.nn.norm import BatchNorm
from jaxdl.nn.pooling import max_pool
from jaxdl.nn.resize import resize

# MS_SSIM_WEIGHTS[:3] / sum(MS_SSIM_WEIGHTS[:3])
SMALL_MS_SSIM_WEIGHTS = (0.0448 / 0.6305, 0.2856 / 0.6305, 0.3001 / 0.6305)


class ConvBNReLU(nn.Module):
    """3x3 conv (no bias) + BatchNorm + ReLU. (N, H, W, C) -> (N, H, W, features)."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = _conv(self.features, 3)(x)
        return nn.relu(BatchNorm(use_running_average=not train)(x))


class FullScaleNode(nn.Module):
    """Decoder node X_De^i: ``shallow`` encoder maps X_En^1..X_En^i (shallowest first, the last
    at the node's resolution) and ``deep`` decoder maps (any order, coarser), each to
    ``cat_features`` channels, concatenated, fused to ``cat_features * (#inputs)``. SPEC: SEG-3.

    Encoder maps are max-pooled by their size ratio (window = stride, as the reference code);
    decoder maps are resized bilinearly (half-pixel centres, torch ``align_corners=False``).
    """

    cat_features: int

    @nn.compact
    def __call__(
        self, shallow: Sequence[jax.Array], deep: Sequence[jax.Array], train: bool = False
    ) -> jax.Array:
        h, w = shallow[-1].shape[1:3]
        parts = []
        for j, x in enumerate(shallow):
            f = x.shape[1] // h
            if x.shape[1] != f * h or x.shape[2] != f * w:
                raise ValueError(f"encoder map {x.shape} is not an integer multiple of {h}x{w}")
            x = max_pool(x, f, f) if f > 1 else x
            parts.append(ConvBNReLU(self.cat_features, name=f"enc{j + 1}")(x, train))
        for j, x in enumerate(deep):
            x = resize(x, (h, w), "bilinear")
            parts.append(ConvBNReLU(self.cat_features, name=f"dec{j + 1}")(x, train))
        x = jnp.concatenate(parts, axis=-1)
        return ConvBNReLU(self.cat_features * len(parts), name="fuse")(x, train)


class UNet3Plus(nn.Module):
    """UNet 3+. Returns ``{"logits": (N, H, W, K), "side": tuple of (N, H, W, K) deep-supervision
    logits of X_De^2..X_De^L (empty without deep supervision), "presence": (N, K) CGM logits
    (only with ``cgm``)}``. H, W must be multiples of 2^(L-1)."""

    num_classes: int
    widths: Sequence[int] = (64, 128, 256, 512, 1024)
    deep_supervision: bool = True
    cgm: bool = False
    cgm_dropout: float = 0.5

    @property
    def stride(self) -> int:
        return 2 ** (len(self.widths) - 1)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> dict:
        _check_nhwc(x, "UNet3Plus")
        h, w = x.shape[1:3]
        if h % self.stride or w % self.stride:
            raise ValueError(
                f"UNet3Plus: image size {h}x{w} is not divisible by the encoder stride "
                f"{self.stride}; pad or resize to multiples of {self.stride}"
            )
        n_levels = len(self.widths)
        enc = []
        for i, width in enumerate(self.widths):
            if i:
                x = max_pool(x, 2, 2)
            x = ConvBNReLU(width, name=f"enc{i + 1}_a")(x, train)
            x = ConvBNReLU(width, name=f"enc{i + 1}_b")(x, train)
            enc.append(x)
        dec = {n_levels: enc[-1]}
        for i in range(n_levels - 1, 0, -1):
            deeper = [dec[j] for j in range(i + 1, n_levels + 1)]
            node = FullScaleNode(self.widths[0], name=f"dec{i}")
            dec[i] = node(enc[:i], deeper, train)
        out = {"logits": _conv(self.num_classes, 3, use_bias=True, name="head1")(dec[1])}
        side = []
        if self.deep_supervision:
            for i in range(2, n_levels + 1):
                y = _conv(self.num_classes, 3, use_bias=True, name=f"head{i}")(dec[i])
                side.append(resize(y, (h, w), "bilinear"))
        out["side"] = tuple(side)
        if self.cgm:
            y = nn.Dropout(self.cgm_dropout, deterministic=not train)(enc[-1])
            y = nn.Conv(self.num_classes, (1, 1), name="cgm")(y)
            out["presence"] = jnp.max(y, axis=(1, 2))
        return out


def cgm_gate(probs: jax.Array, presence_logits: jax.Array) -> jax.Array:
    """CGM gating: class maps (N, H, W, K) times 1[sigmoid(presence) > 0.5] per (image, class),
    class 0 (background) kept. SPEC: SEG-3 ("no organ" multiplies the output by 0)."""
    keep = (presence_logits > 0).at[:, 0].set(True).astype(probs.dtype)
    return probs * keep[:, None, None, :]


def unet3plus_loss(
    logits: jax.Array,
    onehot: jax.Array,
    *,
    ssim_weights: Sequence[float] = SMALL_MS_SSIM_WEIGHTS,
) -> jax.Array:
    """Hybrid loss of one head: focal (gamma 2, alpha 0.25) + MS-SSIM + IoU on the per-class
    sigmoid maps against one-hot targets (N, H, W, K). SPEC: SEG-3. ``ssim_weights`` default:
    Wang et al.'s first three scale weights renormalised to sum 1 (3 scales fit images >= 44 px;
    the 5 of the paper need 176 px)."""
    probs = jax.nn.sigmoid(logits)
    return (
        sigmoid_focal_loss(logits, onehot)
        + ms_ssim_loss(probs, onehot, scale_weights=ssim_weights)
        + iou_loss(probs, onehot)
    )
