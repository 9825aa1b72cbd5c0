"""Seq2seq with attention (SPEC SEQ-2): attention scores against float64 NumPy re-expressions,
teacher forcing against step-by-step decoding, beam search against exhaustive search, bad input."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.models.seq2seq import SCORES, Attention, Seq2Seq, beam_search, greedy_decode

BOS, EOS = 1, 2


def _np(x):
    return np.asarray(x, np.float64)


def _reference_scores(score, p, q, k):
    """float64 scores (B, Tq, Tk) from the formulas in the module docstring."""
    if score == "dot":
        return np.einsum("bqd,bkd->bqk", q, k)
    if score == "general":
        return np.einsum("bqd,bkd->bqk", q, k @ _np(p["Dense_0"]["kernel"]))
    wq = q @ _np(p["query"]["kernel"])
    wk = k @ _np(p["key"]["kernel"]) + _np(p["key"]["bias"])
    pre = wq[:, :, None] + wk[:, None]
    if score == "concat":
        hidden = np.tanh(pre)
    else:
        hidden = np.maximum(pre, 0) @ _np(p["hidden"]["kernel"]) + _np(p["hidden"]["bias"])
        hidden = np.maximum(hidden, 0)
    return (hidden @ _np(p["v"]["kernel"]))[..., 0]


@pytest.mark.parametrize("score", SCORES)
def test_attention_matches_reference(score):
    rs = np.random.RandomState(0)
    q, k = rs.randn(2, 3, 8).astype(np.float32), rs.randn(2, 5, 8).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)
    att = Attention(score, hidden=6)
    params = att.init(jax.random.PRNGKey(1), q, k, mask)["params"] if score != "dot" else {}
    ctx, w = att.apply({"params": params}, q, k, mask)
    s = np.where(mask[:, None], _reference_scores(score, params, _np(q), _np(k)), -np.inf)
    want_w = np.exp(s - s.max(-1, keepdims=True))
    want_w /= want_w.sum(-1, keepdims=True)
    chex.assert_trees_all_close(np.asarray(w), want_w, atol=1e-5)
    chex.assert_trees_all_close(np.asarray(ctx), want_w @ _np(k), atol=1e-5)
    assert np.all(np.asarray(w)[1, :, 2:] == 0)


def _model(attention="general", **kw):
    return Seq2Seq(src_vocab=7, tgt_vocab=6, embed=8, hidden=5, attention=attention, **kw)


SRC = np.array([[3, 4, 5, 6], [4, 3, 0, 0]], np.int32)


def _init(model, t=4):
    return model.init(jax.random.PRNGKey(0), SRC, np.ones((2, t), np.int32))["params"]


@pytest.mark.parametrize("attention", [None, "concat"])
def test_teacher_forcing_equals_step_by_step(attention):
    model = _model(attention, num_layers=2)
    params = _init(model)
    tgt_in = np.array([[BOS, 3, 4, 5], [BOS, 5, 3, 3]], np.int32)
    logits, weights = model.apply({"params": params}, SRC, tgt_in)
    chex.assert_shape((logits, weights), ((2, 4, 6), (2, 4, 4)))
    memory, mask, state = model.apply({"params": params}, SRC, method=Seq2Seq.encode)
    decode = jax.jit(lambda *a: model.apply({"params": params}, *a, method=Seq2Seq.decode))
    for t in range(4):
        step, w, state = decode(tgt_in[:, t : t + 1], memory, mask, state)
        chex.assert_trees_all_close(step[:, 0], logits[:, t], atol=1e-5)
        chex.assert_trees_all_close(w[:, 0], weights[:, t], atol=1e-6)


def test_source_padding_is_ignored():
    model = _model("mlp", num_layers=2)
    params = _init(model)
    tgt_in = np.array([[BOS, 3], [BOS, 4]], np.int32)
    a, _ = model.apply({"params": params}, SRC, tgt_in)
    longer = np.pad(SRC, ((0, 0), (0, 3)))  # more padding
    b, w = model.apply({"params": params}, longer, tgt_in)
    chex.assert_trees_all_close(a, b, atol=1e-5)
    assert np.all(np.asarray(w)[1, :, 2:] == 0)


def _sequence_logp(model, params, ys):
    """Teacher-forced log-probability of each row of ys up to and including its first </s>."""
    src = np.repeat(SRC[:1], len(ys), 0)
    tgt_in = np.concatenate([np.full((len(ys), 1), BOS), ys[:, :-1]], 1).astype(np.int32)
    logp = np.asarray(jax.nn.log_softmax(model.apply({"params": params}, src, tgt_in)[0]))
    tok = np.take_along_axis(logp, ys[..., None], -1)[..., 0]
    after_eos = np.cumsum(np.concatenate([np.zeros((len(ys), 1)), ys[:, :-1] == EOS], 1), 1) > 0
    return np.where(after_eos, 0.0, tok).sum(1)


def test_beam_search_finds_the_exhaustive_best_and_beam_one_is_greedy():
    model = _model("concat")
    params = _init(model)
    length, v = 3, model.tgt_vocab
    ys = np.array(list(itertools.product(range(v), repeat=length)), np.int32)
    scores = _sequence_logp(model, params, ys)
    best = ys[np.argmax(scores)]
    if EOS in best:  # after </s> the beam emits padding
        best = np.where(np.arange(length) > list(best).index(EOS), 0, best)
    tokens, score = beam_search(model, params, SRC[:1], length, BOS, EOS, beam=v ** (length - 1))
    np.testing.assert_array_equal(np.asarray(tokens)[0], best)
    np.testing.assert_allclose(float(score[0]), scores.max(), atol=1e-5)
    greedy, _ = greedy_decode(model, params, SRC, 5, BOS, EOS)
    one, _ = jax.jit(lambda p, s: beam_search(model, p, s, 5, BOS, EOS, beam=1))(params, SRC)
    np.testing.assert_array_equal(np.asarray(greedy), np.asarray(one))


def test_bad_input_names_the_limit():
    model = _model()
    params = _init(model)
    with pytest.raises(ValueError, match=r"source token ids must be in \[0, 7\) .* found \[9\]"):
        model.apply({"params": params}, np.array([[3, 9]]), np.ones((1, 2), np.int32))
    with pytest.raises(ValueError, match=r"target token ids must be in \[0, 6\)"):
        model.apply({"params": params}, SRC, np.array([[1, 6], [1, -1]]))
    with pytest.raises(ValueError, match="must be integer token ids"):
        model.apply({"params": params}, SRC.astype(np.float32), np.ones((2, 2), np.int32))
    with pytest.raises(ValueError, match=r"unknown attention score 'cosine'; choose from"):
        _init(_model("cosine"))
    att = Attention("dot")
    with pytest.raises(ValueError, match=r"key_mask shape \(2, 4\) must be keys' .* \(2, 5\)"):
        att.apply({}, jnp.zeros((2, 1, 3)), jnp.zeros((2, 5, 3)), jnp.ones((2, 4), bool))
    with pytest.raises(ValueError, match="dot score needs equal query and key sizes"):
        att.apply({}, jnp.zeros((2, 1, 3)), jnp.zeros((2, 5, 4)), jnp.ones((2, 5), bool))
