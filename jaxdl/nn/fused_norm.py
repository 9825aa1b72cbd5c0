"""GroupNorm (optionally followed by SiLU) written for channels-last CPU/GPU memory layouts.

Same function as `flax.linen.GroupNorm` (+ `nn.silu`), computed differently: statistics come
from per-channel sums over the spatial axes, (N, C), which reduce along contiguous memory, then
are combined per group on the tiny (N, G, C/G) array; the output is one fused multiply-add
x·a[n, c] + b[n, c]. The backward pass is written by hand (`jax.custom_vjp`) in the same form:
one pass for the per-channel sums Σ dy and Σ dy·x, one elementwise pass for dx, recomputing the
SiLU input instead of storing it. Only x and the (N, C) coefficients are kept for backward.

Backward, with x̂ = (x - μ)·r per group, y = γ·x̂ + β, z = silu(y), m = elements per group:
  dy = dz·σ(y)·(1 + y·(1 - σ(y)));  dβ = Σ dy;  dγ = Σ dy·x̂
  dx = r·(γ·dy - (Σ_g γ·dy)/m - x̂·(Σ_g γ·dy·x̂)/m)

Used by the DDPM U-Net (SPEC DIF-6; `DDPMUNet(fused_norm=True)`), tested against flax
(`tests/test_nn_fused_norm.py`). Statistics and coefficients are float32 whatever x's dtype.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def _spatial_axes(x: jax.Array) -> tuple[int, ...]:
    return tuple(range(1, x.ndim - 1))


def _per_group(s: jax.Array, num_groups: int) -> jax.Array:
    """(N, C) per-channel sums -> (N, C) sums over each channel's group."""
    n, c = s.shape
    g = s.reshape(n, num_groups, c // num_groups).sum(-1, keepdims=True)
    return jnp.broadcast_to(g, (n, num_groups, c // num_groups)).reshape(n, c)


def _coefficients(x, scale, bias, num_groups, eps):
    """mean, rstd broadcast per channel (N, C), and a, b with y = x·a + b."""
    xf = x.astype(jnp.float32)
    axes = _spatial_axes(x)
    m = x[0].size // num_groups  # elements per (sample, group)
    mean = _per_group(xf.sum(axes), num_groups) / m
    # Two-pass (centred) variance: no cancellation for inputs with a large mean.
    ex = jnp.expand_dims(mean, axes)
    var = _per_group(jnp.square(xf - ex).sum(axes), num_groups) / m
    rstd = jax.lax.rsqrt(var + eps)
    a = rstd * scale.astype(jnp.float32)
    b = bias.astype(jnp.float32) - mean * a
    return mean, rstd, a, b


def _apply(x, a, b, silu):
    axes = _spatial_axes(x)
    y = x.astype(jnp.float32) * jnp.expand_dims(a, axes) + jnp.expand_dims(b, axes)
    return y, (y * jax.nn.sigmoid(y) if silu else y)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def group_norm(
    x: jax.Array, scale: jax.Array, bias: jax.Array, num_groups: int, eps: float, silu: bool
) -> jax.Array:
    """GroupNorm over contiguous channel groups of channels-last x (N, ..., C), then SiLU if
    `silu`. scale, bias: (C,). Returns x's shape and dtype."""
    return _fwd(x, scale, bias, num_groups, eps, silu)[0]


def _fwd(x, scale, bias, num_groups, eps, silu):
    mean, rstd, a, b = _coefficients(x, scale, bias, num_groups, eps)
    return _apply(x, a, b, silu)[1].astype(x.dtype), (x, scale, bias, mean, rstd, a, b)


def _bwd(num_groups, eps, silu, res, dz):
    x, scale, bias, mean, rstd, a, b = res
    axes = _spatial_axes(x)
    m = x[0].size // num_groups
    dz = dz.astype(jnp.float32)
    if silu:
        y, _ = _apply(x, a, b, False)
        sig = jax.nn.sigmoid(y)
        dy = dz * sig * (1.0 + y * (1.0 - sig))
    else:
        dy = dz
    xf = x.astype(jnp.float32)
    sum_dy = dy.sum(axes)  # (N, C)
    sum_dyx = (dy * xf).sum(axes)  # (N, C)
    gamma = scale.astype(jnp.float32)
    sum_dyxhat = (sum_dyx - mean * sum_dy) * rstd  # Σ dy·x̂ per (n, c)
    dscale = sum_dyxhat.sum(0)
    dbias = sum_dy.sum(0)
    # dx = r·γ·dy - r/m·Σ_g γ·dy - x̂·r/m·Σ_g γ·dy·x̂  =  a·dy + c1·x + c0
    g1 = _per_group(gamma * sum_dy, num_groups)
    g2 = _per_group(gamma * sum_dyxhat, num_groups)
    c1 = -rstd * rstd * g2 / m
    c0 = -rstd * g1 / m - c1 * mean
    ex = partial(jnp.expand_dims, axis=axes)
    dx = dy * ex(a) + xf * ex(c1) + ex(c0)
    return (
        dx.astype(x.dtype),
        dscale.astype(scale.dtype).reshape(scale.shape),
        dbias.astype(bias.dtype).reshape(bias.shape),
    )


group_norm.defvjp(_fwd, _bwd)


class FusedGroupNorm(nn.Module):
    """Drop-in for `flax.linen.GroupNorm(num_groups, epsilon)` (+ `nn.silu` when `silu`) on
    channels-last inputs: same parameters ("scale", "bias": (C,)), same outputs."""

    num_groups: int = 32
    epsilon: float = 1e-6
    silu: bool = False
    dtype: Any = None
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        if x.ndim < 2 or c % self.num_groups:
            raise ValueError(
                f"FusedGroupNorm expects (N, ..., C) with C divisible by num_groups="
                f"{self.num_groups}, got shape {x.shape}"
            )
        scale = self.param("scale", nn.initializers.ones, (c,), self.param_dtype)
        bias = self.param("bias", nn.initializers.zeros, (c,), self.param_dtype)
        if self.dtype is not None:
            x = x.astype(self.dtype)
        return group_norm(x, scale, bias, self.num_groups, self.epsilon, self.silu)
