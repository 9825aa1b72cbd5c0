"""Pixel shuffle / unshuffle on NHWC with PyTorch's channel order (weights port over unchanged).

SPEC: BAS-4 (Shi et al. 2016, ESPCN, arXiv:1609.05158; used by RES-1..RES-4).
out[n, h·r+i, w·r+j, c] = in[n, h, w, c·r² + i·r + j], exactly `torch.nn.PixelShuffle` after the
NCHW↔NHWC transpose; `pixel_unshuffle` is its inverse.
"""

import operator

import flax.linen as nn
import jax

__all__ = ["PixelShuffle", "PixelUnshuffle", "pixel_shuffle", "pixel_unshuffle"]


def _factor(r: object, fn: str) -> int:
    try:
        r_int = operator.index(r)  # rejects floats such as 2.0 or 1.5
    except TypeError:
        raise TypeError(f"{fn}: factor r must be a positive int, got {r!r}") from None
    if r_int < 1:
        raise ValueError(f"{fn}: factor r must be a positive int, got {r!r}")
    return r_int


def pixel_shuffle(x: jax.Array, r: int) -> jax.Array:
    """(N, H, W, C·r²) → (N, H·r, W·r, C), torch channel order (SPEC BAS-4)."""
    r = _factor(r, "pixel_shuffle")
    if x.ndim != 4 or x.shape[-1] % (r * r):
        raise ValueError(f"pixel_shuffle expects NHWC input (N, H, W, C*{r * r}), got {x.shape}")
    n, h, w, c = x.shape
    c //= r * r
    x = x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, h * r, w * r, c)


def pixel_unshuffle(x: jax.Array, r: int) -> jax.Array:
    """(N, H·r, W·r, C) → (N, H, W, C·r²), inverse of `pixel_shuffle` (SPEC BAS-4)."""
    r = _factor(r, "pixel_unshuffle")
    if x.ndim != 4 or x.shape[1] % r or x.shape[2] % r:
        raise ValueError(
            f"pixel_unshuffle expects NHWC input (N, H*{r}, W*{r}, C) with H, W divisible by "
            f"{r}, got {x.shape}"
        )
    n, hr, wr, c = x.shape
    h, w = hr // r, wr // r
    x = x.reshape(n, h, r, w, r, c).transpose(0, 1, 3, 5, 2, 4)
    return x.reshape(n, h, w, c * r * r)


class PixelShuffle(nn.Module):
    """Module form of `pixel_shuffle` (no params)."""

    r: int

    def __call__(self, x: jax.Array) -> jax.Array:
        return pixel_shuffle(x, self.r)


class PixelUnshuffle(nn.Module):
    """Module form of `pixel_unshuffle` (no params)."""

    r: int

    def __call__(self, x: jax.Array) -> jax.Array:
        return pixel_unshuffle(x, self.r)
