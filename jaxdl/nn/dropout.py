"""Dropout, inverted and direct (Srivastava et al. 2014, JMLR 15).

SPEC: BAS-6. Each unit is kept with probability 1 - rate.
Inverted (default, = `flax.linen.Dropout`): train x * mask / (1 - rate), eval x.
Direct (teaching variant): train x * mask, eval x * (1 - rate).
Both make E[train output] = eval output.
"""

from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

Mode = Literal["inverted", "direct"]


def dropout(
    x: jax.Array,
    rate: float,
    rng: jax.Array | None,
    deterministic: bool = False,
    mode: Mode = "inverted",
) -> jax.Array:
    """Apply dropout to x (any shape). `deterministic=True` is evaluation (rng unused)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    if mode not in ("inverted", "direct"):
        raise ValueError(f"mode must be 'inverted' or 'direct', got {mode!r}")
    keep = 1.0 - rate
    if deterministic or rate == 0.0:
        return x if mode == "inverted" else x * jnp.asarray(keep, x.dtype)
    if rng is None:
        raise ValueError("dropout in training mode needs an rng key")
    mask = jax.random.bernoulli(rng, keep, x.shape)
    y = x / jnp.asarray(keep, x.dtype) if mode == "inverted" else x
    return jnp.where(mask, y, jnp.zeros_like(x))


class Dropout(nn.Module):
    """Module form of `dropout`; draws its mask from the 'dropout' rng stream. SPEC: BAS-6."""

    rate: float
    mode: Mode = "inverted"
    deterministic: bool | None = None

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool | None = None) -> jax.Array:
        det = nn.merge_param("deterministic", self.deterministic, deterministic)
        rng = None if det or self.rate == 0.0 else self.make_rng("dropout")
        return dropout(x, self.rate, rng, deterministic=det, mode=self.mode)
