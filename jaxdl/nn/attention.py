"""Scaled dot-product and multi-head attention (Vaswani et al. 2017, arXiv:1706.03762).

SPEC: SEQ-3 (8 heads, d_k = 64, scores / sqrt(d_k) = / 8, padding and causal masks), SEQ-2.
Boolean masks follow torch `F.scaled_dot_product_attention`: True = may attend. (Note that
`torch.nn.MultiheadAttention`'s boolean `attn_mask` is the opposite: True = blocked.)
Masked logits are set to the dtype's minimum, so a fully masked row averages all values
uniformly instead of producing NaN.
`MultiHeadAttention` sows its pre-softmax, unmasked `scores` and its softmax `weights` into the
`intermediates` collection (read them with `mutable=["intermediates"]`; TinyBERT's attention
loss uses the scores), and with `decode=True` keeps keys and values in a `cache` collection for
incremental (one token at a time) decoding.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def causal_mask(q_len: int, k_len: int | None = None) -> jax.Array:
    """(Lq, Lk) bool, True where key j <= query i (torch `is_causal`, top-left aligned)."""
    k_len = q_len if k_len is None else k_len
    return jnp.tril(jnp.ones((q_len, k_len), dtype=bool))


def padding_mask(valid: jax.Array) -> jax.Array:
    """Key validity (B, Lk) bool (True = real token) -> (B, 1, 1, Lk) mask for (B, H, Lq, Lk)."""
    if valid.ndim != 2:
        raise ValueError(f"padding_mask expects (B, Lk) booleans, got shape {valid.shape}")
    return valid[:, None, None, :].astype(bool)


def attention_scores(
    q: jax.Array, k: jax.Array, bias: jax.Array | None = None, scale: float | None = None
) -> jax.Array:
    """Pre-softmax, unmasked scores q k^T * scale + bias.

    q (..., Lq, D), k (..., Lk, D) -> (..., Lq, Lk); `scale` defaults to 1/sqrt(D).
    """
    if q.ndim < 2 or k.ndim < 2 or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"expected q (..., Lq, D) and k (..., Lk, D), got {q.shape}, {k.shape}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = jnp.einsum("...qd,...kd->...qk", q, k) * scale
    return logits if bias is None else logits + bias


def attention_weights(
    q: jax.Array,
    k: jax.Array,
    mask: jax.Array | None = None,
    bias: jax.Array | None = None,
    scale: float | None = None,
) -> jax.Array:
    """softmax(q k^T * scale + bias), masked. q (..., Lq, D), k (..., Lk, D) -> (..., Lq, Lk).

    `scale` defaults to 1/sqrt(D); `mask` (bool) and `bias` broadcast to (..., Lq, Lk).
    """
    return masked_softmax(attention_scores(q, k, bias=bias, scale=scale), mask)


def masked_softmax(scores: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Softmax over the last axis (in float32) with masked entries (mask False) set to zero."""
    if mask is not None:
        scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
    return jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(scores.dtype)


def scaled_dot_product_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    mask: jax.Array | None = None,
    bias: jax.Array | None = None,
    scale: float | None = None,
) -> jax.Array:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, torch layout. SPEC: SEQ-3.

    q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv) -> (..., Lq, Dv); heads are a batch axis,
    e.g. (B, H, L, D). Equals `torch.nn.functional.scaled_dot_product_attention`.
    """
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"expected k (..., Lk, D) and v (..., Lk, Dv), got {k.shape}, {v.shape}")
    w = attention_weights(q, k, mask=mask, bias=bias, scale=scale)
    return jnp.einsum("...qk,...kd->...qd", w, v)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: project, split heads, attend, concat, W_O. SPEC: SEQ-3.

    Dense layers `query`, `key`, `value`, `out` with kernels (E_in, E) = torch
    `in_proj_weight` chunks transposed. `qk_scale` overrides 1/sqrt(head_dim).
    Shapes: inputs_q (B, Lq, Eq), inputs_kv (B, Lk, Ekv) (default: inputs_q);
    mask bool broadcastable to (B, H, Lq, Lk), True = attend -> (B, Lq, out_features or Eq).

    `decode=True` (self-attention only): the first call, with `cache` mutable, creates zero
    `cached_key`, `cached_value` of the call's length (the maximum length) and `cache_index`;
    each later call writes its Lq new keys/values at the index, attends causally over the cache
    and advances the index by Lq.
    """

    num_heads: int
    qkv_features: int | None = None
    out_features: int | None = None
    use_bias: bool = True
    qk_scale: float | None = None
    dropout_rate: float = 0.0
    decode: bool = False
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(
        self,
        inputs_q: jax.Array,
        inputs_kv: jax.Array | None = None,
        mask: jax.Array | None = None,
        deterministic: bool = True,
    ) -> jax.Array:
        inputs_kv = inputs_q if inputs_kv is None else inputs_kv
        if inputs_q.ndim != 3 or inputs_kv.ndim != 3 or inputs_q.shape[0] != inputs_kv.shape[0]:
            raise ValueError(
                "MultiHeadAttention expects (B, Lq, E) and (B, Lk, E) inputs, got "
                f"{inputs_q.shape} and {inputs_kv.shape}"
            )
        feats = self.qkv_features or inputs_q.shape[-1]
        if feats % self.num_heads:
            raise ValueError(f"qkv_features={feats} not divisible by num_heads={self.num_heads}")
        head_dim = feats // self.num_heads

        def heads(x: jax.Array, name: str) -> jax.Array:  # (B, L, E) -> (B, H, L, Dh)
            y = nn.Dense(feats, self.use_bias, kernel_init=self.kernel_init, name=name)(x)
            return y.reshape(*y.shape[:2], self.num_heads, head_dim).transpose(0, 2, 1, 3)

        q, k, v = heads(inputs_q, "query"), heads(inputs_kv, "key"), heads(inputs_kv, "value")
        if self.decode:
            k, v, mask = self._cached(k, v, mask)
        scores = attention_scores(q, k, scale=self.qk_scale)
        w = masked_softmax(scores, mask)
        self.sow("intermediates", "scores", scores)
        self.sow("intermediates", "weights", w)
        w = nn.Dropout(self.dropout_rate)(w, deterministic=deterministic)
        y = jnp.einsum("bhqk,bhkd->bqhd", w, v).reshape(*inputs_q.shape[:2], feats)
        out = self.out_features or inputs_q.shape[-1]
        return nn.Dense(out, self.use_bias, kernel_init=self.kernel_init, name="out")(y)

    def _cached(self, k: jax.Array, v: jax.Array, mask: jax.Array | None):
        """Write k, v (B, H, n, Dh) at the cache index; return the cache and a causal mask."""
        initialized = self.has_variable("cache", "cached_key")
        ck = self.variable("cache", "cached_key", jnp.zeros, k.shape, k.dtype)
        cv = self.variable("cache", "cached_value", jnp.zeros, v.shape, v.dtype)
        index = self.variable("cache", "cache_index", lambda: jnp.zeros((), jnp.int32))
        if not initialized:
            return k, v, mask
        n, size = k.shape[2], ck.value.shape[2]
        if k.shape[:2] != ck.value.shape[:2] or n > size:
            raise ValueError(
                f"decode step of shape {k.shape} does not fit the cache {ck.value.shape}"
            )
        i = index.value
        ck.value = jax.lax.dynamic_update_slice(ck.value, k, (0, 0, i, 0))
        cv.value = jax.lax.dynamic_update_slice(cv.value, v, (0, 0, i, 0))
        index.value = i + n
        causal = jnp.arange(size)[None, :] <= i + jnp.arange(n)[:, None]
        return ck.value, cv.value, causal if mask is None else jnp.logical_and(mask, causal)
