"""Losses on binary targets: sigmoid BCE from logits, BCE on probabilities, focal, hinge.

SPEC: BAS-2, SEG-3 (focal, gamma 2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.losses._reduce import reduce_loss


def _pair(a: ArrayLike, b: ArrayLike, names: tuple[str, str]) -> tuple[Array, Array]:
    a, b = jnp.asarray(a), jnp.asarray(b)
    if a.shape != b.shape:
        raise ValueError(
            f"expected {names[1]} with the shape of {names[0]} {a.shape}, got {b.shape}"
        )
    dtype = jnp.result_type(a.dtype, jnp.float32)
    return a.astype(dtype), b.astype(dtype)


def _softplus_neg_abs(z: Array) -> Array:
    return jnp.log1p(jnp.exp(-jnp.abs(z)))


def sigmoid_bce(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    pos_weight: ArrayLike | None = None,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Binary cross-entropy from logits, max(z, 0) - z y + log(1 + e^{-|z|}). SPEC: BAS-2.

    Stable at any logit. `pos_weight` scales the positive term as in torch
    `binary_cross_entropy_with_logits`, which this equals. Targets may be soft, in [0, 1].
    """
    z, y = _pair(logits, targets, ("logits", "targets"))
    log_sig_neg = -(_softplus_neg_abs(z) + jnp.maximum(-z, 0.0))  # log sigmoid(z)
    if pos_weight is None:
        per_item = jnp.maximum(z, 0.0) - z * y + _softplus_neg_abs(z)
    else:
        coef = 1.0 + (jnp.asarray(pos_weight, z.dtype) - 1.0) * y
        per_item = (1.0 - y) * z - coef * log_sig_neg
    return reduce_loss(per_item, reduction, weights, mask)


def binary_cross_entropy(
    probs: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """BCE on probabilities, -[y log p + (1 - y) log(1 - p)], logs clamped at -100 like torch
    `binary_cross_entropy`. Prefer `sigmoid_bce` on logits. SPEC: BAS-2."""
    p, y = _pair(probs, targets, ("probs", "targets"))
    log_p = jnp.maximum(jnp.log(p), -100.0)
    log_1mp = jnp.maximum(jnp.log1p(-p), -100.0)
    return reduce_loss(-(y * log_p + (1.0 - y) * log_1mp), reduction, weights, mask)


def sigmoid_focal_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    alpha: float | None = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Focal loss (Lin et al. 2017), alpha_t (1 - p_t)^gamma BCE(z, y). SPEC: SEG-3.

    p_t = p y + (1 - p)(1 - y), alpha_t = alpha y + (1 - alpha)(1 - y); `alpha=None` drops it.
    Same formula as torchvision `sigmoid_focal_loss`; stable at any logit.
    """
    z, y = _pair(logits, targets, ("logits", "targets"))
    ce = sigmoid_bce(z, y, reduction="none")
    one_minus_pt = jax.nn.sigmoid(z) * (1.0 - y) + jax.nn.sigmoid(-z) * y
    per_item = ce if gamma == 0 else ce * one_minus_pt**gamma
    if alpha is not None:
        per_item = (alpha * y + (1.0 - alpha) * (1.0 - y)) * per_item
    return reduce_loss(per_item, reduction, weights, mask)


def hinge(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Hinge loss max(0, 1 - y s) with labels y in {-1, +1}. SPEC: BAS-2.

    The loss falls to 0 as the margin y s grows to 1. Mean = scikit-learn
    `hinge_loss` for binary labels.
    """
    s, y = _pair(scores, labels, ("scores", "labels"))
    return reduce_loss(jnp.maximum(0.0, 1.0 - y * s), reduction, weights, mask)
