"""Blocks of the FID InceptionV3 (pytorch-fid's `fid_inception_v3`), NHWC. SPEC: DIF-6.

Szegedy et al. 2016 (Inception-v3, arXiv:1512.00567) as in TensorFlow's 2015-12-05 graph used
for FID and Inception Score. Submodule names equal torchvision's attribute names, so a torch
state-dict key maps to a parameter path by swapping "." for "/" (see
`jaxdl.convert.inception_torch`). Paddings are torch's explicit ones. The FID variant differs
from torchvision's Inception3: the average pools of blocks A, C and E_1 exclude the padding from
the divisor (`count_include_pad=False`, as TF does), and the last block E_2 max-pools.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.norm import BatchNorm
from jaxdl.nn.pooling import avg_pool, max_pool

Pair = int | tuple[int, int]


def _pair(v: Pair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3, running statistics) -> ReLU. Inference only."""

    features: int
    kernel: Pair
    strides: int = 1
    padding: Pair = 0
    precision: str | None = "highest"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ph, pw = _pair(self.padding)
        x = nn.Conv(
            self.features,
            _pair(self.kernel),
            (self.strides, self.strides),
            [(ph, ph), (pw, pw)],
            use_bias=False,
            precision=self.precision,
            name="conv",
        )(x)
        x = BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _tf_avg_pool(x: jax.Array) -> jax.Array:
    """3x3/s1/p1 average that divides by the number of real pixels (TF 'SAME' average)."""
    return avg_pool(x, 3, 1, 1, count_include_pad=False)


class _Block(nn.Module):
    """Shared helper: `self.conv(name, features, kernel, ...)` builds a named BasicConv2d."""

    precision: str | None = "highest"

    def conv(self, name: str, features: int, kernel: Pair, strides: int = 1, padding: Pair = 0):
        return BasicConv2d(features, kernel, strides, padding, self.precision, name=name)


class InceptionA(_Block):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg-pool-1x1 -> 224 + pool_features channels."""

    pool_features: int = 32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b1 = self.conv("branch1x1", 64, 1)(x)
        b5 = self.conv("branch5x5_2", 64, 5, padding=2)(self.conv("branch5x5_1", 48, 1)(x))
        b3 = self.conv("branch3x3dbl_1", 64, 1)(x)
        b3 = self.conv("branch3x3dbl_2", 96, 3, padding=1)(b3)
        b3 = self.conv("branch3x3dbl_3", 96, 3, padding=1)(b3)
        bp = self.conv("branch_pool", self.pool_features, 1)(_tf_avg_pool(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(_Block):
    """35x35 -> 17x17 reduction: 3x3/2 | 1x1-3x3-3x3/2 | max-pool/2 -> 480 + C_in channels."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = self.conv("branch3x3", 384, 3, strides=2)(x)
        bd = self.conv("branch3x3dbl_1", 64, 1)(x)
        bd = self.conv("branch3x3dbl_2", 96, 3, padding=1)(bd)
        bd = self.conv("branch3x3dbl_3", 96, 3, strides=2)(bd)
        return jnp.concatenate([b3, bd, max_pool(x, 3, 2)], axis=-1)


class InceptionC(_Block):
    """17x17 block with factorised 7x7 convs (1x7, 7x1) -> 768 channels."""

    channels_7x7: int = 128

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c7 = self.channels_7x7
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        b1 = self.conv("branch1x1", 192, 1)(x)
        b7 = self.conv("branch7x7_1", c7, 1)(x)
        b7 = self.conv("branch7x7_2", c7, **row)(b7)
        b7 = self.conv("branch7x7_3", 192, **col)(b7)
        bd = self.conv("branch7x7dbl_1", c7, 1)(x)
        for i, (feat, kind) in enumerate(((c7, col), (c7, row), (c7, col), (192, row)), start=2):
            bd = self.conv(f"branch7x7dbl_{i}", feat, **kind)(bd)
        bp = self.conv("branch_pool", 192, 1)(_tf_avg_pool(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(_Block):
    """17x17 -> 8x8 reduction: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max-pool/2 -> 512 + C_in."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = self.conv("branch3x3_2", 320, 3, strides=2)(self.conv("branch3x3_1", 192, 1)(x))
        b7 = self.conv("branch7x7x3_1", 192, 1)(x)
        b7 = self.conv("branch7x7x3_2", 192, (1, 7), padding=(0, 3))(b7)
        b7 = self.conv("branch7x7x3_3", 192, (7, 1), padding=(3, 0))(b7)
        b7 = self.conv("branch7x7x3_4", 192, 3, strides=2)(b7)
        return jnp.concatenate([b3, b7, max_pool(x, 3, 2)], axis=-1)


class InceptionE(_Block):
    """8x8 block with split 1x3 / 3x1 branches -> 2048 channels.

    pool: "avg" (FIDInceptionE_1, padding excluded from the average) or "max" (FIDInceptionE_2).
    """

    pool: str = "avg"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {self.pool!r}")

        def split(prefix: str, y: jax.Array) -> jax.Array:
            a = self.conv(f"{prefix}a", 384, (1, 3), padding=(0, 1))(y)
            b = self.conv(f"{prefix}b", 384, (3, 1), padding=(1, 0))(y)
            return jnp.concatenate([a, b], axis=-1)

        b1 = self.conv("branch1x1", 320, 1)(x)
        b3 = split("branch3x3_2", self.conv("branch3x3_1", 384, 1)(x))
        bd = self.conv("branch3x3dbl_1", 448, 1)(x)
        bd = split("branch3x3dbl_3", self.conv("branch3x3dbl_2", 384, 3, padding=1)(bd))
        pooled = _tf_avg_pool(x) if self.pool == "avg" else max_pool(x, 3, 1, 1)
        bp = self.conv("branch_pool", 192, 1)(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


# (name, block, kwargs) after the stem, in order (torchvision attribute names).
MIXED: Sequence[tuple[str, type[_Block], dict]] = (
    ("Mixed_5b", InceptionA, dict(pool_features=32)),
    ("Mixed_5c", InceptionA, dict(pool_features=64)),
    ("Mixed_5d", InceptionA, dict(pool_features=64)),
    ("Mixed_6a", InceptionB, {}),
    ("Mixed_6b", InceptionC, dict(channels_7x7=128)),
    ("Mixed_6c", InceptionC, dict(channels_7x7=160)),
    ("Mixed_6d", InceptionC, dict(channels_7x7=160)),
    ("Mixed_6e", InceptionC, dict(channels_7x7=192)),
    ("Mixed_7a", InceptionD, {}),
    ("Mixed_7b", InceptionE, dict(pool="avg")),
    ("Mixed_7c", InceptionE, dict(pool="max")),
)
