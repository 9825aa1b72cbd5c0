"""Stochastic depth (drop path): drop a residual branch per example.

Huang et al. 2016, "Deep Networks with Stochastic Depth", arXiv:1603.09382; as used by Swin
(Liu et al. 2021) and SUNet (SPEC RES-1, drop-path rate 0 -> 0.1 over the blocks). In training
each example's branch is kept with probability 1 - rate and scaled by 1 / (1 - rate), so its
expectation equals evaluation, where the branch passes unchanged.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class DropPath(nn.Module):
    """x (B, ...) -> x * keep_b / (1 - rate) in training; draws from the 'dropout' rng stream."""

    rate: float = 0.0
    deterministic: bool | None = None

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool | None = None) -> jax.Array:
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"drop-path rate must be in [0, 1), got {self.rate}")
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        if det or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = jax.random.bernoulli(
            self.make_rng("dropout"), keep, (x.shape[0],) + (1,) * (x.ndim - 1)
        )
        return jnp.where(mask, x / jnp.asarray(keep, x.dtype), jnp.zeros_like(x))
