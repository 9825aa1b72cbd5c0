"""Plain U-Net for segmentation (Ronneberger et al. 2015, arXiv:1505.04597), the UNet 3+ baseline.

L levels of two 3x3 conv + BN + ReLU (`jaxdl.models.unet3plus.ConvBNReLU`) with 2x2 max pools;
the decoder upsamples bilinearly (x2), concatenates the same-level encoder map (the plain skip
UNet 3+ replaces with full-scale skips, SPEC: SEG-3) and applies two conv + BN + ReLU; a 1x1
conv gives the logits. Padded convs keep the input size (as the UNet 3+ reference code).
The diffusion U-Net is `jaxdl.models.unet`. Shapes: (N, H, W, C) -> (N, H, W, num_classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.classic import _check_nhwc
from jaxdl.models.unet3plus import ConvBNReLU
from jaxdl.nn.pooling import max_pool
from jaxdl.nn.resize import resize


class SegUNet(nn.Module):
    """U-Net with ``widths`` per level (the paper's 64..1024); H, W multiples of 2^(L-1)."""

    num_classes: int
    widths: Sequence[int] = (64, 128, 256, 512, 1024)

    @property
    def stride(self) -> int:
        return 2 ** (len(self.widths) - 1)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_nhwc(x, "SegUNet")
        h, w = x.shape[1:3]
        if h % self.stride or w % self.stride:
            raise ValueError(
                f"SegUNet: image size {h}x{w} is not divisible by the encoder stride "
                f"{self.stride}; pad or resize to multiples of {self.stride}"
            )
        skips = []
        for i, width in enumerate(self.widths):
            if i:
                x = max_pool(x, 2, 2)
            x = ConvBNReLU(width, name=f"enc{i + 1}_a")(x, train)
            x = ConvBNReLU(width, name=f"enc{i + 1}_b")(x, train)
            skips.append(x)
        for i in range(len(self.widths) - 2, -1, -1):
            skip = skips[i]
            x = jnp.concatenate([skip, resize(x, skip.shape[1:3], "bilinear")], axis=-1)
            x = ConvBNReLU(self.widths[i], name=f"dec{i + 1}_a")(x, train)
            x = ConvBNReLU(self.widths[i], name=f"dec{i + 1}_b")(x, train)
        return nn.Conv(self.num_classes, (1, 1), name="head")(x)
