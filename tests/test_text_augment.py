"""jaxdl.text.augment and jaxdl.text.mixup (SPEC SEQ-8): each op's definition, reproducibility
from the seed, word2vec neighbours, TF-IDF statistics vs scikit-learn, mixup's definition."""

import functools
import itertools
import math
from collections import Counter

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.text import augment, mixup

TOKENS = ["这", "本书", "很", "好看", "。", "物流", "太", "慢", "了", "！", "下次", "再来"]
SYN = {"好看": ["精彩", "不错"], "慢": ["拖沓"], "本书": ["书"]}


def rng(seed=0):
    return np.random.default_rng(seed)


OPS = {
    "sr": functools.partial(augment.synonym_replacement, synonyms=SYN, n=2),
    "ri": functools.partial(augment.random_insertion, synonyms=SYN, n=2),
    "rs": functools.partial(augment.random_swap, n=2),
    "rd": functools.partial(augment.random_deletion, p=0.3),
    "eda": functools.partial(augment.eda, synonyms=SYN, alpha=0.2),
    "blank": functools.partial(augment.blank_noise, p=0.3),
    "char": functools.partial(augment.char_noise, p=0.3),
    "shuffle": augment.sentence_shuffle,
    "cross": functools.partial(augment.instance_crossover, partners=[["差", "评", "！"]]),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_ops_are_reproducible_from_the_seed(name):
    op = OPS[name]
    a, b = op(TOKENS, rng(3)), op(TOKENS, rng(3))
    assert a == b and isinstance(a, list)
    outs = {tuple(op(TOKENS, rng(s))) for s in range(20)}
    assert len(outs) > 1 or name == "cross"  # the seed matters (crossover has one partner)
    assert TOKENS[0] == "这" and len(TOKENS) == 12  # the input is not modified


def test_eda_operations():
    sr = OPS["sr"](TOKENS, rng())
    changed = [i for i, (a, b) in enumerate(zip(TOKENS, sr, strict=True)) if a != b]
    assert len(changed) == 2 and all(sr[i] in SYN[TOKENS[i]] for i in changed)
    ri = OPS["ri"](TOKENS, rng())
    inserted = Counter(ri) - Counter(TOKENS)
    assert len(ri) == 14 and sum(inserted.values()) == 2
    assert all(any(w in s for s in SYN.values()) for w in inserted)
    rs = OPS["rs"](TOKENS, rng())
    assert sorted(rs) == sorted(TOKENS) and rs != TOKENS
    rd = augment.random_deletion(TOKENS, rng(), p=0.5)
    assert 0 < len(rd) < len(TOKENS) and all(w in TOKENS for w in rd)
    assert len(augment.random_deletion(TOKENS, rng(), p=1.0)) == 1  # one word survives
    counts = [len(augment.random_deletion(TOKENS, rng(s), p=0.25)) for s in range(400)]
    assert abs(np.mean(counts) - 9.0) < 0.2  # E = 12 (1 - p)


def test_noise_shuffle_crossover():
    blank = augment.blank_noise(TOKENS, rng(), p=0.5)
    assert len(blank) == 12 and "_" in blank
    assert all(b in ("_", t) for b, t in zip(blank, TOKENS, strict=True))
    uni = augment.unigram_noise(TOKENS, rng(), vocab=["甲"], probs=[1.0], p=1.0)
    assert uni == ["甲"] * 12
    assert augment.char_noise(TOKENS, rng(), p=0.0) == TOKENS
    sentences = [TOKENS[:5], TOKENS[5:10], TOKENS[10:]]
    orders = [sum(p, []) for p in itertools.permutations(sentences)]
    seen = [augment.sentence_shuffle(TOKENS, rng(s)) for s in range(30)]
    assert all(x in orders for x in seen) and all(o in seen for o in orders)
    a, b = ["a1", "a2", "a3", "a4"], ["b1", "b2", "b3"]
    assert augment.instance_crossover(a, rng(), partners=[b]) == ["a1", "a2", "b2", "b3"]
    ops = augment.crossover_ops([a, b, ["c1", "c2"]], [0, 1, 0])
    out, labels = augment.augment_corpus([a, b], [0, 1], ops, copies=2, seed=0)
    assert labels == [0, 1, 0, 1]
    assert out[1] == ["b1", "b2", "b3"][:1] + ["b2", "b3"]  # label 1's only partner is itself
    assert all(w[0] in "ac" for w in out[0])


def test_tfidf_replacement_matches_sklearn_idf_and_prefers_low_scores():
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [["好", "书", "的"], ["的", "差"], ["的", "好", "快递"], ["书", "的"]]
    stats = augment.TfidfStats(docs)
    ref = TfidfVectorizer(analyzer=lambda d: d, smooth_idf=False).fit(docs)
    for w, i in ref.vocabulary_.items():  # sklearn: idf = ln(N / df) + 1
        assert math.isclose(stats.idf[w], ref.idf_[i] - 1.0, abs_tol=1e-12)
    assert stats.vocab[int(np.argmax(stats.weights))] == "的"  # the least informative word
    text = ["的", "的", "的", "快递"]
    hits = Counter()
    for s in range(300):
        out = augment.tfidf_replacement(text, rng(s), stats=stats, p=0.3)
        hits.update(a for a, b in zip(text, out, strict=True) if a != b)
    assert hits["的"] > 0 and hits["快递"] == 0  # the highest-TF-IDF word is never replaced


def test_word_neighbours_are_reproducible():
    corpus = [["好", "书", "推荐"], ["好", "书", "值得"], ["差", "评", "退货"]] * 30
    a = augment.word_neighbours(corpus, topn=2, min_count=5, dim=8, epochs=2, seed=1)
    b = augment.word_neighbours(corpus, topn=2, min_count=5, dim=8, epochs=2, seed=1)
    assert a == b and set(a) == {w for d in corpus for w in d}
    assert all(len(v) == 2 and k not in v for k, v in a.items())


def test_mixup():
    x = jnp.arange(24.0).reshape(4, 3, 2)
    y = jax.nn.one_hot(jnp.array([0, 1, 2, 1]), 3)
    xm, ym, lam = mixup.mixup(x, y, jax.random.PRNGKey(0), 0.4)
    chex.assert_shape(lam, (4,))
    _, perm = mixup.mixup_pairs(jax.random.PRNGKey(0), 4, 0.4)
    ref = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
    chex.assert_trees_all_close(xm, ref, rtol=1e-6)
    chex.assert_trees_all_close(ym.sum(-1), jnp.ones(4), rtol=1e-6)
    assert bool(jnp.all((lam > 0) & (lam < 1)))
    with pytest.raises(ValueError, match="alpha must be > 0"):
        mixup.mixup(x, y, jax.random.PRNGKey(0), 0.0)
    with pytest.raises(ValueError, match="soft labels"):
        mixup.mixup(x, jnp.zeros(4), jax.random.PRNGKey(0), 0.4)


def test_model_mixes_words_and_sentences():
    from jaxdl.models.text_classifier import EmbeddingBagClassifier

    model = EmbeddingBagClassifier(9, 3, embed=4, hidden=5)
    tokens = jnp.array([[1, 2, 3], [4, 5, 6], [7, 8, 2]])  # no padding: masks agree
    params = model.init(jax.random.PRNGKey(0), tokens)
    plain = model.apply(params, tokens)
    perm = jnp.array([2, 0, 1])
    for at in ("word", "sentence"):
        ones, zeros = jnp.ones(3), jnp.zeros(3)
        same = model.apply(params, tokens, mix=(ones, perm), mix_at=at)
        swapped = model.apply(params, tokens, mix=(zeros, perm), mix_at=at)
        chex.assert_trees_all_close(same, plain, atol=1e-6)
        chex.assert_trees_all_close(swapped, plain[perm], atol=1e-6)
    half = model.apply(params, tokens, mix=(jnp.full(3, 0.5), perm), mix_at="word")
    assert not np.allclose(half, plain, atol=1e-4)
