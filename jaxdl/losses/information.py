"""Information measures on probability vectors: entropy, cross-entropy, KL divergence.

SPEC: BAS-2. Natural log by default; `base=2` gives bits.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import Array
from jax.scipy.special import xlogy
from jax.typing import ArrayLike

from jaxdl.losses._reduce import reduce_loss


def _probs(*arrays: ArrayLike) -> list[Array]:
    out = [jnp.asarray(a) for a in arrays]
    if any(a.ndim < 1 for a in out) or len({a.shape for a in out}) != 1:
        raise ValueError(
            f"expected probability arrays of one shape (..., C), got {[a.shape for a in out]}"
        )
    dtype = jnp.result_type(*[a.dtype for a in out], jnp.float32)
    return [a.astype(dtype) for a in out]


def _scale(base: float | None) -> float:
    return 1.0 if base is None else 1.0 / math.log(base)


def entropy(
    p: ArrayLike,
    *,
    base: float | None = None,
    reduction: str = "none",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Shannon entropy H(p) = -sum_c p_c log p_c over the last axis (0 log 0 = 0). SPEC: BAS-2."""
    (p,) = _probs(p)
    per_item = -jnp.sum(xlogy(p, p), axis=-1) * _scale(base)
    return reduce_loss(per_item, reduction, weights, mask)


def cross_entropy(
    p: ArrayLike,
    q: ArrayLike,
    *,
    base: float | None = None,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Cross-entropy H(p, q) = -sum_c p_c log q_c, p = target, q = prediction (probabilities).

    For logits use `softmax_ce`. SPEC: BAS-2.
    """
    p, q = _probs(p, q)
    per_item = -jnp.sum(xlogy(p, q), axis=-1) * _scale(base)
    return reduce_loss(per_item, reduction, weights, mask)


def kl(
    p: ArrayLike,
    q: ArrayLike,
    *,
    base: float | None = None,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """KL(p || q) = sum_c p_c log(p_c / q_c) = H(p, q) - H(p); p = target. SPEC: BAS-2.

    Per item (last axis summed); "mean" over items equals torch
    `kl_div(log q, p, reduction="batchmean")` for 2-D inputs.
    """
    p, q = _probs(p, q)
    per_item = jnp.sum(xlogy(p, p) - xlogy(p, q), axis=-1) * _scale(base)
    return reduce_loss(per_item, reduction, weights, mask)
