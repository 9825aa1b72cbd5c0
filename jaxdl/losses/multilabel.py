"""Multi-label losses from logits (N, L): two soft-F1 variants and ZLPR. SPEC: SEQ-5.

Labels are {0, 1} indicators (N, L); `mask` (N,) drops rows (e.g. padding).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jaxdl.losses._reduce import reduce_loss


def _inputs(logits: ArrayLike, labels: ArrayLike, mask: ArrayLike | None):
    z, y = jnp.asarray(logits), jnp.asarray(labels)
    if z.ndim != 2 or z.shape != y.shape:
        raise ValueError(
            f"expected logits and labels of one shape (N, L), got {z.shape} and {y.shape}"
        )
    dtype = jnp.result_type(z.dtype, jnp.float32)
    m = jnp.ones(z.shape[:1], dtype) if mask is None else jnp.asarray(mask).astype(dtype)
    if m.shape != z.shape[:1]:
        raise ValueError(f"expected a row mask of shape {z.shape[:1]}, got {m.shape}")
    return z.astype(dtype), y.astype(dtype), m[:, None]


def soft_f1_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    eps: float = 1e-7,
    from_logits: bool = True,
    mask: ArrayLike | None = None,
    reduction: str = "mean",
) -> Array:
    """Soft macro-F1 loss, Keras variant: 1 - mean_c F1_c on p = sigmoid(logits).

    Per class over the batch: tp = sum yp, fp = sum (1-y)p, fn = sum y(1-p); P = tp/(tp+fp+eps),
    R = tp/(tp+fn+eps), F1 = 2PR/(P+R+eps), NaN -> 0. `reduction` runs over the L per-class
    losses 1 - F1_c. `from_logits=False` takes probabilities. SPEC: SEQ-5.
    """
    z, y, m = _inputs(logits, labels, mask)
    p = (jax.nn.sigmoid(z) if from_logits else z) * m
    y = y * m
    tp = jnp.sum(y * p, axis=0)
    fp = jnp.sum((1.0 - y) * p, axis=0)
    fn = jnp.sum(y * (1.0 - p), axis=0)
    precision = tp / (tp + fp + eps)
    recall = tp / (tp + fn + eps)
    f1 = 2.0 * precision * recall / (precision + recall + eps)
    f1 = jnp.where(jnp.isnan(f1), 0.0, f1)
    return reduce_loss(1.0 - f1, reduction)


def soft_f1_floor_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    floor: float = 0.01,
    mask: ArrayLike | None = None,
    reduction: str = "mean",
) -> Array:
    """Soft macro-F1 loss, PyTorch variant with the floor trick. SPEC: SEQ-5.

    p = sigmoid(logits); p' = max(p(1-y), floor) + p y (negatives >= floor, positives get
    +floor); P = sum p'y / (sum p' + 1e-8), R = sum p'y / (sum y + 1e-8),
    F1 = 2PR/(P+R+1e-8) per class; loss 1 - F1_c reduced over classes. No gradient flows to
    negatives below the floor.
    """
    z, y, m = _inputs(logits, labels, mask)
    p = jax.nn.sigmoid(z)
    p = (jnp.maximum(p * (1.0 - y), floor) + p * y) * m
    y = y * m
    tp = jnp.sum(p * y, axis=0)
    precision = tp / (jnp.sum(p, axis=0) + 1e-8)
    recall = tp / (jnp.sum(y, axis=0) + 1e-8)
    f1 = 2.0 * precision * recall / (precision + recall + 1e-8)
    return reduce_loss(1.0 - f1, reduction)


def zlpr_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    reduction: str = "mean",
) -> Array:
    """ZLPR multi-label loss (Su et al. 2022): log(1 + sum_neg e^s) + log(1 + sum_pos e^-s).

    Generalises softmax CE (-s_t + log sum_i e^{s_i}, BAS-2) to many targets with threshold 0
    (label positive iff s > 0). One loss per row, then `reduction`. SPEC: SEQ-5.
    """
    z, y, m = _inputs(logits, labels, mask)
    zeros = jnp.zeros_like(z[:, :1])
    neg = jnp.where(y > 0.5, -jnp.inf, z)
    pos = jnp.where(y > 0.5, -z, -jnp.inf)
    per_row = jax.nn.logsumexp(jnp.concatenate([zeros, neg], axis=1), axis=1) + jax.nn.logsumexp(
        jnp.concatenate([zeros, pos], axis=1), axis=1
    )
    return reduce_loss(per_row, reduction, mask=m[:, 0])
