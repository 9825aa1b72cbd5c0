"""Regex path rules, per-layer learning rates/freezing, weight decay vs L2, clipping, bad input.

SPEC: OPT-7, OPT-8.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from absl.testing import parameterized

import jaxdl.optim as jo


def tree():
    return {
        "Dense_0": {"kernel": jnp.ones((3, 4)), "bias": jnp.ones((4,))},
        "Conv_1": {"kernel": jnp.ones((2, 2, 4, 2)), "bias": jnp.ones((2,))},
        "norm": {"scale": jnp.ones((2,))},
        "blocks": [jnp.ones((2,)), jnp.ones((3,))],
    }


def test_path_str_and_match_rules():
    paths = jo.tree_paths(tree())
    assert paths["Dense_0"]["kernel"] == "Dense_0/kernel"
    assert paths["blocks"][1] == "blocks/1"
    values = jo.match_rules(tree(), [("kernel", "k"), ("^Dense", "d"), ("bias", "b")], default="x")
    assert values["Dense_0"] == {"kernel": "k", "bias": "d"}  # first matching rule wins
    assert values["Conv_1"] == {"kernel": "k", "bias": "b"}
    assert values["norm"]["scale"] == "x" and values["blocks"] == ["x", "x"]


def test_match_rules_errors():
    with pytest.raises(ValueError, match=r"'Dense_9' matches no parameter.*Dense_0/kernel"):
        jo.match_rules(tree(), [("Dense_9", 1.0)], default=0.0)
    with pytest.raises(ValueError, match="norm/scale.* matches no rule"):
        jo.match_rules(tree(), [("kernel|bias|blocks", 1.0)])
    with pytest.raises(ValueError, match="invalid regex"):
        jo.match_rules(tree(), [("(", 1.0)])
    # strict=False tolerates an unused rule.
    jo.match_rules(tree(), [("Dense_9", 1.0)], default=0.0, strict=False)


def _sgd_run(tx, params, grad_fn, steps=3):
    """`steps` jitted updates of `params` with gradients `grad_fn(params)`."""

    @jax.jit
    def step(params, state):
        updates, state = tx.update(grad_fn(params), state, params)
        return optax.apply_updates(params, updates), state

    state = tx.init(params)
    for _ in range(steps):
        params, state = step(params, state)
    return params, state


def test_lr_multipliers_scale_and_freeze_without_state():
    params = tree()
    grad_fn = lambda p: jax.tree.map(jnp.ones_like, p)  # noqa: E731
    rules = [("^Dense_0/", 0.5), ("^Conv_1/", 0.0)]
    tx = jo.lr_multipliers(jo.momentum(0.1, 0.9), rules)
    new, state = _sgd_run(tx, params, grad_fn)
    base, _ = _sgd_run(jo.momentum(0.1, 0.9), params, grad_fn)
    delta = lambda a: jax.tree.map(lambda x, y: x - y, a, params)  # noqa: E731
    chex.assert_trees_all_close(
        delta(new)["Dense_0"], jax.tree.map(lambda d: 0.5 * d, delta(base)["Dense_0"])
    )
    chex.assert_trees_all_equal(new["Conv_1"], params["Conv_1"])  # frozen: exactly unchanged
    chex.assert_trees_all_close(new["norm"], base["norm"])  # default multiplier 1
    # Frozen parameters get no optimizer state: only the 5 trainable leaves have a momentum buffer.
    state_arrays = [x for x in jax.tree.leaves(state) if x.ndim > 0]
    assert len(state_arrays) == 5
    frozen_state = jo.freeze(jo.adam(0.1), ["^Conv_1/"]).init(params)
    assert len([x for x in jax.tree.leaves(frozen_state) if x.ndim > 0]) == 2 * 5


def test_lr_multiplier_rule_matching_nothing_raises():
    tx = jo.lr_multipliers(jo.sgd(0.1), [("backbone", 0.1)])
    with pytest.raises(ValueError, match="'backbone' matches no parameter"):
        tx.init(tree())
    with pytest.raises(ValueError, match="multiplier"):
        jo.lr_multipliers(jo.sgd(0.1), [("Dense", -1.0)])


class ReparameterizationTest(parameterized.TestCase):
    """θ = λφ trained with rate α equals θ trained with rate λ²α (SGD) or λα (Adam). SPEC: OPT-8."""

    @parameterized.named_parameters(("sgd", jo.sgd, 2), ("adam", jo.adam, 1))
    def test_theta_equals_lambda_phi(self, make_opt, power):
        lam, alpha = 3.0, 1e-2
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=(16, 3)), jnp.float32)
        y = jnp.asarray(rng.normal(size=(16, 2)), jnp.float32)
        w0 = jnp.asarray(rng.normal(size=(3, 2)), jnp.float32)
        b0 = jnp.zeros((2,), jnp.float32)

        def loss(theta):
            return jnp.mean((x @ theta["w"] + theta["b"] - y) ** 2)

        # Route 1: train φ with θ_w = λφ, multiplier 1.
        eps_free = dict(eps=0.0) if make_opt is jo.adam else {}
        params_phi = {"w": w0 / lam, "b": b0}
        tx = make_opt(alpha, **eps_free)
        phi_loss = lambda p: loss({"w": lam * p["w"], "b": p["b"]})  # noqa: E731
        params_phi, _ = _sgd_run(tx, params_phi, jax.grad(phi_loss), steps=5)
        # Route 2: train θ directly with learning-rate multiplier λ^power on w.
        tx2 = jo.lr_multipliers(make_opt(alpha, **eps_free), [("^w$", lam**power)])
        params_theta, _ = _sgd_run(tx2, {"w": w0, "b": b0}, jax.grad(loss), steps=5)
        chex.assert_trees_all_close(lam * params_phi["w"], params_theta["w"], rtol=1e-5, atol=1e-6)
        chex.assert_trees_all_close(params_phi["b"], params_theta["b"], rtol=1e-5, atol=1e-6)
        # The plain rate (no multiplier) gives a different θ, so the test can fail.
        params_plain, _ = _sgd_run(
            make_opt(alpha, **eps_free), {"w": w0, "b": b0}, jax.grad(loss), 5
        )
        assert not np.allclose(params_plain["w"], params_theta["w"], rtol=1e-3)


def test_per_param_routes_by_rule():
    tx = jo.per_param([("^Dense_0/", jo.sgd(1.0))], default=jo.sgd(0.0))
    params = tree()
    new, _ = _sgd_run(tx, params, lambda p: jax.tree.map(jnp.ones_like, p), steps=1)
    chex.assert_trees_all_close(new["Dense_0"], jax.tree.map(jnp.zeros_like, params["Dense_0"]))
    chex.assert_trees_all_equal(new["Conv_1"], params["Conv_1"])
    with pytest.raises(ValueError, match="matches no rule"):
        jo.per_param([("^Dense_0/", jo.sgd(1.0))]).init(params)


def test_l2_with_sgd_reproduces_d2l_weight_decay():
    """Linear regression, L + (λ/2)‖w‖²: w ← (1 − ηλ)w − (η/|B|)Σ x(x·w + b − y) (OPT-7)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2))
    y = x @ np.array([2.0, -3.4]) + 4.2 + 0.01 * rng.normal(size=32)
    eta, lam = 0.03, 3.0
    params = {"kernel": jnp.asarray([0.5, -0.2], jnp.float32), "bias": jnp.zeros([], jnp.float32)}

    def loss(p):
        return 0.5 * jnp.mean((jnp.asarray(x, jnp.float32) @ p["kernel"] + p["bias"] - y) ** 2)

    coupled, _ = _sgd_run(optax.chain(jo.add_l2(lam), jo.sgd(eta)), params, jax.grad(loss), 10)
    decoupled, _ = _sgd_run(
        optax.chain(jo.sgd(eta), jo.decoupled_weight_decay(lam, eta)), params, jax.grad(loss), 10
    )
    w, b = np.array([0.5, -0.2]), 0.0
    for _ in range(10):
        r = x @ w + b - y
        w, b = (1 - eta * lam) * w - eta * (x * r[:, None]).mean(0), b - eta * r.mean()
    ref = {"kernel": w, "bias": b}  # default mask: the bias is not decayed
    chex.assert_trees_all_close(coupled, ref, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(decoupled, ref, rtol=1e-5, atol=1e-6)
    # Under Adam, coupled L2 and decoupled decay differ (the λw term is rescaled by √v̂ + ε).
    adam_l2, _ = _sgd_run(optax.chain(jo.add_l2(lam), jo.adam(eta)), params, jax.grad(loss), 10)
    adamw, _ = _sgd_run(
        jo.adamw(eta, weight_decay=lam, mask=jo.DEFAULT_DECAY_MASK), params, jax.grad(loss), 10
    )
    assert not np.allclose(adam_l2["kernel"], adamw["kernel"], rtol=1e-3)


def test_weight_decay_masks():
    params = tree()
    zeros = jax.tree.map(jnp.zeros_like, params)
    u, _ = jo.add_l2(0.5).update(zeros, optax.EmptyState(), params)  # default: skip bias/scale
    assert float(u["Dense_0"]["kernel"][0, 0]) == 0.5 and float(u["Dense_0"]["bias"][0]) == 0.0
    assert float(u["norm"]["scale"][0]) == 0.0 and float(u["blocks"][0][0]) == 0.5
    u, _ = jo.add_l2(0.5, mask=[("^Conv_1/kernel$", True)]).update(
        zeros, optax.EmptyState(), params
    )
    assert float(u["Conv_1"]["kernel"].min()) == 0.5 and float(u["Dense_0"]["kernel"].max()) == 0.0
    with pytest.raises(ValueError, match="matches no parameter"):
        jo.add_l2(0.5, mask=[("Conv_9", True)]).update(zeros, optax.EmptyState(), params)


def test_clip_by_global_norm_matches_optax_and_torch():
    rng = np.random.default_rng(1)
    g = {
        "a": jnp.asarray(rng.normal(size=(5, 3)), jnp.float32),
        "b": jnp.asarray(rng.normal(size=4), jnp.float32),
    }
    ours, _ = jax.jit(jo.clip_by_global_norm(1.0).update)(g, optax.EmptyState())
    ref, _ = optax.clip_by_global_norm(1.0).update(g, optax.EmptyState())
    chex.assert_trees_all_close(ours, ref, rtol=1e-6)
    np.testing.assert_allclose(float(jo.global_norm(ours)), 1.0, rtol=1e-6)
    tg = [torch.zeros(g[k].shape, requires_grad=True) for k in "ab"]
    for t, k in zip(tg, "ab", strict=True):
        t.grad = torch.tensor(np.asarray(g[k]))
    torch.nn.utils.clip_grad_norm_(tg, 1.0)
    chex.assert_trees_all_close(ours, {"a": tg[0].grad.numpy(), "b": tg[1].grad.numpy()}, rtol=1e-5)
    small, _ = jo.clip_by_global_norm(100.0).update(g, optax.EmptyState())
    chex.assert_trees_all_equal(small, g)


def test_clip_by_rules_per_parameter():
    g = {"rnn": {"kernel": 3.0 * jnp.ones((2, 2))}, "head": {"kernel": jnp.full((2,), -5.0)}}
    norm_tx = jo.clip_by_rules([("^rnn/", 1.0)])
    out, _ = norm_tx.update(g, optax.EmptyState())
    np.testing.assert_allclose(float(jnp.linalg.norm(out["rnn"]["kernel"])), 1.0, rtol=1e-6)
    chex.assert_trees_all_equal(out["head"], g["head"])  # unmatched: no clipping
    value_tx = jo.clip_by_rules({"head": 0.5, "rnn": None}, kind="value")
    out, _ = value_tx.update(g, optax.EmptyState())
    chex.assert_trees_all_equal(out["head"]["kernel"], jnp.full((2,), -0.5))
    chex.assert_trees_all_equal(out["rnn"], g["rnn"])
    with pytest.raises(ValueError, match="matches no parameter"):
        jo.clip_by_rules([("lstm", 1.0)]).update(g, optax.EmptyState())


def test_wgan_weight_clipping_projection():
    params = {"w": jnp.asarray([0.005, -0.008, 0.0])}
    grads = {"w": jnp.asarray([-1.0, 1.0, 0.0])}
    tx = optax.chain(jo.sgd(0.01), jo.weight_clipping(0.01))
    updates, _ = tx.update(grads, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    chex.assert_trees_all_close(new, {"w": jnp.asarray([0.01, -0.01, 0.0])}, atol=1e-9)
    chex.assert_trees_all_equal(
        jo.clip_weights({"w": jnp.asarray([0.3, -2.0])}, 0.01), {"w": jnp.asarray([0.01, -0.01])}
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: jo.sgd(-0.1),
        lambda: jo.sgd(float("nan")),
        lambda: jo.momentum(0.1, beta=1.0),
        lambda: jo.momentum(0.1, beta=-0.1),
        lambda: jo.momentum(0.1, form="heavy"),
        lambda: jo.momentum(0.1, nesterov=True, form="ema"),
        lambda: jo.adam(0.1, b1=1.0),
        lambda: jo.adam(0.1, b2=1.5),
        lambda: jo.adam(0.1, eps=-1e-8),
        lambda: jo.adamw(0.1, weight_decay=-0.01),
        lambda: jo.rmsprop(0.1, decay=1.2),
        lambda: jo.adagrad(0.1, initial_accumulator_value=-1.0),
        lambda: jo.clip_by_global_norm(0.0),
        lambda: jo.interpolate({"a": 1.0}, {"a": 2.0}, 1.5),
        lambda: jo.ewma(1.0),
        lambda: jo.multistep(1e-4, [100, 50]),
        lambda: jo.poly(0.1, 0),
        lambda: jo.linear_warmup(0.1, -5),
    ],
)
def test_bad_input_raises(make):
    with pytest.raises(ValueError):
        make()
