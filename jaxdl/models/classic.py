"""Classic CNNs of SPEC BAS-7: VGG16, ResNet (basic and bottleneck blocks), Inception block.

Layouts follow torchvision (parameter counts match): explicit torch paddings, convs without
bias before BatchNorm, torch BN numerics (`jaxdl.nn.norm.BatchNorm`). Images NHWC.
`SimpleCNN` lives in `jaxdl.models.cnn`.
"""

from collections.abc import Sequence
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.norm import BatchNorm


def _check_nhwc(x: jax.Array, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} expects NHWC images (N, H, W, C), got shape {x.shape}")
    n, h, w, c = x.shape
    if h in (1, 3) and c not in (1, 3, 4) and w == c:
        raise ValueError(f"{name} expects NHWC (N, H, W, C); got {x.shape}, which looks NCHW")


def _conv(features: int, k: int, strides: int = 1, use_bias: bool = False, name=None) -> nn.Conv:
    p = k // 2  # torch padding k // 2 (differs from flax "SAME" when strides > 1)
    return nn.Conv(
        features, (k, k), (strides, strides), [(p, p), (p, p)], use_bias=use_bias, name=name
    )


class VGG16(nn.Module):
    """VGG16 (Simonyan & Zisserman 2014, configuration D): 138,357,544 parameters at 224x224.

    `stages` of (width, n) 3x3/s1/p1 conv+ReLU, each ending in a 2x2/s2 max pool; then FC
    4096-4096-num_classes with dropout.
    The first FC flattens (H, W, C), not torch's (C, H, W): permute it when porting weights.
    Shapes: (N, 224, 224, 3) -> (N, num_classes).
    """

    num_classes: int = 1000
    dropout_rate: float = 0.5
    stages: Sequence[tuple[int, int]] = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_nhwc(x, "VGG16")
        for width, n_convs in self.stages:
            for _ in range(n_convs):
                x = nn.relu(_conv(width, 3, use_bias=True)(x))
            x = nn.max_pool(x, (2, 2), (2, 2))
        x = x.reshape(x.shape[0], -1)
        for _ in range(2):
            x = nn.relu(nn.Dense(4096)(x))
            x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2015): 3x3 -> BN -> ReLU -> 3x3 -> BN, + shortcut, ReLU.

    The shortcut is a 1x1 conv + BN when strides > 1 or C_in != features. SPEC: BAS-7.
    Shapes: (N, H, W, C_in) -> (N, H / strides, W / strides, features).
    """

    features: int
    strides: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        bn = partial(BatchNorm, use_running_average=not train)
        y = nn.relu(bn()(_conv(self.features, 3, self.strides)(x)))
        y = bn()(_conv(self.features, 3)(y))
        if self.strides != 1 or x.shape[-1] != self.features:
            x = bn(name="shortcut_bn")(_conv(self.features, 1, self.strides, name="shortcut")(x))
        return nn.relu(y + x)


class Bottleneck(nn.Module):
    """ResNet bottleneck: 1x1 C->mid, 3x3 mid->mid (stride here, torchvision v1.5), 1x1 mid->C.

    `mid` defaults to features // 4 (256 -> 64 -> 64 -> 256: 69,632 conv weights vs 1,179,648
    for two 3x3, SPEC BAS-3/BAS-7). Shapes: (N, H, W, C_in) -> (N, H / s, W / s, features).
    """

    features: int
    mid: int | None = None
    strides: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        bn = partial(BatchNorm, use_running_average=not train)
        mid = self.mid or self.features // 4
        y = nn.relu(bn()(_conv(mid, 1)(x)))
        y = nn.relu(bn()(_conv(mid, 3, self.strides)(y)))
        y = bn()(_conv(self.features, 1)(y))
        if self.strides != 1 or x.shape[-1] != self.features:
            x = bn(name="shortcut_bn")(_conv(self.features, 1, self.strides, name="shortcut")(x))
        return nn.relu(y + x)


class ResNet(nn.Module):
    """ResNet (He et al. 2015, arXiv:1512.03385), torchvision layout. SPEC: BAS-7.

    Stem 7x7/2 conv + BN + ReLU + 3x3/2 max pool; stages of `stage_sizes` blocks with widths
    64, 128, 256, 512 (x4 for bottlenecks), stride 2 from the second stage; global average
    pool; Dense. Shapes: (N, H, W, 3) -> (N, num_classes).
    """

    stage_sizes: Sequence[int]
    block: str = "basic"  # "basic" | "bottleneck"
    num_classes: int = 1000
    width: int = 64

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_nhwc(x, "ResNet")
        if self.block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {self.block!r}")
        x = _conv(self.width, 7, 2, name="stem")(x)
        x = nn.relu(BatchNorm(use_running_average=not train, name="stem_bn")(x))
        x = nn.max_pool(x, (3, 3), (2, 2), [(1, 1), (1, 1)])
        for i, n_blocks in enumerate(self.stage_sizes):
            width = self.width * 2**i
            for j in range(n_blocks):
                strides = 2 if i > 0 and j == 0 else 1
                if self.block == "basic":
                    x = BasicBlock(width, strides)(x, train)
                else:
                    x = Bottleneck(4 * width, width, strides)(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="fc")(x)


ResNet18 = partial(ResNet, stage_sizes=(2, 2, 2, 2), block="basic")
ResNet50 = partial(ResNet, stage_sizes=(3, 4, 6, 3), block="bottleneck")


class InceptionBlock(nn.Module):
    """GoogLeNet Inception module with 1x1 reductions (Szegedy et al. 2014). SPEC: BAS-7, BAS-3.

    Branches, each conv followed by ReLU, concatenated on channels: 1x1 c1; 1x1 c3r -> 3x3 c3;
    1x1 c5r -> 5x5 c5; 3x3/s1 max pool -> 1x1 cpool. A reduction/projection of 0 is omitted
    (the naive module). Seed config 192 -> (64, 96, 128, 16, 32, cpool); GoogLeNet 3a cpool 32.
    Shapes: (N, H, W, C) -> (N, H, W, c1 + c3 + c5 + (cpool or C)).
    """

    c1: int
    c3r: int
    c3: int
    c5r: int
    c5: int
    cpool: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_nhwc(x, "InceptionBlock")

        def conv(y: jax.Array, c: int, k: int, name: str) -> jax.Array:
            return nn.relu(_conv(c, k, use_bias=self.use_bias, name=name)(y))

        b1 = conv(x, self.c1, 1, "b1")
        b3 = conv(x, self.c3r, 1, "b3_reduce") if self.c3r else x
        b3 = conv(b3, self.c3, 3, "b3")
        b5 = conv(x, self.c5r, 1, "b5_reduce") if self.c5r else x
        b5 = conv(b5, self.c5, 5, "b5")
        bp = nn.max_pool(x, (3, 3), (1, 1), [(1, 1), (1, 1)])
        bp = conv(bp, self.cpool, 1, "pool_proj") if self.cpool else bp
        return jnp.concatenate([b1, b3, b5, bp], axis=-1)
