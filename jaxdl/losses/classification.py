"""Multi-class losses from logits: stable log-softmax, softmax cross-entropy, NLL.

SPEC: BAS-2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.losses._reduce import reduce_loss


def log_softmax(logits: ArrayLike, axis: int = -1) -> Array:
    """Stable log-softmax x_i - M - log sum_j exp(x_j - M), M = max_j x_j. SPEC: BAS-2.

    Subtracting M avoids exp overflow for large logits and log(0) when all logits are very
    negative.
    """
    x = jnp.asarray(logits)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    m = jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    shifted = x - m
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def _gather_class(values: Array, labels: Array) -> Array:
    """values[..., labels]; NaN where a label is outside [0, C) (mask such items out)."""
    num_classes = values.shape[-1]
    valid = (labels >= 0) & (labels < num_classes)
    safe = jnp.where(valid, labels, 0)
    picked = jnp.take_along_axis(values, safe[..., None], axis=-1)[..., 0]
    return jnp.where(valid, picked, jnp.nan)


def _check_int_labels(labels: Array, scores_shape: tuple[int, ...], what: str) -> None:
    if labels.shape != scores_shape[:-1]:
        raise ValueError(
            f"expected integer labels of shape {scores_shape[:-1]} (the {what} shape without its "
            f"last, class axis) or targets of shape {scores_shape}, got {labels.shape}"
        )


def softmax_ce(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Softmax cross-entropy -sum_c y_c log softmax(z)_c from logits (..., C). SPEC: BAS-2.

    `labels`: integer class ids (...) or one-hot/soft targets (..., C). `label_smoothing` eps
    mixes the target with uniform: (1 - eps) y + eps / C (Szegedy et al. 2016). Equals torch
    `cross_entropy` (class axis last); torch's class `weight` is `weights=weight[labels]`, its
    `ignore_index` is `mask=labels != ignore_index`. Unmasked out-of-range ids give NaN.
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if logits.ndim < 1:
        raise ValueError(f"expected logits of shape (..., C), got {logits.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    logp = log_softmax(logits)
    if jnp.issubdtype(labels.dtype, jnp.integer) or labels.dtype == jnp.bool_:
        _check_int_labels(labels, logits.shape, "logits")
        nll_term = -_gather_class(logp, labels.astype(jnp.int32))
    elif labels.shape == logits.shape:
        nll_term = -jnp.sum(labels.astype(logp.dtype) * logp, axis=-1)
    else:
        raise ValueError(
            f"expected integer labels of shape {logits.shape[:-1]} or float targets of shape "
            f"{logits.shape}, got {labels.dtype} {labels.shape}"
        )
    per_item = nll_term
    if label_smoothing > 0:
        uniform_term = -jnp.mean(logp, axis=-1)
        per_item = (1.0 - label_smoothing) * nll_term + label_smoothing * uniform_term
    return reduce_loss(per_item, reduction, weights, mask)


def nll(
    log_probs: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: str = "mean",
    weights: ArrayLike | None = None,
    mask: ArrayLike | None = None,
) -> Array:
    """Negative log-likelihood -log p_target from log-probabilities (..., C). SPEC: BAS-2.

    Equals torch `nll_loss` (class axis last).
    """
    log_probs = jnp.asarray(log_probs)
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"expected integer labels, got dtype {labels.dtype}")
    _check_int_labels(labels, log_probs.shape, "log_probs")
    return reduce_loss(-_gather_class(log_probs, labels), reduction, weights, mask)
