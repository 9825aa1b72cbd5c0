"""Regression losses: MSE, MAE (L1) and Huber. SPEC: BAS-2."""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.losses._reduce import reduce_loss


def _pair(pred: ArrayLike, target: ArrayLike) -> tuple[Array, Array]:
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"expected target with the shape of pred {pred.shape}, got {target.shape}")
    dtype = jnp.result_type(pred.dtype, target.dtype, jnp.float32)
    return pred.astype(dtype), target.astype(dtype)


def mse(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Mean squared error (y - y_hat)^2 per element (= torch `mse_loss`). SPEC: BAS-2."""
    pred, target = _pair(pred, target)
    return reduce_loss(jnp.square(pred - target), reduction, weights, mask)


def mae(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Mean absolute error |y - y_hat| per element (= torch `l1_loss`). SPEC: BAS-2."""
    pred, target = _pair(pred, target)
    return reduce_loss(jnp.abs(pred - target), reduction, weights, mask)


def huber(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    delta: float = 1.0,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Huber loss (Huber 1964): 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta).

    Equals torch `huber_loss(..., delta=delta)`. SPEC: BAS-2.
    """
    if delta <= 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    pred, target = _pair(pred, target)
    d = jnp.abs(pred - target)
    quad = jnp.minimum(d, delta)
    per_item = 0.5 * quad**2 + delta * (d - quad)
    return reduce_loss(per_item, reduction, weights, mask)
