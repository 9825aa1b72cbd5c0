"""Xception (Chollet 2017, arXiv:1610.02357), Keras layout: the fine-tuning recipe's backbone.

SPEC: BAS-10. Entry flow (two 3x3 convs, then three blocks of separable convs with a strided 1x1
conv shortcut), middle flow (8 residual blocks of three 728-channel separable convs), exit flow
(a 1024-channel block, separable convs to 1536 and 2048), global average pooling, a dense head.
Separable conv = 3x3 depthwise + 1x1 pointwise, both without bias; BatchNorm with Keras'
epsilon 1e-3 and momentum 0.99 (torch-style 0.01 here). 22,910,480 values at 1000 classes, as
Keras reports (22,855,952 trainable + 54,528 BatchNorm statistics). Input 299x299x3 scaled as
Keras' `preprocess_input`, x / 127.5 - 1 (`jaxdl.data.ScaleToSymmetric`), at least 71x71.

Groups for fine-tuning rules and `frozen`: `entry`, `middle`, `exit`, `head` (module names
`entry_*`, `middle_*`, `exit_*`, `head`). Shapes: (N, H, W, 3) -> (N, num_classes).
"""

import re
from collections.abc import Sequence
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.classic import _check_nhwc
from jaxdl.nn.norm import BatchNorm

_BN = partial(BatchNorm, momentum=0.01, epsilon=1e-3)


class SeparableConv(nn.Module):
    """3x3 depthwise conv (one filter per channel) then 1x1 pointwise conv, no biases, "same"."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        x = nn.Conv(c, (3, 3), padding="SAME", feature_group_count=c, use_bias=False)(x)
        return nn.Conv(self.features, (1, 1), use_bias=False)(x)


class XceptionBlock(nn.Module):
    """ReLU -> sepconv -> BN per entry of `features` (the first ReLU optional); with `downsample`
    a 3x3/2 max pool and a strided 1x1 conv + BN shortcut, else the identity shortcut."""

    features: Sequence[int]
    downsample: bool = True
    first_relu: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        shortcut = x
        if self.downsample:
            shortcut = nn.Conv(self.features[-1], (1, 1), (2, 2), use_bias=False)(x)
            shortcut = _BN(use_running_average=not train)(shortcut)
        for i, f in enumerate(self.features):
            if i or self.first_relu:
                x = nn.relu(x)
            x = _BN(use_running_average=not train)(SeparableConv(f)(x))
        if self.downsample:
            x = nn.max_pool(x, (3, 3), (2, 2), "SAME")
        return x + shortcut


class Xception(nn.Module):
    """Xception with a `num_classes` head (the recipe's `ClassifierHead(100)` is
    `Xception(num_classes=100)`). `frozen`: regexes over block names run in inference mode, as
    in `jaxdl.models.small_resnet.SmallResNet`."""

    num_classes: int = 1000
    middle_blocks: int = 8

    def block_names(self) -> list[str]:
        middle = [f"middle_{i}" for i in range(1, self.middle_blocks + 1)]
        return ["entry_stem", "entry_1", "entry_2", "entry_3", *middle, "exit_1", "exit_2", "head"]

    def groups(self) -> list[str]:
        return ["^entry_", "^middle_", "^exit_", "^head/"]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, frozen: Sequence[str] = ()) -> jax.Array:
        _check_nhwc(x, "Xception")
        names = self.block_names()
        for pattern in frozen:
            if not any(re.search(pattern, n) for n in names):
                raise ValueError(f"frozen pattern {pattern!r} matches no block of {names}")

        def mode(name: str) -> bool:
            return train and not any(re.search(p, name) for p in frozen)

        t = mode("entry_stem")
        x = nn.Conv(32, (3, 3), (2, 2), "VALID", use_bias=False, name="entry_stem_conv1")(x)
        x = nn.relu(_BN(use_running_average=not t, name="entry_stem_bn1")(x))
        x = nn.Conv(64, (3, 3), padding="VALID", use_bias=False, name="entry_stem_conv2")(x)
        x = nn.relu(_BN(use_running_average=not t, name="entry_stem_bn2")(x))
        for i, f in enumerate((128, 256, 728), 1):
            x = XceptionBlock((f, f), first_relu=i > 1, name=f"entry_{i}")(x, mode(f"entry_{i}"))
        for i in range(1, self.middle_blocks + 1):
            block = XceptionBlock((728,) * 3, downsample=False, name=f"middle_{i}")
            x = block(x, mode(f"middle_{i}"))
        x = XceptionBlock((728, 1024), name="exit_1")(x, mode("exit_1"))
        t = mode("exit_2")
        for j, f in enumerate((1536, 2048), 1):
            x = SeparableConv(f, name=f"exit_2_sepconv{j}")(x)
            x = nn.relu(_BN(use_running_average=not t, name=f"exit_2_bn{j}")(x))
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="head")(x)
