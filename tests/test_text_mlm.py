"""mlm_mask (SPEC SEQ-4): 15% chosen, 80/10/10, special tokens never touched."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.text import mlm_mask

VOCAB, PAD, CLS, SEP, MASK = 1000, 0, 1, 2, 3
SPECIALS = (PAD, CLS, SEP, MASK)


def batch(n=256, length=400, seed=0) -> np.ndarray:
    """[CLS] tokens [SEP] [PAD]..., random lengths, ordinary ids from 4 on."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, VOCAB, size=(n, length)).astype(np.int32)
    lengths = rng.integers(length // 2, length, size=n)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = PAD
    ids[:, 0], ids[np.arange(n), lengths - 1] = CLS, SEP
    return ids


@pytest.mark.parametrize("wrap", [jax.jit, lambda f: f], ids=["jit", "eager"])
def test_rates_within_one_percent_and_specials_untouched(wrap):
    ids = batch()
    fn = wrap(lambda k, x: mlm_mask(k, x, vocab_size=VOCAB, mask_id=MASK, special_ids=SPECIALS))
    inputs, chosen = fn(jax.random.key(0), jnp.asarray(ids))
    chex.assert_shape(inputs, ids.shape)
    chex.assert_type(inputs, jnp.int32)
    inputs, chosen = np.asarray(inputs), np.asarray(chosen)
    special = np.isin(ids, SPECIALS)
    assert not chosen[special].any()
    np.testing.assert_array_equal(inputs[~chosen], ids[~chosen])  # specials included
    assert abs(chosen[~special].mean() - 0.15) < 0.01
    picked_in, picked_orig = inputs[chosen], ids[chosen]
    as_mask = picked_in == MASK
    kept = picked_in == picked_orig
    randomised = ~as_mask & ~kept
    assert abs(as_mask.mean() - 0.8) < 0.01
    assert abs(kept.mean() - 0.1) < 0.01
    assert abs(randomised.mean() - 0.1) < 0.01
    assert not np.isin(picked_in[randomised], SPECIALS).any()  # random ids are ordinary
    # random replacements are uniform over the ordinary ids 4..999: mean 501.5, sd 288 / sqrt(n)
    drawn = picked_in[randomised & (picked_orig != picked_in)]
    assert abs(drawn.mean() - 501.5) < 5 * 288 / np.sqrt(drawn.size)


def test_dynamic_masking_and_custom_rates():
    ids = jnp.asarray(batch(n=64, length=200, seed=1))
    kw = dict(vocab_size=VOCAB, mask_id=MASK, special_ids=SPECIALS)
    a = mlm_mask(jax.random.key(1), ids, **kw)[1]
    b = mlm_mask(jax.random.key(2), ids, **kw)[1]
    assert 0 < np.mean(np.asarray(a) != np.asarray(b))  # a fresh mask per draw (RoBERTa)
    chex.assert_trees_all_equal(a, mlm_mask(jax.random.key(1), ids, **kw)[1])
    inputs, chosen = mlm_mask(
        jax.random.key(3), ids, mask_prob=1.0, mask_token_prob=1.0, random_token_prob=0.0, **kw
    )
    ordinary = ~np.isin(np.asarray(ids), SPECIALS)
    np.testing.assert_array_equal(np.asarray(chosen), ordinary)
    assert (np.asarray(inputs)[ordinary] == MASK).all()


def test_bad_arguments_are_named():
    ids = jnp.asarray(batch(n=2, length=10))
    with pytest.raises(ValueError, match="integer token ids"):
        mlm_mask(
            jax.random.key(0),
            ids.astype(jnp.float32),
            vocab_size=VOCAB,
            mask_id=MASK,
            special_ids=SPECIALS,
        )
    with pytest.raises(ValueError, match="mask_id 5 must be one of special_ids"):
        mlm_mask(jax.random.key(0), ids, vocab_size=VOCAB, mask_id=5, special_ids=SPECIALS)
    with pytest.raises(ValueError, match="mask_token_prob \\+ random_token_prob"):
        mlm_mask(
            jax.random.key(0),
            ids,
            vocab_size=VOCAB,
            mask_id=MASK,
            special_ids=SPECIALS,
            mask_token_prob=0.95,
        )
