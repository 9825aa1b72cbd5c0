"""Convolution helpers (NHWC): padded/strided/dilated/grouped conv, 1×1, depthwise-separable,
and transposed conv with PyTorch's padding semantics.

SPEC: BAS-3 (Dumoulin & Visin 2016, arXiv:1603.07285). Kernels are HWIO. Weight ports from torch:
`Conv2d.weight` (O, I/g, kh, kw) → `from_torch_conv_weight`; `ConvTranspose2d.weight`
(I, O/g, kh, kw) → `from_torch_conv_transpose_weight`, stored (kh, kw, I, O/g) *unflipped*.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl.nn.arithmetic import conv_transpose_output_size, padding_for

__all__ = [
    "Conv1x1",
    "Conv2d",
    "ConvTranspose",
    "DepthwiseSeparableConv",
    "conv2d",
    "conv_transpose2d",
    "from_torch_conv_transpose_weight",
    "from_torch_conv_weight",
]

IntPair = int | tuple[int, int]
Padding = str | int | tuple[int, int] | Sequence[tuple[int, int]]
_DN = ("NHWC", "HWIO", "NHWC")


def _pair(v: IntPair, name: str) -> tuple[int, int]:
    t = (v, v) if isinstance(v, int | np.integer) else tuple(v)
    if len(t) != 2 or not all(isinstance(u, int | np.integer) and u >= 0 for u in t):
        raise ValueError(f"{name} must be an int or a pair of non-negative ints, got {v!r}")
    return int(t[0]), int(t[1])


def _check_nhwc(x: jax.Array, where: str, channels: int | None = None, groups: int = 1) -> None:
    if x.ndim != 4:
        raise ValueError(f"{where} expects NHWC input (N, H, W, C), got shape {x.shape}")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(
            f"{where} expects NHWC input (N, H, W, {channels}), got shape {x.shape} (NCHW given?)"
        )
    if x.shape[-1] % groups:
        raise ValueError(
            f"{where} expects NHWC input (N, H, W, C) with C divisible by groups={groups}, "
            f"got shape {x.shape}"
        )


def _resolve_padding(padding: Padding, k: tuple[int, int], d: tuple[int, int]) -> list:
    if isinstance(padding, str | int):
        return [padding_for(padding, k[0], d[0]), padding_for(padding, k[1], d[1])]
    padding = tuple(padding)
    if len(padding) == 2 and all(isinstance(p, int) for p in padding):
        return [padding_for(padding[0], k[0], d[0]), padding_for(padding[1], k[1], d[1])]
    return [tuple(p) for p in padding]


def conv2d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    strides: IntPair = 1,
    padding: Padding = "same",
    dilation: IntPair = 1,
    groups: int = 1,
    precision: lax.Precision | None = None,
) -> jax.Array:
    """Cross-correlation as torch `F.conv2d`: x (N,H,W,C), kernel (kh,kw,C/g,O) → (N,Ho,Wo,O).

    padding: "valid" | "same" | "full" | int | (ph, pw) | ((lo,hi),(lo,hi)); see `padding_for`.
    """
    _check_nhwc(x, "conv2d", groups=groups)
    k, d = tuple(kernel.shape[:2]), _pair(dilation, "dilation")
    if kernel.shape[2] * groups != x.shape[-1]:
        raise ValueError(
            f"conv2d: kernel {kernel.shape} expects NHWC input "
            f"(N, H, W, {kernel.shape[2] * groups}), got shape {x.shape}"
        )
    y = lax.conv_general_dilated(
        x,
        kernel.astype(x.dtype),
        window_strides=_pair(strides, "strides"),
        padding=_resolve_padding(padding, k, d),
        rhs_dilation=d,
        dimension_numbers=_DN,
        feature_group_count=groups,
        precision=precision,
    )
    return y if bias is None else y + bias.astype(y.dtype)


def conv_transpose2d(
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    strides: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    precision: lax.Precision | None = None,
) -> jax.Array:
    """torch `F.conv_transpose2d` on NHWC. x (N,H,W,I), kernel (kh,kw,I,O/groups) → (N,Ho,Wo,O).

    Ho = (H-1)s - 2p + d(kh-1) + output_padding + 1 (SPEC BAS-3). Computed as a direct conv with
    lhs_dilation=s, rhs_dilation=d, the spatially flipped kernel and padding
    (d(k-1)-p, d(k-1)-p+output_padding); negative padding crops.
    """
    kh, kw, c_in, c_out_g = kernel.shape
    _check_nhwc(x, "conv_transpose2d", channels=c_in, groups=groups)
    s, d = _pair(strides, "strides"), _pair(dilation, "dilation")
    p, op = _pair(padding, "padding"), _pair(output_padding, "output_padding")
    for ax in range(2):  # validates output_padding < max(s, d)
        conv_transpose_output_size(x.shape[1 + ax], kernel.shape[ax], s[ax], p[ax], op[ax], d[ax])
    # (kh,kw,I,O/g) → (kh,kw,I/g,O): group g maps inputs [g·I/g, ...) to outputs [g·O/g, ...).
    w = kernel.reshape(kh, kw, groups, c_in // groups, c_out_g).transpose(0, 1, 3, 2, 4)
    w = jnp.flip(w.reshape(kh, kw, c_in // groups, groups * c_out_g), (0, 1))
    pads = [(d[a] * (n - 1) - p[a], d[a] * (n - 1) - p[a] + op[a]) for a, n in enumerate((kh, kw))]
    y = lax.conv_general_dilated(
        x,
        w.astype(x.dtype),
        window_strides=(1, 1),
        padding=[(max(lo, 0), max(hi, 0)) for lo, hi in pads],
        lhs_dilation=s,
        rhs_dilation=d,
        dimension_numbers=_DN,
        feature_group_count=groups,
        precision=precision,
    )
    (lh, hh), (lw, hw) = [(max(-lo, 0), max(-hi, 0)) for lo, hi in pads]
    y = y[:, lh : y.shape[1] - hh, lw : y.shape[2] - hw, :]
    return y if bias is None else y + bias.astype(y.dtype)


def from_torch_conv_weight(w: np.ndarray) -> np.ndarray:
    """torch Conv2d weight (O, I/g, kh, kw) → HWIO (kh, kw, I/g, O)."""
    return np.asarray(w).transpose(2, 3, 1, 0)


def from_torch_conv_transpose_weight(w: np.ndarray) -> np.ndarray:
    """torch ConvTranspose2d weight (I, O/g, kh, kw) → (kh, kw, I, O/g), not flipped."""
    return np.asarray(w).transpose(2, 3, 0, 1)


class Conv2d(nn.Module):
    """2-D conv with same/valid/full/int padding, stride, dilation and groups (SPEC BAS-3).

    Params: kernel (kh, kw, C/groups, features), bias (features,). (N,H,W,C) → (N,Ho,Wo,features).
    """

    features: int
    kernel_size: IntPair = 3
    strides: IntPair = 1
    padding: Padding = "same"
    dilation: IntPair = 1
    groups: int = 1
    use_bias: bool = True
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros_init()
    precision: lax.Precision | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        name = type(self).__name__
        if x.ndim != 4:
            raise ValueError(f"{name} expects NHWC input (N, H, W, C), got shape {x.shape}")
        if x.shape[-1] % self.groups or self.features % self.groups:
            raise ValueError(
                f"{name} expects NHWC input (N, H, W, C) with C and features={self.features} "
                f"divisible by groups={self.groups}, got shape {x.shape}"
            )
        kh, kw = _pair(self.kernel_size, "kernel_size")
        shape = (kh, kw, x.shape[-1] // self.groups, self.features)
        kernel = self.param("kernel", self.kernel_init, shape, jnp.float32)
        bias = self.param("bias", self.bias_init, (self.features,)) if self.use_bias else None
        return conv2d(
            x, kernel, bias, self.strides, self.padding, self.dilation, self.groups, self.precision
        )


class Conv1x1(Conv2d):
    """Pointwise (1×1) conv: channel mixing/reduction, c_in·c_out weights (SPEC BAS-3)."""

    kernel_size: IntPair = 1
    padding: Padding = "valid"


class DepthwiseSeparableConv(nn.Module):
    """Depthwise k×k conv (groups=C, C·depth_multiplier maps) then 1×1 pointwise to `features`.

    SPEC BAS-3 (Chollet 2017, Xception, arXiv:1610.02357). (N,H,W,C) → (N,Ho,Wo,features).
    Params: depthwise/kernel (kh, kw, 1, C·m), pointwise/kernel (1, 1, C·m, features).
    """

    features: int
    kernel_size: IntPair = 3
    strides: IntPair = 1
    padding: Padding = "same"
    dilation: IntPair = 1
    depth_multiplier: int = 1
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_nhwc(x, "DepthwiseSeparableConv")
        c = x.shape[-1]
        x = Conv2d(
            c * self.depth_multiplier,
            self.kernel_size,
            self.strides,
            self.padding,
            self.dilation,
            groups=c,
            use_bias=self.use_bias,
            name="depthwise",
        )(x)
        return Conv1x1(self.features, use_bias=self.use_bias, name="pointwise")(x)


class ConvTranspose(nn.Module):
    """Transposed conv numerically equal to `torch.nn.ConvTranspose2d` (SPEC BAS-3).

    Params: kernel (kh, kw, C, features/groups) = torch weight.permute(2, 3, 0, 1), bias
    (features,). (N,H,W,C) → (N,Ho,Wo,features), Ho = (H-1)s - 2p + d(k-1) + output_padding + 1.
    """

    features: int
    kernel_size: IntPair = 3
    strides: IntPair = 1
    padding: IntPair = 0
    output_padding: IntPair = 0
    dilation: IntPair = 1
    groups: int = 1
    use_bias: bool = True
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros_init()
    precision: lax.Precision | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_nhwc(x, "ConvTranspose", groups=self.groups)
        if self.features % self.groups:
            raise ValueError(f"features={self.features} not divisible by groups={self.groups}")
        kh, kw = _pair(self.kernel_size, "kernel_size")
        shape = (kh, kw, x.shape[-1], self.features // self.groups)
        kernel = self.param("kernel", self.kernel_init, shape, jnp.float32)
        bias = self.param("bias", self.bias_init, (self.features,)) if self.use_bias else None
        return conv_transpose2d(
            x,
            kernel,
            bias,
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation,
            self.groups,
            self.precision,
        )
