"""jaxdl.text.adversarial (SPEC SEQ-6): FGM ‖r‖ = ε, PGD ‖δ‖ ≤ ε, ε = 0 gives twice the clean
gradient, the embedding is restored bit for bit, and both methods against a float64 NumPy
re-expression of the PyTorch recipe (attack, backward, restore) on a tiny embedding model."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl.models.text_classifier import EmbeddingBagClassifier
from jaxdl.text import adversarial

V, E, C = 11, 4, 2
W = np.random.default_rng(0).normal(size=(E, C))


def params0():
    return {
        "word_embedding": {"embedding": jnp.asarray(np.random.default_rng(1).normal(size=(V, E)))},
        "head": {"kernel": jnp.asarray(W)},
    }


BATCH = {"tokens": jnp.array([[1, 2, 3, 0], [4, 4, 5, 6]]), "label": jnp.array([0, 1])}


def loss_fn(params, batch, rng, delta=None):
    x = params["word_embedding"]["embedding"][batch["tokens"]]
    if delta is not None:
        x = x + delta
    logits = jnp.tanh(x).mean(1) @ params["head"]["kernel"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean(), {}


def np_grads(emb, head, tokens, labels):
    """float64 NumPy loss and gradients of `loss_fn` (hand-derived)."""
    x = emb[tokens]
    t = np.tanh(x)
    m = t.mean(1)
    z = m @ head
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n = len(tokens)
    loss = -np.log(p[np.arange(n), labels]).mean()
    dz = p.copy()
    dz[np.arange(n), labels] -= 1
    dz /= n
    dhead = m.T @ dz
    dx = (dz @ head.T)[:, None, :] / tokens.shape[1] * (1 - t**2)
    demb = np.zeros_like(emb)
    np.add.at(demb, tokens, dx)
    return loss, demb, dhead, dx


def recipe(method, eps=1.0, alpha=0.3, k=3):
    """The PyTorch recipe's arithmetic in float64: clean grads, attack(s), summed grads."""
    emb = np.asarray(params0()["word_embedding"]["embedding"], np.float64)
    head = np.asarray(W, np.float64)
    tok, lab = np.asarray(BATCH["tokens"]), np.asarray(BATCH["label"])
    _, g_emb, g_head, _ = np_grads(emb, head, tok, lab)
    if method == "fgm":
        r = eps * g_emb / np.linalg.norm(g_emb)
    else:
        r, g = np.zeros_like(emb), g_emb
        for t in range(k):
            r = r + alpha * g / np.linalg.norm(g)
            if np.linalg.norm(r) > eps:
                r = eps * r / np.linalg.norm(r)
            if t < k - 1:
                g = np_grads(emb + r, head, tok, lab)[1]
    _, a_emb, a_head, _ = np_grads(emb + r, head, tok, lab)
    return g_emb + a_emb, g_head + a_head, r


def grads(method, **kw):
    return jax.jit(
        lambda p: adversarial.adversarial_grads(
            loss_fn, p, BATCH, jax.random.PRNGKey(0), method=method, **kw
        )
    )(params0())


@pytest.mark.parametrize("method", ["fgm", "pgd"])
def test_against_the_float64_recipe(method):
    jax.config.update("jax_enable_x64", True)
    try:
        _, _, g, info = grads(method, selector="word_embedding/embedding")
        ref_emb, ref_head, r = recipe(method)
    finally:
        jax.config.update("jax_enable_x64", False)
    np.testing.assert_allclose(g["word_embedding"]["embedding"], ref_emb, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["head"]["kernel"], ref_head, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(info["perturbation_norm"], np.linalg.norm(r), rtol=1e-10)


def test_norms_and_epsilon_zero():
    _, _, _, info = grads("fgm", epsilon=0.7)
    np.testing.assert_allclose(info["perturbation_norm"], 0.7, rtol=1e-5)  # ‖r‖ = ε
    for k, a in ((1, 0.3), (5, 0.9)):
        _, _, _, info = grads("pgd", epsilon=0.5, alpha=a, steps=k)
        assert float(info["perturbation_norm"]) <= 0.5 * (1 + 1e-6)  # ‖δ‖ ≤ ε
    _, _, clean, _ = grads("none")
    for method in ("fgm", "pgd"):
        _, _, g, _ = grads(method, epsilon=0.0)
        chex.assert_trees_all_equal(g, jax.tree.map(lambda x: 2 * x, clean))  # exactly twice


def test_per_example_norm():
    shape = lambda b: (*b["tokens"].shape, E)  # noqa: E731
    _, _, g, info = grads("fgm", epsilon=0.4, norm="per_example", delta_shape=shape)
    np.testing.assert_allclose(info["perturbation_norm"], 0.4, rtol=1e-5)
    p = params0()
    emb, head = np.asarray(p["word_embedding"]["embedding"], np.float64), W
    tok, lab = np.asarray(BATCH["tokens"]), np.asarray(BATCH["label"])
    _, g_emb, g_head, dx = np_grads(emb, head, tok, lab)
    r = 0.4 * dx / np.linalg.norm(dx.reshape(2, -1), axis=1)[:, None, None]
    x = emb[tok] + r  # the perturbed embedded sequence, per example norm ε
    t = np.tanh(x)
    z = t.mean(1) @ head
    q = np.exp(z - z.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    dz = q.copy()
    dz[np.arange(2), lab] -= 1
    dz /= 2
    np.testing.assert_allclose(g["head"]["kernel"], g_head + t.mean(1).T @ dz, rtol=2e-5)


def test_step_restores_the_embedding_bitwise_and_updates_once():
    model = EmbeddingBagClassifier(V, C, embed=E, hidden=3)

    def model_loss(params, batch, rng):
        logits = model.apply({"params": params}, batch["tokens"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean(), {}

    init = lambda rng: model.init(rng, BATCH["tokens"])["params"]  # noqa: E731
    # a zero learning rate: the new params are exactly the old ones iff nothing leaked
    init_state, step = adversarial.embedding_adversarial(
        model_loss, optax.sgd(0.0), init_fn=init, method="pgd"
    )
    state = init_state(jax.random.PRNGKey(0))
    before = jax.tree.map(np.array, state.params)
    new, metrics = jax.jit(step)(state, BATCH)
    chex.assert_trees_all_equal(jax.tree.map(np.asarray, new.params), before)
    assert int(new.step) == 1 and float(metrics["adv_loss"]) >= float(metrics["loss"]) - 1e-6
    # with SGD(1) the update is exactly minus the summed gradient
    init_state, step = adversarial.embedding_adversarial(
        model_loss, optax.sgd(1.0), init_fn=init, method="fgm"
    )
    state = init_state(jax.random.PRNGKey(0))
    new, _ = jax.jit(step)(state, BATCH)
    _, _, g, _ = jax.jit(
        lambda p: adversarial.adversarial_grads(model_loss, p, BATCH, None, method="fgm")
    )(state.params)
    chex.assert_trees_all_close(new.params, jax.tree.map(jnp.subtract, state.params, g), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="matches no parameter; paths: .*head/kernel"):
        grads("fgm", selector="token_type")
    with pytest.raises(ValueError, match="unknown adversarial method 'vat'"):
        grads("vat")
    with pytest.raises(ValueError, match="needs delta_shape"):
        grads("fgm", norm="per_example")
    with pytest.raises(ValueError, match="unknown perturbation norm"):
        grads("fgm", norm="row")
