"""Max / average / global pooling on NHWC with torch's padding and ceil_mode semantics.

SPEC: BAS-3: o = ⌊(i + 2p - k)/s⌋ + 1, s defaults to k, no params, channels kept; GAP = mean
over H, W (Lin et al. 2014, Network in Network). RoI pooling / RoIAlign live in `roi.py`.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl.nn.arithmetic import pool_output_size

__all__ = [
    "AvgPool",
    "MaxPool",
    "avg_pool",
    "global_avg_pool",
    "global_max_pool",
    "max_pool",
]

IntPair = int | tuple[int, int]


def _pair(v: IntPair) -> tuple[int, int]:
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def _geometry(x: jax.Array, window: IntPair, strides: IntPair | None, padding: IntPair, ceil_mode):
    """Per spatial axis: (k, s, p, o, hi) where hi is the right padding that yields o windows."""
    if x.ndim != 4:
        raise ValueError(f"pooling expects NHWC input (N, H, W, C), got shape {x.shape}")
    ks = _pair(window)
    ss = ks if strides is None else _pair(strides)
    ps = _pair(padding)
    out = []
    for ax in range(2):
        k, s, p, i = ks[ax], ss[ax], ps[ax], x.shape[1 + ax]
        if not 0 <= 2 * p <= k:
            raise ValueError(f"padding {p} must be in [0, window/2] (window {k}), as in torch")
        if i + 2 * p < k:
            raise ValueError(
                f"pooling window {ks} needs NHWC input (N, H>={ks[0] - 2 * ps[0]}, "
                f"W>={ks[1] - 2 * ps[1]}, C), got shape {x.shape}"
            )
        o = pool_output_size(i, k, s, p, ceil_mode)
        out.append((k, s, p, o, (o - 1) * s + k - i - p))
    return out


def _crop(x: jax.Array, geo) -> jax.Array:
    """Drop trailing rows/cols no window reaches (negative right padding)."""
    hi = [min(g[4], 0) for g in geo]
    return x[:, : x.shape[1] + hi[0], : x.shape[2] + hi[1], :]


def max_pool(
    x: jax.Array,
    window: IntPair,
    strides: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
) -> jax.Array:
    """torch `F.max_pool2d` on NHWC: (N,H,W,C) → (N,Ho,Wo,C); padding counts as -inf."""
    geo = _geometry(x, window, strides, padding, ceil_mode)
    init = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
    return lax.reduce_window(
        _crop(x, geo),
        np.asarray(init, x.dtype),  # a concrete init lets jax pick the differentiable max
        lax.max,
        (1, geo[0][0], geo[1][0], 1),
        (1, geo[0][1], geo[1][1], 1),
        [(0, 0), (geo[0][2], max(geo[0][4], 0)), (geo[1][2], max(geo[1][4], 0)), (0, 0)],
    )


def _divisor(i: int, k: int, s: int, p: int, o: int, count_include_pad: bool) -> np.ndarray:
    """torch's avg-pool divisor per output index on one axis."""
    start = np.arange(o) * s - p
    end = np.minimum(start + k, i + p)
    if count_include_pad:
        return (end - start).astype(np.float32)
    return (np.minimum(end, i) - np.maximum(start, 0)).astype(np.float32)


def avg_pool(
    x: jax.Array,
    window: IntPair,
    strides: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> jax.Array:
    """torch `F.avg_pool2d` on NHWC: (N,H,W,C) → (N,Ho,Wo,C) (same divisor rules as torch)."""
    geo = _geometry(x, window, strides, padding, ceil_mode)
    xf = x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)
    summed = lax.reduce_window(
        _crop(xf, geo),
        jnp.asarray(0, xf.dtype),
        lax.add,
        (1, geo[0][0], geo[1][0], 1),
        (1, geo[0][1], geo[1][1], 1),
        [(0, 0), (geo[0][2], max(geo[0][4], 0)), (geo[1][2], max(geo[1][4], 0)), (0, 0)],
    )
    dh, dw = (
        _divisor(x.shape[1 + a], g[0], g[1], g[2], g[3], count_include_pad)
        for a, g in enumerate(geo)
    )
    return summed / jnp.asarray(np.outer(dh, dw)[None, :, :, None], xf.dtype)


def global_avg_pool(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """Mean over H, W: (N,H,W,C) → (N,C) or (N,1,1,C) (SPEC BAS-3; Lin et al. 2014, NiN)."""
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool expects NHWC input (N, H, W, C), got shape {x.shape}")
    return jnp.mean(x, axis=(1, 2), keepdims=keepdims)


def global_max_pool(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """Max over H, W: (N,H,W,C) → (N,C) or (N,1,1,C)."""
    if x.ndim != 4:
        raise ValueError(f"global_max_pool expects NHWC input (N, H, W, C), got shape {x.shape}")
    return jnp.max(x, axis=(1, 2), keepdims=keepdims)


class MaxPool(nn.Module):
    """Module form of `max_pool` (no params)."""

    window: IntPair = 2
    strides: IntPair | None = None
    padding: IntPair = 0
    ceil_mode: bool = False

    def __call__(self, x: jax.Array) -> jax.Array:
        return max_pool(x, self.window, self.strides, self.padding, self.ceil_mode)


class AvgPool(nn.Module):
    """Module form of `avg_pool` (no params)."""

    window: IntPair = 2
    strides: IntPair | None = None
    padding: IntPair = 0
    ceil_mode: bool = False
    count_include_pad: bool = True

    def __call__(self, x: jax.Array) -> jax.Array:
        return avg_pool(
            x, self.window, self.strides, self.padding, self.ceil_mode, self.count_include_pad
        )
