"""Encoder–decoder with attention: BiLSTM encoder, LSTM decoder. SPEC: SEQ-2.

The encoder (Sutskever et al. 2014; bidirectional as in Bahdanau et al. 2015) returns all its
states hs (B, S, D·H) and its final states; the decoder LSTM (hidden D·H) starts from the
encoder's final (h, c), forward and reverse halves concatenated per layer. At every step its
output h_t queries hs (Luong et al. 2015): scores → softmax over the real source positions →
context c_t = Σ α hs, and the logits are W_o tanh(W_c [c_t; h_t]). Scores:

- "dot":     hᵀ k
- "general": hᵀ W k
- "concat":  vᵀ tanh(W [h; k])          (Bahdanau et al. 2015's additive score)
- "mlp":     a two-hidden-layer ReLU MLP of [h; k] to a scalar

`attention=None` drops it (logits W_o h_t). Training is teacher-forced (`__call__` with the
shifted target); `greedy_decode` and `beam_search` generate.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.nn.recurrent import Recurrent

SCORES = ("dot", "general", "concat", "mlp")


def check_ids(ids, vocab_size: int, name: str) -> None:
    """ValueError if concrete `ids` hold values outside [0, vocab_size) (skipped under jit)."""
    if isinstance(ids, jax.core.Tracer):
        return
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be integer token ids, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids[(ids < 0) | (ids >= vocab_size)]
        raise ValueError(
            f"{name} token ids must be in [0, {vocab_size}) (the vocabulary size); "
            f"found {sorted(set(bad.tolist()))[:5]}"
        )


class Attention(nn.Module):
    """Attention of queries (B, Tq, Dq) over keys = values (B, Tk, Dk) with `key_mask` (B, Tk):
    -> (context (B, Tq, Dk), weights (B, Tq, Tk)). `hidden`: width of W in concat/mlp."""

    score: str = "general"
    hidden: int = 128

    @nn.compact
    def __call__(self, query, keys, key_mask):
        if self.score not in SCORES:
            raise ValueError(f"unknown attention score {self.score!r}; choose from {SCORES}")
        if key_mask.shape != keys.shape[:2]:
            raise ValueError(
                f"key_mask shape {key_mask.shape} must be keys' (batch, time) {keys.shape[:2]}"
            )
        if self.score == "dot":
            if query.shape[-1] != keys.shape[-1]:
                raise ValueError(
                    f"dot score needs equal query and key sizes, got "
                    f"{query.shape[-1]} and {keys.shape[-1]}"
                )
            scores = jnp.einsum("bqd,bkd->bqk", query, keys)
        elif self.score == "general":
            scores = jnp.einsum("bqd,bkd->bqk", query, nn.Dense(query.shape[-1], False)(keys))
        else:
            q = nn.Dense(self.hidden, use_bias=False, name="query")(query)[:, :, None]
            k = nn.Dense(self.hidden, name="key")(keys)[:, None]
            if self.score == "concat":  # W[q; k] = W_q q + W_k k
                hidden = jnp.tanh(q + k)
            else:
                hidden = nn.Dense(self.hidden, name="hidden")(nn.relu(q + k))
                hidden = nn.relu(hidden)
            scores = nn.Dense(1, use_bias=False, name="v")(hidden)[..., 0]
        scores = jnp.where(key_mask[:, None, :], scores, jnp.finfo(scores.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)
        return jnp.einsum("bqk,bkd->bqd", weights, keys), weights


class Seq2Seq(nn.Module):
    """src ids (B, S) and decoder input ids (B, T) (<s> + target) -> logits (B, T, tgt_vocab),
    attention weights (B, T, S) (zeros without attention). Id 0 is padding in both."""

    src_vocab: int
    tgt_vocab: int
    embed: int = 64
    hidden: int = 128  # encoder LSTM per direction; the decoder has directions * hidden
    num_layers: int = 1
    bidirectional: bool = True
    attention: str | None = "general"
    attention_hidden: int = 128
    dropout: float = 0.0
    pad_id: int = 0

    def setup(self):
        d = 2 if self.bidirectional else 1
        self.src_embed = nn.Embed(self.src_vocab, self.embed)
        self.tgt_embed = nn.Embed(self.tgt_vocab, self.embed)
        self.encoder = Recurrent(
            "lstm", self.hidden, self.num_layers, self.bidirectional, dropout=self.dropout
        )
        self.decoder = Recurrent("lstm", d * self.hidden, self.num_layers, dropout=self.dropout)
        if self.attention is not None:
            self.attend = Attention(self.attention, self.attention_hidden)
            self.combine = nn.Dense(d * self.hidden)
        self.out = nn.Dense(self.tgt_vocab)
        self.drop = nn.Dropout(self.dropout)

    def encode(self, src, deterministic=True):
        """-> (memory (B, S, D·H), src_mask (B, S), decoder start state (h, c) (L, B, D·H))."""
        check_ids(src, self.src_vocab, "source")
        mask = src != self.pad_id
        x = self.drop(self.src_embed(src), deterministic=deterministic)
        memory, (h, c) = self.encoder(x, mask=mask, deterministic=deterministic)
        d, layers = (2 if self.bidirectional else 1), self.num_layers

        def merge(s):  # (L·D, B, H) -> (L, B, D·H), [forward; reverse]
            s = s.reshape(layers, d, *s.shape[1:])
            return jnp.concatenate([s[:, i] for i in range(d)], axis=-1)

        return memory, mask, (merge(h), merge(c))

    def decode(self, tgt_in, memory, src_mask, state, deterministic=True):
        """Decoder over tgt_in (B, T) from `state`: -> (logits, weights (B, T, S), new state)."""
        check_ids(tgt_in, self.tgt_vocab, "target")
        x = self.drop(self.tgt_embed(tgt_in), deterministic=deterministic)
        h, state = self.decoder(x, initial_state=state, deterministic=deterministic)
        if self.attention is None:
            weights = jnp.zeros(tgt_in.shape + memory.shape[1:2], h.dtype)
        else:
            context, weights = self.attend(h, memory, src_mask)
            h = jnp.tanh(self.combine(jnp.concatenate([context, h], axis=-1)))
        h = self.drop(h, deterministic=deterministic)
        return self.out(h), weights, state

    def __call__(self, src, tgt_in, deterministic=True):
        memory, mask, state = self.encode(src, deterministic)
        logits, weights, _ = self.decode(tgt_in, memory, mask, state, deterministic)
        return logits, weights


def greedy_decode(model: Seq2Seq, params, src, max_len: int, bos: int, eos: int):
    """Argmax decoding: -> (tokens (B, max_len), attention (B, max_len, S)); after </s> the
    tokens are padding (0)."""
    variables = {"params": params}
    memory, mask, state = model.apply(variables, src, method=Seq2Seq.encode)

    def step(carry, _):
        prev, state, done = carry
        logits, w, state = model.apply(
            variables, prev[:, None], memory, mask, state, method=Seq2Seq.decode
        )
        tok = jnp.where(done, model.pad_id, jnp.argmax(logits[:, 0], -1))
        return (tok, state, done | (tok == eos)), (tok, w[:, 0])

    b = src.shape[0]
    init = (jnp.full((b,), bos, jnp.int32), state, jnp.zeros((b,), bool))
    _, (tokens, weights) = jax.lax.scan(step, init, None, length=max_len)
    return tokens.T.astype(jnp.int32), weights.transpose(1, 0, 2)


def _gather(x, idx):
    """x (B, K, ...) rows idx (B, K') along axis 1."""
    return jnp.take_along_axis(x, idx.reshape(idx.shape + (1,) * (x.ndim - 2)), axis=1)


def beam_search(
    model: Seq2Seq, params, src, max_len: int, bos: int, eos: int, beam: int = 5, alpha=0.0
):
    """Beam search: -> (tokens (B, max_len), log-probability (B,)) of the best finished beam
    (length-normalised by len^alpha when alpha > 0). A beam that emitted </s> continues with
    padding at no cost; beam 1 equals `greedy_decode`."""
    variables = {"params": params}
    memory, mask, state = model.apply(variables, src, method=Seq2Seq.encode)
    b, v, pad = src.shape[0], model.tgt_vocab, model.pad_id
    tile = lambda x: jnp.repeat(x, beam, axis=0)  # noqa: E731  (B, ...) -> (B·K, ...)
    memory, mask = tile(memory), tile(mask)
    state = jax.tree.map(lambda s: jnp.repeat(s, beam, axis=1), state)
    neg = -jnp.inf
    only_pad = jnp.full((v,), neg).at[pad].set(0.0)

    def step(carry, t):
        prev, state, scores, done, tokens = carry
        logits, _, state = model.apply(
            variables, prev[:, None], memory, mask, state, method=Seq2Seq.decode
        )
        logp = jax.nn.log_softmax(logits[:, 0]).reshape(b, beam, v)
        logp = jnp.where(done[..., None], only_pad, logp)
        cand = (scores[..., None] + logp).reshape(b, beam * v)
        scores, idx = jax.lax.top_k(cand, beam)
        src_beam, tok = idx // v, (idx % v).astype(jnp.int32)
        tokens = _gather(tokens, src_beam).at[:, :, t].set(tok)
        done = _gather(done, src_beam) | (tok == eos)
        flat = (jnp.arange(b)[:, None] * beam + src_beam).reshape(-1)
        state = jax.tree.map(lambda s: s[:, flat], state)
        return (tok.reshape(-1), state, scores, done, tokens), None

    scores = jnp.full((b, beam), neg).at[:, 0].set(0.0)
    tokens = jnp.zeros((b, beam, max_len), jnp.int32)
    init = (
        jnp.full((b * beam,), bos, jnp.int32),
        state,
        scores,
        jnp.zeros((b, beam), bool),
        tokens,
    )
    (_, _, scores, _, tokens), _ = jax.lax.scan(step, init, jnp.arange(max_len))
    length = jnp.sum((tokens != pad) & (tokens != eos), -1) + 1
    ranked = scores / length.astype(scores.dtype) ** alpha if alpha else scores
    best = jnp.argmax(ranked, axis=1)
    best = best[:, None]
    return _gather(tokens, best)[:, 0], _gather(scores, best)[:, 0]
