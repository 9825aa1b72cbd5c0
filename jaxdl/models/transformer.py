"""Transformer encoder-decoder (Vaswani et al. 2017, arXiv:1706.03762). SPEC: SEQ-3.

`TransformerEncoder` / `TransformerDecoder` are the layer stacks on vectors (B, L, d_model) with
`torch.nn.Transformer`'s structure and parameter names (`self_attn`, `linear1`, `norm1`, ...;
the decoder's encoder-decoder attention is `cross_attn`, torch's `multihead_attn`), so
`jaxdl.convert.torch_transformer` maps its weights one to one. `Transformer` adds token
embeddings scaled by sqrt(d_model), sinusoidal positions, dropout and the output projection
(tied to the target embedding by default).

Norm placement: Post-LN `x = LN(x + F(x))` (the paper) or Pre-LN `x = x + F(LN(x))`
(`norm_first=True`), which needs a final LN after the stack and trains without warm-up.
`final_norm` defaults to `norm_first`; `torch.nn.Transformer` always has it, so set
`final_norm=True` to load its Post-LN weights.

Masks are booleans, True = may attend (`jaxdl.nn.attention`); the models take per-token
validity (B, L) and build the padding and causal masks themselves. Cached decoding
(`decode=True`) keeps each decoder self-attention's keys and values and the position in a
`cache` collection: see `init_cache` and `greedy_decode`.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.nn.attention import MultiHeadAttention, causal_mask, padding_mask
from jaxdl.nn.embeddings import sinusoidal_position_embedding
from jaxdl.nn.norm import LayerNorm

_ACTIVATIONS = {"relu": jax.nn.relu, "gelu": lambda x: jax.nn.gelu(x, approximate=False)}


def check_token_ids(ids: jax.Array, vocab_size: int, name: str = "token") -> None:
    """Raise if `ids` (B, L) is not integer or, when concrete, holds ids outside [0, vocab_size).

    Under `jit` the values are unknown and only the dtype and rank are checked; check data
    batches before training with concrete arrays.
    """
    if ids.ndim != 2 or not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(f"{name} ids must be integers of shape (B, L), got {ids.dtype}{ids.shape}")
    try:
        values = np.asarray(ids)
    except jax.errors.TracerArrayConversionError:
        return
    if values.size and (values.min() < 0 or values.max() >= vocab_size):
        raise ValueError(
            f"{name} ids must lie in [0, vocab_size={vocab_size}), got values in "
            f"[{values.min()}, {values.max()}]"
        )


def check_length(length: int, limit: int, what: str = "max_len") -> None:
    """Raise if a sequence is longer than the position table."""
    if length > limit:
        raise ValueError(f"sequence length {length} exceeds the position table ({what}={limit})")


def check_mask(mask: jax.Array | None, ids: jax.Array, name: str) -> None:
    """Raise unless `mask` is None or has the (B, L) shape of `ids`."""
    if mask is not None and mask.shape != ids.shape:
        raise ValueError(f"{name} must have shape (B, L) = {ids.shape}, got {mask.shape}")


def _feed_forward(m: nn.Module, x: jax.Array, deterministic: bool) -> jax.Array:
    h = _ACTIVATIONS[m.activation](nn.Dense(m.dim_feedforward, name="linear1")(x))
    h = nn.Dropout(m.dropout)(h, deterministic=deterministic)
    return nn.Dense(x.shape[-1], name="linear2")(h)


class EncoderLayer(nn.Module):
    """Self-attention + FFN, each with residual, dropout and LN (Post- or Pre-LN). SPEC: SEQ-3.

    x (B, L, D), mask bool broadcastable to (B, H, L, L) -> (B, L, D).
    """

    num_heads: int
    dim_feedforward: int
    dropout: float = 0.1
    norm_first: bool = False
    activation: str = "relu"
    layer_norm_eps: float = 1e-5

    @nn.compact
    def __call__(self, x, mask=None, deterministic: bool = True):
        drop = nn.Dropout(self.dropout, deterministic=deterministic)
        attn = MultiHeadAttention(self.num_heads, dropout_rate=self.dropout, name="self_attn")
        norm1 = LayerNorm(epsilon=self.layer_norm_eps, name="norm1")
        norm2 = LayerNorm(epsilon=self.layer_norm_eps, name="norm2")

        def sa(h):
            return drop(attn(h, mask=mask, deterministic=deterministic))

        def ff(h):
            return drop(_feed_forward(self, h, deterministic))

        if self.norm_first:
            x = x + sa(norm1(x))
            return x + ff(norm2(x))
        x = norm1(x + sa(x))
        return norm2(x + ff(x))


class DecoderLayer(nn.Module):
    """Causal self-attention, encoder-decoder attention, FFN (Post- or Pre-LN). SPEC: SEQ-3.

    x (B, Lt, D), memory (B, Ls, D), self_mask (.., Lt, Lt), cross_mask (.., Lt, Ls) bool.
    `decode=True`: self-attention reads and extends the key/value cache.
    """

    num_heads: int
    dim_feedforward: int
    dropout: float = 0.1
    norm_first: bool = False
    activation: str = "relu"
    layer_norm_eps: float = 1e-5

    @nn.compact
    def __call__(
        self, x, memory, self_mask=None, cross_mask=None, deterministic=True, decode=False
    ):
        drop = nn.Dropout(self.dropout, deterministic=deterministic)
        heads, rate = self.num_heads, self.dropout
        self_attn = MultiHeadAttention(heads, dropout_rate=rate, decode=decode, name="self_attn")
        cross_attn = MultiHeadAttention(heads, dropout_rate=rate, name="cross_attn")
        norms = [LayerNorm(epsilon=self.layer_norm_eps, name=f"norm{i}") for i in (1, 2, 3)]

        def sa(h):
            return drop(self_attn(h, mask=self_mask, deterministic=deterministic))

        def ca(h):
            return drop(cross_attn(h, memory, mask=cross_mask, deterministic=deterministic))

        def ff(h):
            return drop(_feed_forward(self, h, deterministic))

        for block, norm in zip((sa, ca, ff), norms, strict=True):
            x = x + block(norm(x)) if self.norm_first else norm(x + block(x))
        return x


class TransformerEncoder(nn.Module):
    """`num_layers` encoder layers `layers_i` and an optional final LN `norm`. SPEC: SEQ-3.

    x (B, L, D), mask bool broadcastable to (B, H, L, L) -> (B, L, D).
    """

    num_layers: int
    num_heads: int
    dim_feedforward: int
    dropout: float = 0.1
    norm_first: bool = False
    final_norm: bool | None = None
    activation: str = "relu"
    layer_norm_eps: float = 1e-5

    @nn.compact
    def __call__(self, x, mask=None, deterministic: bool = True):
        for i in range(self.num_layers):
            x = EncoderLayer(**_layer_kwargs(self), name=f"layers_{i}")(x, mask, deterministic)
        return _final_norm(self, x)


class TransformerDecoder(nn.Module):
    """`num_layers` decoder layers `layers_i` and an optional final LN `norm`. SPEC: SEQ-3.

    x (B, Lt, D), memory (B, Ls, D) -> (B, Lt, D); masks as in `DecoderLayer`.
    """

    num_layers: int
    num_heads: int
    dim_feedforward: int
    dropout: float = 0.1
    norm_first: bool = False
    final_norm: bool | None = None
    activation: str = "relu"
    layer_norm_eps: float = 1e-5

    @nn.compact
    def __call__(
        self, x, memory, self_mask=None, cross_mask=None, deterministic=True, decode=False
    ):
        for i in range(self.num_layers):
            layer = DecoderLayer(**_layer_kwargs(self), name=f"layers_{i}")
            x = layer(x, memory, self_mask, cross_mask, deterministic, decode)
        return _final_norm(self, x)


def _layer_kwargs(stack: nn.Module) -> dict:
    if stack.activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {stack.activation!r}; valid: {sorted(_ACTIVATIONS)}")
    names = ("num_heads", "dim_feedforward", "dropout", "norm_first", "activation")
    return {n: getattr(stack, n) for n in names} | {"layer_norm_eps": stack.layer_norm_eps}


def _final_norm(stack: nn.Module, x: jax.Array) -> jax.Array:
    use = stack.norm_first if stack.final_norm is None else stack.final_norm
    return LayerNorm(epsilon=stack.layer_norm_eps, name="norm")(x) if use else x


class SinusoidalPositions(nn.Module):
    """Adds PE[pos] (`jaxdl.nn.sinusoidal_position_embedding`) for positions < max_len.

    With `decode=True` the positions continue from a `cache/position` counter.
    """

    max_len: int

    @nn.compact
    def __call__(self, x: jax.Array, decode: bool = False) -> jax.Array:
        check_length(x.shape[1], self.max_len)
        table = sinusoidal_position_embedding(self.max_len, x.shape[-1])
        if not decode:
            return x + table[: x.shape[1]].astype(x.dtype)
        initialized = self.has_variable("cache", "position")
        pos = self.variable("cache", "position", lambda: jnp.zeros((), jnp.int32))
        start = pos.value if initialized else 0
        if initialized:
            pos.value = start + x.shape[1]
        rows = jax.lax.dynamic_slice_in_dim(table, start, x.shape[1])
        return x + rows.astype(x.dtype)


class Transformer(nn.Module):
    """Token-level Transformer: `model(src, tgt, src_mask, tgt_mask)` -> logits. SPEC: SEQ-3.

    src (B, Ls), tgt (B, Lt) int ids (tgt starts with the start token, teacher forcing);
    src_mask / tgt_mask (B, L) bool, True = real token (None = no padding); the decoder's causal
    mask is always applied. Returns (B, Lt, tgt_vocab_size) logits. Paper base sizes by default.
    `share_embeddings` uses one table for source and target (needs equal vocabularies);
    `tie_output` projects with the target embedding's transpose.
    """

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    num_heads: int = 8
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    dim_feedforward: int = 2048
    dropout: float = 0.1
    norm_first: bool = False
    final_norm: bool | None = None
    activation: str = "relu"
    max_len: int = 512
    share_embeddings: bool = False
    tie_output: bool = True

    def setup(self):
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(
                "share_embeddings needs src_vocab_size == tgt_vocab_size, got "
                f"{self.src_vocab_size} and {self.tgt_vocab_size}"
            )
        init = nn.initializers.normal(self.d_model**-0.5)
        self.tgt_embed = nn.Embed(self.tgt_vocab_size, self.d_model, embedding_init=init)
        self.src_embed = (
            self.tgt_embed
            if self.share_embeddings
            else nn.Embed(self.src_vocab_size, self.d_model, embedding_init=init)
        )
        self.positions = SinusoidalPositions(self.max_len)
        self.dropout_layer = nn.Dropout(self.dropout)
        stack = dict(
            num_heads=self.num_heads,
            dim_feedforward=self.dim_feedforward,
            dropout=self.dropout,
            norm_first=self.norm_first,
            final_norm=self.final_norm,
            activation=self.activation,
        )
        self.encoder = TransformerEncoder(self.num_encoder_layers, **stack)
        self.decoder = TransformerDecoder(self.num_decoder_layers, **stack)
        if not self.tie_output:
            self.output = nn.Dense(self.tgt_vocab_size)

    def _embed(self, embed, ids, vocab, name, deterministic, decode=False):
        check_token_ids(ids, vocab, name)
        x = embed(ids) * math.sqrt(self.d_model)
        return self.dropout_layer(self.positions(x, decode), deterministic=deterministic)

    def encode(self, src, src_mask=None, deterministic: bool = True):
        """src (B, Ls) ids, src_mask (B, Ls) bool -> memory (B, Ls, d_model)."""
        check_mask(src_mask, src, "src_mask")
        x = self._embed(self.src_embed, src, self.src_vocab_size, "source", deterministic)
        mask = None if src_mask is None else padding_mask(src_mask)
        return self.encoder(x, mask, deterministic)

    def decode(self, tgt, memory, src_mask=None, tgt_mask=None, deterministic=True, decode=False):
        """tgt (B, Lt) ids, memory (B, Ls, D) -> logits (B, Lt, tgt_vocab_size).

        `decode=True`: tgt holds only the new tokens; keys, values and positions come from and
        go to the `cache` collection (pass it with `mutable=["cache"]`, see `init_cache`).
        """
        check_mask(tgt_mask, tgt, "tgt_mask")
        if src_mask is not None and src_mask.shape != memory.shape[:2]:
            raise ValueError(
                f"src_mask must have shape (B, Ls) = {memory.shape[:2]}, got {src_mask.shape}"
            )
        x = self._embed(self.tgt_embed, tgt, self.tgt_vocab_size, "target", deterministic, decode)
        self_mask = None if decode else causal_mask(tgt.shape[1])
        if tgt_mask is not None:
            pad = padding_mask(tgt_mask)
            self_mask = pad if self_mask is None else jnp.logical_and(self_mask, pad)
        cross_mask = None if src_mask is None else padding_mask(src_mask)
        y = self.decoder(x, memory, self_mask, cross_mask, deterministic, decode)
        return self.tgt_embed.attend(y) if self.tie_output else self.output(y)

    def __call__(self, src, tgt, src_mask=None, tgt_mask=None, deterministic: bool = True):
        check_mask(tgt_mask, tgt, "tgt_mask")
        check_token_ids(tgt, self.tgt_vocab_size, "target")
        memory = self.encode(src, src_mask, deterministic)
        return self.decode(tgt, memory, src_mask, tgt_mask, deterministic)


def init_cache(model: Transformer, params, memory: jax.Array, max_len: int):
    """Zero decoding cache for `max_len` target tokens (positions and keys/values)."""
    check_length(max_len, model.max_len)
    tgt = jnp.zeros((memory.shape[0], max_len), jnp.int32)
    shapes = jax.eval_shape(
        lambda p, m: model.apply(
            {"params": p}, tgt, m, decode=True, method=Transformer.decode, mutable=["cache"]
        )[1]["cache"],
        params,
        memory,
    )
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def greedy_decode(
    model: Transformer,
    params,
    src: jax.Array,
    src_mask: jax.Array | None,
    bos_id: int,
    max_len: int,
    eos_id: int | None = None,
) -> jax.Array:
    """Greedy (argmax) decoding with the key/value cache: -> (B, max_len) ids after `bos_id`.

    After `eos_id` a sequence keeps emitting `eos_id`. Jit-compatible (one `lax.scan`).
    """
    memory = model.apply({"params": params}, src, src_mask, method=Transformer.encode)
    cache = init_cache(model, params, memory, max_len)

    def step(carry, _):
        cache, token, done = carry
        logits, vs = model.apply(
            {"params": params, "cache": cache},
            token[:, None],
            memory,
            src_mask,
            decode=True,
            method=Transformer.decode,
            mutable=["cache"],
        )
        nxt = jnp.argmax(logits[:, -1], axis=-1).astype(jnp.int32)
        if eos_id is not None:
            nxt = jnp.where(done, eos_id, nxt)
            done = done | (nxt == eos_id)
        return (vs["cache"], nxt, done), nxt

    b = src.shape[0]
    start = (cache, jnp.full((b,), bos_id, jnp.int32), jnp.zeros((b,), bool))
    _, tokens = jax.lax.scan(step, start, None, length=max_len)
    return tokens.T
