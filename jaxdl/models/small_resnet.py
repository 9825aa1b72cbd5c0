"""A small ResNet for 28x28 digits, with per-block inference mode for fine-tuning (SPEC BAS-10).

He et al. 2015's CIFAR layout (§4.2): a 3x3 stem conv + BN + ReLU at full resolution (no 7x7/2
stem or max pool, which would leave a 28x28 digit at 7x7 before the first block), stages of
`jaxdl.models.classic.BasicBlock` with widths `width * 2**i` and stride 2 from the second stage,
global average pooling and a dense `head`.

Blocks are named for the fine-tuning rules: `stem` / `stem_bn`, `stage{i}_{j}` (i, j from 1) and
`head`, so a parameter path reads e.g. `stage2_1/Conv_0/kernel` and the regexes of
`SmallResNet.groups` select a block group both in optimizer rules (`jaxdl.optim`,
`jaxdl.finetune`) and in `frozen`.
"""

import re
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.classic import BasicBlock, _check_nhwc, _conv
from jaxdl.nn.norm import BatchNorm


class SmallResNet(nn.Module):
    """ResNet with a 3x3 stem for small images. Shapes: (N, H, W, C) -> (N, num_classes).

    `frozen`: regexes `re.search`ed against block names (`stem`, `stage1_1`, ..., `head`); a
    matching block runs in inference mode even when `train=True`: its BatchNorm layers normalize
    with, and do not update, their running statistics (Keras' `trainable=False`). Freezing the
    block's parameters is the optimizer's job (`jaxdl.finetune.unfreeze_schedule`).
    """

    stage_sizes: Sequence[int] = (1, 1, 1)
    width: int = 16
    num_classes: int = 10

    def block_names(self) -> list[str]:
        """Block names from input to output: stem, stage{i}_{j}, head."""
        stages = [
            f"stage{i}_{j}" for i, n in enumerate(self.stage_sizes, 1) for j in range(1, n + 1)
        ]
        return ["stem", *stages, "head"]

    def groups(self) -> list[str]:
        """One parameter-path regex per block group, input to output: stem, each stage, head."""
        return ["^stem", *(f"^stage{i}_" for i in range(1, len(self.stage_sizes) + 1)), "^head/"]

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, frozen: Sequence[str] = ()) -> jax.Array:
        _check_nhwc(x, "SmallResNet")
        names = self.block_names()
        for pattern in frozen:
            if not any(re.search(pattern, name) for name in names):
                raise ValueError(f"frozen pattern {pattern!r} matches no block of {names}")

        def mode(name: str) -> bool:
            return train and not any(re.search(p, name) for p in frozen)

        x = _conv(self.width, 3, name="stem")(x)
        x = nn.relu(BatchNorm(use_running_average=not mode("stem"), name="stem_bn")(x))
        for i, n_blocks in enumerate(self.stage_sizes, 1):
            for j in range(1, n_blocks + 1):
                strides = 2 if i > 1 and j == 1 else 1
                name = f"stage{i}_{j}"
                x = BasicBlock(self.width * 2 ** (i - 1), strides, name=name)(x, mode(name))
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="head")(x)
