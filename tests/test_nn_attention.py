"""Scaled dot-product and multi-head attention vs torch (SPEC SEQ-3)."""

import math

import chex
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from jaxdl.nn.attention import (
    MultiHeadAttention,
    attention_weights,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

TOL = 2e-5


def rand(shape, seed) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def t(x) -> torch.Tensor:
    return torch.from_numpy(np.array(x))


def test_sdpa_matches_torch_with_bool_causal_and_float_masks():
    q, k, v = rand((2, 3, 5, 8), 0), rand((2, 3, 7, 8), 1), rand((2, 3, 7, 4), 2)
    mask = np.random.default_rng(3).random((2, 1, 5, 7)) > 0.4
    mask[..., 0] = True  # every query sees at least one key
    y = scaled_dot_product_attention(q, k, v, mask=mask)
    y_t = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(mask))
    np.testing.assert_allclose(y, y_t.numpy(), atol=TOL)
    y_c = scaled_dot_product_attention(q, k[:, :, :5], v[:, :, :5], mask=causal_mask(5))
    y_ct = F.scaled_dot_product_attention(t(q), t(k[:, :, :5]), t(v[:, :, :5]), is_causal=True)
    np.testing.assert_allclose(y_c, y_ct.numpy(), atol=TOL)
    bias = rand((5, 7), 4)
    y_b = scaled_dot_product_attention(q, k, v, bias=bias, scale=0.3)
    y_bt = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(bias), scale=0.3)
    np.testing.assert_allclose(y_b, y_bt.numpy(), atol=TOL)


def test_attention_weights_are_masked_distributions():
    q, k = rand((4, 6, 8), 0), rand((4, 6, 8), 1)
    w = attention_weights(q, k, mask=causal_mask(6))
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    assert float(jnp.abs(jnp.triu(w, 1)).max()) == 0.0
    logits = np.einsum("bqd,bkd->bqk", q, k) / math.sqrt(8)  # SEQ-3: d_k 64 -> divide by 8
    np.testing.assert_allclose(attention_weights(q, k), jax.nn.softmax(logits), atol=1e-6)
    np.testing.assert_array_equal(causal_mask(2, 3), [[1, 0, 0], [1, 1, 0]])
    chex.assert_shape(padding_mask(jnp.ones((3, 5), bool)), (3, 1, 1, 5))


def port_mha(m_t: torch.nn.MultiheadAttention, e: int) -> dict:
    w, b = m_t.in_proj_weight.detach().numpy(), m_t.in_proj_bias.detach().numpy()
    p = {
        name: {"kernel": w[i * e : (i + 1) * e].T, "bias": b[i * e : (i + 1) * e]}
        for i, name in enumerate(["query", "key", "value"])
    }
    p["out"] = {
        "kernel": m_t.out_proj.weight.detach().numpy().T,
        "bias": m_t.out_proj.bias.detach().numpy(),
    }
    return {"params": p}


def test_multihead_matches_torch_self_and_cross_attention_with_masks():
    torch.manual_seed(0)
    e, h = 16, 4
    m_t = torch.nn.MultiheadAttention(e, h, batch_first=True).eval()
    with torch.no_grad():
        m_t.in_proj_bias.normal_()
        m_t.out_proj.bias.normal_()
    params = port_mha(m_t, e)
    mha = MultiHeadAttention(num_heads=h)
    x = rand((2, 6, e), 0)
    # self-attention, causal (torch bool attn_mask: True = blocked)
    y = mha.apply(params, x, mask=causal_mask(6))
    y_t, _ = m_t(t(x), t(x), t(x), attn_mask=~t(np.asarray(causal_mask(6))))
    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=TOL)
    # cross-attention with key padding
    kv = rand((2, 9, e), 1)
    valid = np.arange(9)[None, :] < np.array([[9], [5]])
    y = mha.apply(params, x, kv, mask=padding_mask(jnp.asarray(valid)))
    y_t, _ = m_t(t(x), t(kv), t(kv), key_padding_mask=t(~valid))
    np.testing.assert_allclose(y, y_t.detach().numpy(), atol=TOL)
    # padded keys do not influence the output
    kv2 = kv.copy()
    kv2[1, 5:] = 100.0
    y2 = mha.apply(params, x, kv2, mask=padding_mask(jnp.asarray(valid)))
    np.testing.assert_allclose(y2, y, atol=1e-5)


def test_multihead_qk_scale_and_errors():
    mha = MultiHeadAttention(num_heads=2, qk_scale=0.125)
    x = rand((1, 3, 8), 0)
    rng = np.random.default_rng(1)
    v = jax.tree.map(
        lambda a: rng.normal(size=a.shape).astype(np.float32),
        jax.eval_shape(mha.init, jax.random.key(0), x),
    )
    y = mha.apply(v, x)
    p = v["params"]

    def proj(name):
        return (x @ p[name]["kernel"] + p[name]["bias"]).reshape(1, 3, 2, 4).transpose(0, 2, 1, 3)

    o = scaled_dot_product_attention(proj("query"), proj("key"), proj("value"), scale=0.125)
    ref = o.transpose(0, 2, 1, 3).reshape(1, 3, 8) @ p["out"]["kernel"] + p["out"]["bias"]
    np.testing.assert_allclose(y, ref, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(B, Lq, E\)"):
        mha.apply(v, x[0])
    with pytest.raises(ValueError, match="divisible"):
        jax.eval_shape(MultiHeadAttention(num_heads=3).init, jax.random.key(0), x)
    with pytest.raises(ValueError, match=r"\(\.\.\., Lq, D\)"):
        attention_weights(x, x[..., :4])


@settings(max_examples=5, deadline=None)
@given(
    b=st.integers(1, 2),
    lq=st.integers(1, 5),
    lk=st.integers(1, 5),
    heads=st.sampled_from([1, 2]),
    out=st.sampled_from([None, 3]),
)
def test_multihead_shapes(b, lq, lk, heads, out):
    mha = MultiHeadAttention(num_heads=heads, qkv_features=4, out_features=out)
    xq, xkv = jnp.ones((b, lq, 6)), jnp.ones((b, lk, 5))
    y, _ = jax.eval_shape(lambda a, c: mha.init_with_output(jax.random.key(0), a, c), xq, xkv)
    chex.assert_shape(y, (b, lq, out or 6))


def test_multihead_cache_steps_equal_causal_attention_and_sown_scores():
    x = rand((2, 5, 8), 0)
    mha = MultiHeadAttention(num_heads=2)
    v = mha.init(jax.random.key(1), x)
    full, inter = mha.apply(v, x, mask=causal_mask(5), mutable=["intermediates"])
    p = v["params"]
    q = (x @ p["query"]["kernel"] + p["query"]["bias"]).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
    k = (x @ p["key"]["kernel"] + p["key"]["bias"]).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3)
    (scores,) = inter["intermediates"]["scores"]  # pre-softmax, unmasked
    np.testing.assert_allclose(scores, q @ k.transpose(0, 1, 3, 2) / 2.0, atol=1e-5)
    cached = MultiHeadAttention(num_heads=2, decode=True)
    _, cache = cached.apply(v, jnp.zeros_like(x), mutable=["cache"])  # zero cache of length 5
    steps = []
    for i in [(0, 2), (2, 3), (3, 5)]:  # a 2-token prefill, then 1 and 2 tokens
        y, cache = cached.apply({**v, **cache}, x[:, i[0] : i[1]], mutable=["cache"])
        steps.append(y)
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)
    with pytest.raises(ValueError, match="does not fit the cache"):
        cached.apply({**v, **cache}, x[:1, :1], mutable=["cache"])
