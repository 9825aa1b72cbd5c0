"""Convolution arithmetic: output sizes, padding, receptive field, parameter and multiply counts.

SPEC: BAS-3 (Dumoulin & Visin 2016, arXiv:1603.07285, "A guide to convolution arithmetic").
All functions take plain Python ints (one spatial axis) and are usable at trace time.
"""

from collections.abc import Sequence
from math import prod
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = [
    "TransposedConvEquivalent",
    "conv_mult_count",
    "conv_output_size",
    "conv_param_count",
    "conv_transpose_output_size",
    "effective_kernel_size",
    "padding_for",
    "param_count",
    "pool_output_size",
    "receptive_field",
    "transposed_conv_equivalent",
]


def effective_kernel_size(k: int, dilation: int = 1) -> int:
    """Dilated kernel extent k̂ = k + (k-1)(d-1) (SPEC BAS-3)."""
    return k + (k - 1) * (dilation - 1)


def padding_for(mode: str | int, k: int, dilation: int = 1) -> tuple[int, int]:
    """(low, high) padding of one axis for `mode` in {"valid", "same", "full"} or an int.

    valid: 0; same: k̂-1 split as (⌊(k̂-1)/2⌋, rest), i.e. p=⌊k/2⌋ for odd k (torch 'same');
    full: k̂-1 on both sides, so o = i + k̂ - 1 at stride 1.
    """
    if isinstance(mode, bool):
        raise TypeError(f"padding must be 'valid'|'same'|'full' or an int, got {mode!r}")
    if isinstance(mode, int):
        if mode < 0:
            raise ValueError(f"padding must be >= 0, got {mode}")
        return mode, mode
    kh = effective_kernel_size(k, dilation)
    mode = mode.lower()
    if mode == "valid":
        return 0, 0
    if mode == "same":
        return (kh - 1) // 2, (kh - 1) - (kh - 1) // 2
    if mode == "full":
        return kh - 1, kh - 1
    raise ValueError(f"padding must be 'valid'|'same'|'full' or an int, got {mode!r}")


def conv_output_size(
    i: int, k: int, s: int = 1, p: int | str | tuple[int, int] = 0, d: int = 1
) -> int:
    """o = ⌊(i + p_lo + p_hi - k̂)/s⌋ + 1 (SPEC BAS-3); `p` int, pair or mode."""
    lo, hi = p if isinstance(p, tuple) else padding_for(p, k, d)
    o = (i + lo + hi - effective_kernel_size(k, d)) // s + 1
    if o < 1:
        raise ValueError(f"input size {i} too small for kernel {k} (dilation {d}, padding {p})")
    return o


def pool_output_size(
    i: int, k: int, s: int | None = None, p: int = 0, ceil_mode: bool = False
) -> int:
    """Pooling output o = ⌊(i + 2p - k)/s⌋ + 1, s defaults to k (SPEC BAS-3).

    ceil_mode follows torch: ⌈·⌉ instead of ⌊·⌋, dropping a last window that starts in the
    right padding.
    """
    s = k if s is None else s
    num = i + 2 * p - k
    if num < 0:
        raise ValueError(f"input size {i} (+2*padding {p}) smaller than window {k}")
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


def conv_transpose_output_size(
    i: int, k: int, s: int = 1, p: int = 0, output_padding: int = 0, d: int = 1
) -> int:
    """torch ConvTranspose2d: o = (i-1)s - 2p + d(k-1) + output_padding + 1 (SPEC BAS-3)."""
    if not 0 <= output_padding < max(s, d):
        raise ValueError(
            f"output_padding must be in [0, max(stride, dilation)), got {output_padding}"
        )
    return (i - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


class TransposedConvEquivalent(NamedTuple):
    """Direct conv (k′=k, s′=1) equivalent to the transpose of conv(i, k, s, p) (SPEC BAS-3)."""

    case: int  # row of the SPEC BAS-3 table (1-7); the most specific row that applies
    i_prime: int  # input of the transposed conv = output of the forward conv
    p_prime: int  # padding of the equivalent direct conv
    zeros_between: int  # s - 1 zeros inserted between input units
    a: int  # (i + 2p - k) % s, extra rows added on one side (torch output_padding)
    o_prime: int  # output size; equals i, the forward conv's input size


def transposed_conv_equivalent(i: int, k: int, s: int = 1, p: int = 0) -> TransposedConvEquivalent:
    """Classify conv(i, k, s, p) into the 7 cases of SPEC BAS-3 and give its transpose."""
    i_prime = conv_output_size(i, k, s, p)
    a = (i + 2 * p - k) % s
    if s == 1:
        if p == 0:
            case, o = 1, i_prime + k - 1
        elif k % 2 == 1 and p == k // 2:
            case, o = 3, i_prime
        elif p == k - 1:
            case, o = 4, i_prime - k + 1
        else:
            case, o = 2, i_prime + k - 1 - 2 * p
    elif p == 0 and a == 0:
        case, o = 5, s * (i_prime - 1) + k
    elif a == 0:
        case, o = 6, s * (i_prime - 1) + k - 2 * p
    else:
        case, o = 7, s * (i_prime - 1) + a + k - 2 * p
    # The table's p′ column (k-1, k-p-1, p, 0, ...) is k-p-1 in every row.
    p_prime = k - p - 1
    return TransposedConvEquivalent(case, i_prime, p_prime, s - 1, a, o)


def receptive_field(layers: Sequence[tuple[int, int]]) -> list[int]:
    """r_l = r_{l-1} + (k_l - 1)·∏_{i<l} s_i, r_0 = 1, for layers [(k, s), ...] (SPEC BAS-3).

    Dilated layers: pass k̂ from `effective_kernel_size`.
    """
    r, jump, out = 1, 1, []
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
        out.append(r)
    return out


def param_count(params: Any) -> int:
    """Total number of scalars in any pytree of arrays (e.g. a Flax `params` tree)."""
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))


def conv_param_count(
    c_in: int, c_out: int, k: int | tuple[int, int], groups: int = 1, bias: bool = False
) -> int:
    """Weights k_h·k_w·(c_in/groups)·c_out (+ c_out biases) (SPEC BAS-3)."""
    kh, kw = (k, k) if isinstance(k, int) else k
    if c_in % groups or c_out % groups:
        raise ValueError(f"channels ({c_in}, {c_out}) must be divisible by groups={groups}")
    return kh * kw * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_mult_count(
    out_hw: int | tuple[int, int],
    c_in: int,
    c_out: int,
    k: int | tuple[int, int],
    groups: int = 1,
) -> int:
    """Multiplications of a conv: H_o·W_o·c_out·k_h·k_w·c_in/groups (SPEC BAS-3)."""
    hw = (out_hw, out_hw) if isinstance(out_hw, int) else out_hw
    return prod(hw) * conv_param_count(c_in, c_out, k, groups)
