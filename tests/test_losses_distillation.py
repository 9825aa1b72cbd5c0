"""Distillation losses (SPEC SEQ-10 Hinton KD, SEQ-4 TinyBERT) vs torch re-expressions."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jaxdl.losses.distillation import (
    attention_score_loss,
    hinton_kd_loss,
    layer_map,
    prediction_loss,
    projected_mse,
    soft_target_kl,
    tinybert_layer_loss,
)

TOL = 1e-5


def rand(shape, seed, scale=1.0) -> np.ndarray:
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(np.float32)


def t(x) -> torch.Tensor:
    return torch.from_numpy(np.asarray(x)).requires_grad_(x.dtype == np.float32)


@pytest.mark.parametrize("temperature,alpha", [(1.0, 0.5), (4.0, 0.9), (2.5, 0.0)])
def test_hinton_kd_matches_torch_batchmean_value_and_gradient(temperature, alpha):
    s, te = rand((6, 5), 0, 3.0), rand((6, 5), 1, 3.0)
    y = np.random.default_rng(2).integers(0, 5, size=6)
    s_t = t(s)
    ref = alpha * temperature**2 * F.kl_div(
        F.log_softmax(s_t / temperature, 1),
        F.softmax(t(te) / temperature, 1),
        reduction="batchmean",
    ) + (1 - alpha) * F.cross_entropy(s_t, torch.from_numpy(y))
    ref.backward()
    fn = jax.jit(lambda a, b: hinton_kd_loss(a, b, jnp.asarray(y), temperature, alpha))
    value, (g_s, g_t) = jax.value_and_grad(fn, argnums=(0, 1))(s, te)
    np.testing.assert_allclose(value, ref.item(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(g_s, s_t.grad.numpy(), atol=TOL)
    chex.assert_trees_all_equal(g_t, jnp.zeros_like(g_t))  # the teacher is fixed
    # batch mean, not element mean: the KL is summed over the 5 classes
    elementwise = F.kl_div(F.log_softmax(t(s), 1), F.softmax(t(te), 1), reduction="mean")
    np.testing.assert_allclose(soft_target_kl(s, te), 5 * elementwise.item(), rtol=TOL)


def test_equal_logits_give_zero_kl_and_pure_ce_at_alpha_zero():
    s = rand((4, 3, 7), 3)
    assert float(soft_target_kl(s, s, 3.0)) == pytest.approx(0.0, abs=1e-6)
    y = jnp.zeros((4, 3), jnp.int32)
    ce = F.cross_entropy(t(s).reshape(12, 7), torch.zeros(12, dtype=torch.long)).item()
    np.testing.assert_allclose(hinton_kd_loss(s, s, y, 2.0, 0.3), 0.7 * ce, rtol=TOL)
    with pytest.raises(ValueError, match="0 <= alpha <= 1"):
        hinton_kd_loss(s, s, y, 2.0, 1.5)
    with pytest.raises(ValueError, match="one shape"):
        soft_target_kl(s, s[..., :6])


def tinybert_attention_reference(s, te, key_valid):
    """TinyBERT's code: scores + (1 - mask) * -10000, entries <= -100 set to 0, then MSE."""
    add = torch.from_numpy((1.0 - key_valid[:, None, None, :]) * -10000.0).float()
    s, te = t(s) + add, t(te) + add
    s = torch.where(s <= -1e2, torch.zeros_like(s), s)
    te = torch.where(te <= -1e2, torch.zeros_like(te), te)
    return F.mse_loss(s, te).item()


def test_tinybert_losses_match_torch():
    key_valid = (np.arange(6)[None, :] < np.array([[6], [4]])).astype(np.float32)
    s, te = rand((2, 3, 6, 6), 4, 2.0), rand((2, 3, 6, 6), 5, 2.0)
    got = attention_score_loss(s, te, jnp.asarray(key_valid > 0))
    np.testing.assert_allclose(got, tinybert_attention_reference(s, te, key_valid), rtol=TOL)
    np.testing.assert_allclose(
        attention_score_loss(s, te), F.mse_loss(t(s), t(te)).item(), rtol=TOL
    )
    hs, ht, w, b = rand((2, 6, 4), 6), rand((2, 6, 8), 7), rand((4, 8), 8), rand((8,), 9)
    ref = F.mse_loss(F.linear(t(hs), t(w).T, t(b)), t(ht)).item()
    np.testing.assert_allclose(projected_mse(hs, ht, w, b), ref, rtol=TOL)
    zs, zt = rand((5, 3), 10, 2.0), rand((5, 3), 11, 2.0)
    ref = (-F.softmax(t(zt) / 2.0, -1) * F.log_softmax(t(zs) / 2.0, -1)).sum(-1).mean().item()
    np.testing.assert_allclose(prediction_loss(zs, zt, 2.0), ref, rtol=TOL)
    with pytest.raises(ValueError, match=r"\(student dim, teacher dim\) = \(4, 8\)"):
        projected_mse(hs, ht, w.T)
    with pytest.raises(ValueError, match=r"key_mask must have shape \(B, Lk\) = \(2, 6\)"):
        attention_score_loss(s, te, jnp.ones((2, 5), bool))


def test_layer_map():
    assert layer_map(4, 12) == (0, 3, 6, 9, 12)  # TinyBERT: g(m) = 3m
    assert layer_map(6, 12) == (0, 2, 4, 6, 8, 10, 12)
    assert layer_map(3, 12, "last") == (0, 10, 11, 12)
    assert layer_map(2, 5, lambda m: [0, 2, 5][m]) == (0, 2, 5)
    with pytest.raises(ValueError, match="divisible"):
        layer_map(5, 12)
    with pytest.raises(ValueError, match="valid: 'last', 'uniform'"):
        layer_map(4, 12, "skip")
    with pytest.raises(ValueError, match=r"values in \[0, 12\]"):
        layer_map(4, 12, lambda m: 4 * m)


def test_tinybert_layer_loss_sums_mapped_layers():
    b, length, heads, d_s, d_t = 2, 5, 2, 4, 6
    hs = [rand((b, length, d_s), 20 + i) for i in range(5)]
    ht = [rand((b, length, d_t), 40 + i) for i in range(13)]
    ss = [rand((b, heads, length, length), 60 + i) for i in range(4)]
    st = [rand((b, heads, length, length), 80 + i) for i in range(12)]
    proj = {
        "embedding": {"kernel": rand((d_s, d_t), 1), "bias": rand((d_t,), 2)},
        "hidden": {"kernel": rand((d_s, d_t), 3), "bias": rand((d_t,), 4)},
    }
    valid = np.ones((b, length), np.float32)
    valid[1, 3:] = 0
    total, parts = jax.jit(tinybert_layer_loss)(hs, ht, ss, st, proj, jnp.asarray(valid > 0))

    def lin(x, p):
        return F.linear(t(x), t(p["kernel"]).T, t(p["bias"]))

    emb = F.mse_loss(lin(hs[0], proj["embedding"]), t(ht[0])).item()
    att = sum(tinybert_attention_reference(ss[m - 1], st[3 * m - 1], valid) for m in range(1, 5))
    hid = sum(F.mse_loss(lin(hs[m], proj["hidden"]), t(ht[3 * m])).item() for m in range(1, 5))
    np.testing.assert_allclose(parts["embedding"], emb, rtol=TOL)
    np.testing.assert_allclose(parts["attention"], att, rtol=TOL)
    np.testing.assert_allclose(parts["hidden"], hid, rtol=TOL)
    np.testing.assert_allclose(total, emb + att + hid, rtol=TOL)
    with pytest.raises(ValueError, match="13 teacher hidden states for 11 layers"):
        tinybert_layer_loss(hs, ht, ss, st[:11], proj)
