"""wordMixup and sentMixup (Guo et al. 2019, SPEC: SEQ-8) as batch transforms.

Row i is mixed with row perm[i] of the same batch: x' = λ x + (1 - λ) x[perm] and
y' = λ y + (1 - λ) y[perm], λ ~ Beta(α, α) drawn per row. wordMixup mixes the padded word
embeddings (B, T, E), sentMixup the sentence encodings (B, H) (`EmbeddingBagClassifier`'s
`mix=(λ, perm)` with `mix_at="word"` / `"sentence"`); the loss is the cross-entropy against the
mixed soft labels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array


def mixup_pairs(rng: Array, batch: int, alpha: float) -> tuple[Array, Array]:
    """(λ (B,) ~ Beta(α, α), a random permutation perm (B,)) for one batch."""
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    k_lam, k_perm = jax.random.split(rng)
    lam = jax.random.beta(k_lam, alpha, alpha, (batch,), dtype=jnp.float32)
    return lam, jax.random.permutation(k_perm, batch)


def mix(x: Array, lam: Array, perm: Array) -> Array:
    """λ x + (1 - λ) x[perm], λ broadcast over the trailing axes of x (B, ...)."""
    if lam.shape != x.shape[:1]:
        raise ValueError(f"expected λ of shape {x.shape[:1]}, got {lam.shape}")
    lam = lam.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
    return lam * x + (1 - lam) * x[perm]


def mixup(x: Array, y: Array, rng: Array, alpha: float) -> tuple[Array, Array, Array]:
    """-> (mixed x, mixed soft labels, λ): x (B, ...) features or embeddings, y (B, C) one-hot or
    soft labels."""
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"expected x (B, ...) and soft labels (B, C), got {x.shape}, {y.shape}")
    lam, perm = mixup_pairs(rng, x.shape[0], alpha)
    return mix(x, lam, perm), mix(y, lam, perm), lam
