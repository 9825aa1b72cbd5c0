"""Normalization layers with PyTorch numerics (NHWC, features on the last axis).

SPEC: BAS-5. BN (Ioffe & Szegedy 2015), LN (Ba et al. 2016), GN (Wu & He 2018), IN (Ulyanov et
al. 2016). All use torch's eps 1e-5 and two-pass variance (flax's default fast variance,
E[x^2] - E[x]^2, loses precision). LN/GN/IN are thin subclasses of the flax.linen built-ins,
which equal torch once eps and the variance mode are set; BatchNorm is hand-written because
torch's running variance is unbiased and flax's is not.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchNorm(nn.Module):
    """Batch norm over all axes but the last, torch `BatchNorm2d` semantics. SPEC: BAS-5.

    Train: normalize with the biased batch variance and update the `batch_stats` collection
    (`mean`, `var`) as running = (1 - momentum) * running + momentum * batch, with the
    *unbiased* batch variance (torch; `momentum=0.1` here is flax's `momentum=0.9`). The update
    is skipped during `init`, so `init` does not count as a training step. Eval
    (`use_running_average=True`): normalize with the running statistics.
    Under `jit` with a batch-sharded input the statistics are global, so no `axis_name` is needed.

    Shapes: (..., C) -> (..., C), e.g. NHWC images or (N, C) features.
    """

    use_running_average: bool | None = None
    momentum: float = 0.1
    epsilon: float = 1e-5
    use_scale: bool = True
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
        use_ra = nn.merge_param(
            "use_running_average", self.use_running_average, use_running_average
        )
        if x.ndim < 2:
            raise ValueError(f"BatchNorm expects (N, ..., C) with channels last, got {x.shape}")
        c = x.shape[-1]
        axes = tuple(range(x.ndim - 1))
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (c,), jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
        if use_ra:
            mean, var = ra_mean.value, ra_var.value
        else:
            n = x.size // c
            if n < 2:
                raise ValueError(
                    f"BatchNorm needs more than one value per channel in training, got {x.shape}"
                )
            xf = x.astype(jnp.float32)
            mean = xf.mean(axes)
            var = jnp.square(xf - mean).mean(axes)
            if not self.is_initializing():
                m = self.momentum
                ra_mean.value = (1.0 - m) * ra_mean.value + m * mean
                ra_var.value = (1.0 - m) * ra_var.value + m * var * (n / (n - 1))
        y = (x - mean) * jax.lax.rsqrt(var + self.epsilon)
        if self.use_scale:
            y = y * self.param("scale", nn.initializers.ones, (c,), jnp.float32)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        return y.astype(x.dtype)


class LayerNorm(nn.LayerNorm):
    """`flax.linen.LayerNorm` with torch eps 1e-5 and two-pass variance. SPEC: BAS-5.

    Default: normalize the last axis (tokens (B, L, D); Ba et al. 2016; BAS-5). For torch's image
    `LayerNorm([C, H, W])` on NHWC use `reduction_axes=(-3, -2, -1), feature_axes=(-3, -2, -1)`
    (scale/bias shaped (H, W, C) = torch's weight transposed).
    """

    epsilon: float = 1e-5
    use_fast_variance: bool = False


class GroupNorm(nn.GroupNorm):
    """`flax.linen.GroupNorm` (contiguous channel groups, as torch) with eps 1e-5. SPEC: BAS-5.

    Per sample, statistics over H, W and the C/G channels of a group. `num_groups=1` is LN over
    (H, W, C); `num_groups=C` is IN with affine. Shapes: (N, ..., C) -> same; C % G == 0.
    """

    epsilon: float = 1e-5
    use_fast_variance: bool = False

    def __call__(self, x: jax.Array, *, mask: jax.Array | None = None) -> jax.Array:
        if x.ndim < 2:
            raise ValueError(f"GroupNorm expects (N, ..., C) with channels last, got {x.shape}")
        g = self.num_groups if self.num_groups is not None else x.shape[-1] // self.group_size
        if x.shape[-1] % g:
            raise ValueError(
                f"GroupNorm expects (N, ..., C) with C divisible by num_groups={g}, got {x.shape}"
            )
        return super().__call__(x, mask=mask)


class InstanceNorm(nn.InstanceNorm):
    """`flax.linen.InstanceNorm` with torch `InstanceNorm2d` defaults. SPEC: BAS-5.

    Per sample and channel over the spatial axes; eps 1e-5, no affine (torch `affine=False`,
    no running stats). Shapes: (N, H, W, C) -> (N, H, W, C).
    """

    epsilon: float = 1e-5
    use_scale: bool = False
    use_bias: bool = False
    use_fast_variance: bool = False

    def __call__(self, x: jax.Array, *, mask: jax.Array | None = None) -> jax.Array:
        if x.ndim < 3:
            raise ValueError(f"InstanceNorm expects (N, H, W, C) (or (N, L, C)), got {x.shape}")
        return super().__call__(x, mask=mask)
