"""BERT's masked-language-model corruption (Devlin et al. 2019, arXiv:1810.04805). SPEC: SEQ-4.

Each non-special token is chosen with probability 15%; a chosen token becomes [MASK] with
probability 80%, a random non-special token with 10%, and stays unchanged with 10%. The model
predicts the original token at every chosen position. Drawing a fresh mask per batch is
RoBERTa's dynamic masking (Liu et al. 2019, arXiv:1907.11692).
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def mlm_mask(
    rng: jax.Array,
    ids: jax.Array,
    *,
    vocab_size: int,
    mask_id: int,
    special_ids: Sequence[int],
    mask_prob: float = 0.15,
    mask_token_prob: float = 0.8,
    random_token_prob: float = 0.1,
) -> tuple[jax.Array, jax.Array]:
    """Corrupt `ids` (..., L) int for MLM: -> (inputs, chosen).

    `inputs` has the 80/10/10 replacements; `chosen` (bool, same shape) marks the positions
    whose original id in `ids` is the target. Tokens in `special_ids` ([CLS], [SEP], [PAD],
    [MASK], ...) are never chosen and never drawn as random replacements. Jit-compatible.
    """
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(f"ids must be integer token ids, got dtype {ids.dtype}")
    if not (0 <= mask_prob <= 1 and mask_token_prob + random_token_prob <= 1):
        raise ValueError(
            "need 0 <= mask_prob <= 1 and mask_token_prob + random_token_prob <= 1, got "
            f"{mask_prob}, {mask_token_prob}, {random_token_prob}"
        )
    specials = np.unique(np.asarray(special_ids, np.int32))
    if mask_id not in specials:
        raise ValueError(f"mask_id {mask_id} must be one of special_ids {specials.tolist()}")
    if specials.min() < 0 or specials.max() >= vocab_size:
        raise ValueError(f"special_ids must lie in [0, vocab_size={vocab_size}), got {specials}")
    ordinary = np.setdiff1d(np.arange(vocab_size, dtype=np.int32), specials)
    k_choose, k_kind, k_random = jax.random.split(rng, 3)
    maskable = ~jnp.isin(ids, jnp.asarray(specials))
    chosen = maskable & jax.random.bernoulli(k_choose, mask_prob, ids.shape)
    u = jax.random.uniform(k_kind, ids.shape)
    random_ids = jnp.asarray(ordinary)[jax.random.randint(k_random, ids.shape, 0, len(ordinary))]
    corrupted = jnp.where(u < mask_token_prob, mask_id, ids)
    corrupted = jnp.where(
        (u >= mask_token_prob) & (u < mask_token_prob + random_token_prob), random_ids, corrupted
    )
    return jnp.where(chosen, corrupted, ids).astype(ids.dtype), chosen
