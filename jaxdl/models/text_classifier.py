"""Embedding-bag text classifier (Joulin et al. 2017, fastText-style): word embeddings,
masked mean and max pooling, one hidden layer, logits. SPEC: SEQ-6, SEQ-7, SEQ-8.

The word table is `word_embedding/embedding` (the default FGM/PGD selector). `__call__` takes
an optional `delta` added to the embedded sequence (per-example adversarial perturbations) and
`mix=(λ (B,), perm (B,))` for wordMixup (mix the padded embeddings and masks) or sentMixup (mix
the sentence encodings), chosen by `mix_at`.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
from jax import Array


class EmbeddingBagClassifier(nn.Module):
    vocab_size: int
    num_classes: int
    embed: int = 64
    hidden: int = 64
    dropout: float = 0.0
    pad_id: int = 0

    @nn.compact
    def __call__(
        self,
        tokens: Array,
        *,
        delta: Array | None = None,
        mix: tuple[Array, Array] | None = None,
        mix_at: str = "word",
        deterministic: bool = True,
    ) -> Array:
        """tokens (B, T) int ids -> logits (B, num_classes)."""
        if mix_at not in ("word", "sentence"):
            raise ValueError(f"mix_at must be 'word' or 'sentence', got {mix_at!r}")
        x = nn.Embed(self.vocab_size, self.embed, name="word_embedding")(tokens)
        if delta is not None:
            x = x + delta
        mask = (tokens != self.pad_id).astype(x.dtype)[..., None]
        if mix is not None and mix_at == "word":
            lam, perm = mix
            lam = lam[:, None, None].astype(x.dtype)
            x = lam * x + (1 - lam) * x[perm]
            mask = jnp.maximum(mask, mask[perm])
        count = jnp.maximum(mask.sum(1), 1.0)
        mean = (x * mask).sum(1) / count
        peak = jnp.where(mask > 0, x, -1e9).max(1) * (mask.sum(1) > 0)
        h = nn.relu(nn.Dense(self.hidden, name="hidden")(jnp.concatenate([mean, peak], -1)))
        if mix is not None and mix_at == "sentence":
            lam, perm = mix
            lam = lam[:, None].astype(h.dtype)
            h = lam * h + (1 - lam) * h[perm]
        h = nn.Dropout(self.dropout)(h, deterministic=deterministic)
        return nn.Dense(self.num_classes, name="logits")(h)
