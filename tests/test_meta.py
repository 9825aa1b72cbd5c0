"""jaxdl.meta (SPEC BAS-9): MAML / first-order MAML against closed forms for quadratic task
losses and against PyTorch double backprop for an MLP; Reptile against its definition; the
engine steps; vmap over tasks against a Python loop; bad input."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from absl.testing import parameterized

from jaxdl import meta
from jaxdl.data.few_shot import EpisodeSampler, EpisodeStream
from jaxdl.data.sine_tasks import SineTaskStream, sample_sine_tasks, sine
from jaxdl.models.mlp import MLP

DIM, TASKS, ALPHA = 3, 4, 0.1


def quadratic_loss(params, batch):
    """L(θ) = ½(θ − a)ᵀA(θ − a): gradient A(θ − a), Hessian A."""
    d = params["theta"] - batch["a"]
    return 0.5 * d @ batch["A"] @ d


def _spd(rng, n):
    m = rng.standard_normal((n, DIM, DIM))
    return np.einsum("nij,nkj->nik", m, m) / DIM + 0.5 * np.eye(DIM)


@functools.cache
def _quadratic_tasks():
    """θ and TASKS quadratic tasks (support and query halves), float64 for the references."""
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(DIM)
    tasks = {
        "support": {"A": _spd(rng, TASKS), "a": rng.standard_normal((TASKS, DIM))},
        "query": {"A": _spd(rng, TASKS), "a": rng.standard_normal((TASKS, DIM))},
    }
    return theta, tasks


@pytest.fixture()
def quad():
    return _quadratic_tasks()


def _f32(tree):
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def closed_form(theta, tasks, alpha, steps, first_order):
    """Per-task MAML (or FOMAML) meta-gradients, derived by hand for the quadratic: after k
    steps θ_k − a_s = (I − αA_s)^k (θ − a_s), so ∂θ_k/∂θ = (I − αA_s)^k and the meta-gradient is
    ((I − αA_s)^k)ᵀ A_q (θ_k − a_q); first-order drops the Jacobian. Returns (grads, losses)."""
    grads, losses = [], []
    for i in range(TASKS):
        A_s, a_s = tasks["support"]["A"][i], tasks["support"]["a"][i]
        A_q, a_q = tasks["query"]["A"][i], tasks["query"]["a"][i]
        J = np.linalg.matrix_power(np.eye(DIM) - alpha * A_s, steps)
        theta_k = a_s + J @ (theta - a_s)
        g_q = A_q @ (theta_k - a_q)
        grads.append(g_q if first_order else J.T @ g_q)
        losses.append(0.5 * (theta_k - a_q) @ A_q @ (theta_k - a_q))
    return np.array(grads), np.array(losses)


class MetaGradientClosedFormTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(steps=[1, 3], first_order=[False, True])
    def test_meta_gradient_equals_closed_form(self, steps, first_order):
        theta, tasks = _quadratic_tasks()
        step = self.variant(
            functools.partial(
                meta.maml_step,
                quadratic_loss,
                inner_lr=ALPHA,
                inner_steps=steps,
                first_order=first_order,
            )
        )
        loss, grads, metrics = step(_f32({"theta": theta}), _f32(tasks))
        want, losses = closed_form(theta, tasks, ALPHA, steps, first_order)
        chex.assert_shape(grads["theta"], (DIM,))
        self.assertEqual(grads["theta"].dtype, jnp.float32)
        chex.assert_trees_all_close(grads["theta"], want.mean(0), rtol=1e-5, atol=1e-6)
        chex.assert_trees_all_close(loss, losses.mean(), rtol=1e-5)
        q = tasks["query"]
        pre = np.mean(
            [0.5 * (theta - q["a"][i]) @ q["A"][i] @ (theta - q["a"][i]) for i in range(TASKS)]
        )
        chex.assert_trees_all_close(metrics["pre_adapt_loss"], pre, rtol=1e-5)


def test_first_order_differs_by_exactly_the_hessian_term(quad):
    """One inner step: MAML − FOMAML = −α·mean_i A_s,i ∇L_q,i(θ′_i) (the support Hessian times
    the query gradient), and the term is not negligible here."""
    theta, tasks = quad
    p, t = _f32({"theta": theta}), _f32(tasks)
    _, second, _ = meta.maml_step(quadratic_loss, p, t, ALPHA)
    _, first, _ = meta.maml_step(quadratic_loss, p, t, ALPHA, first_order=True)
    query_grads, _ = closed_form(theta, tasks, ALPHA, 1, first_order=True)
    hessian_term = -ALPHA * np.einsum("nij,nj->ni", tasks["support"]["A"], query_grads).mean(0)
    diff = np.asarray(second["theta"]) - np.asarray(first["theta"])
    chex.assert_trees_all_close(diff, hessian_term, rtol=1e-4, atol=1e-6)
    assert np.linalg.norm(hessian_term) > 0.05 * np.linalg.norm(query_grads.mean(0))


# --- an MLP: PyTorch double backprop as the reference, vmap against a loop -------------------

SHOTS = 5


@pytest.fixture(scope="module")
def mlp_setup():
    model = MLP((40, 40, 1), activation=jax.nn.relu)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 1)))["params"]
    tasks = sample_sine_tasks(np.random.default_rng(1), TASKS, SHOTS, SHOTS)

    def loss_fn(p, batch):
        return jnp.mean((model.apply({"params": p}, batch["x"]) - batch["y"]) ** 2)

    return loss_fn, params, {"support": tasks["support"], "query": tasks["query"]}


@functools.cache
def _jit_maml_step(loss_fn, steps, first_order):
    return jax.jit(
        functools.partial(
            meta.maml_step, loss_fn, inner_lr=0.01, inner_steps=steps, first_order=first_order
        )
    )


def _torch_maml_grads(params, tasks, alpha, steps, first_order):
    """Per-task meta-gradients with torch.autograd (create_graph=True through the inner steps)."""
    names = [(f"l{i}", k) for i in range(3) for k in ("kernel", "bias")]
    theta = [torch.tensor(np.asarray(params[a][b]), requires_grad=True) for a, b in names]

    def forward(w, x):
        h = torch.relu(x @ w[0] + w[1])
        h = torch.relu(h @ w[2] + w[3])
        return h @ w[4] + w[5]

    total = [torch.zeros_like(t) for t in theta]
    for i in range(TASKS):
        s = {k: torch.tensor(v[i]) for k, v in tasks["support"].items()}
        q = {k: torch.tensor(v[i]) for k, v in tasks["query"].items()}
        w = theta
        for _ in range(steps):
            loss = torch.mean((forward(w, s["x"]) - s["y"]) ** 2)
            g = torch.autograd.grad(loss, w, create_graph=not first_order)
            w = [wj - alpha * gj for wj, gj in zip(w, g, strict=True)]
        outer = torch.autograd.grad(torch.mean((forward(w, q["x"]) - q["y"]) ** 2), theta)
        total = [t + o / TASKS for t, o in zip(total, outer, strict=True)]
    out = {}
    for (layer, kind), g in zip(names, total, strict=True):
        out.setdefault(layer, {})[kind] = g.numpy()
    return out


@pytest.mark.parametrize("first_order", [False, True])
def test_mlp_meta_gradient_matches_torch_double_backprop(mlp_setup, first_order):
    loss_fn, params, tasks = mlp_setup
    _, grads, _ = _jit_maml_step(loss_fn, 2, first_order)(params, tasks)
    want = _torch_maml_grads(params, tasks, 0.01, 2, first_order)
    chex.assert_trees_all_close(grads, want, rtol=2e-4, atol=1e-6)


def test_mlp_second_and_first_order_differ(mlp_setup):
    loss_fn, params, tasks = mlp_setup
    _, second, _ = _jit_maml_step(loss_fn, 2, False)(params, tasks)
    _, first, _ = _jit_maml_step(loss_fn, 2, True)(params, tasks)
    diff = optax.tree.norm(jax.tree.map(jnp.subtract, second, first))
    assert diff > 1e-4 * optax.tree.norm(second)


def test_vmap_over_tasks_equals_a_python_loop(mlp_setup):
    loss_fn, params, tasks = mlp_setup
    step = _jit_maml_step(loss_fn, 2, False)
    loss, grads, _ = step(params, tasks)
    losses, per_task = [], []
    for i in range(TASKS):
        one = jax.tree.map(lambda x: x[i : i + 1], tasks)  # noqa: B023
        li, gi, _ = step(params, one)
        losses.append(li)
        per_task.append(gi)
    chex.assert_trees_all_close(loss, np.mean(losses), rtol=1e-6)
    mean = jax.tree.map(lambda *g: sum(g) / TASKS, *per_task)
    chex.assert_trees_all_close(grads, mean, rtol=1e-5, atol=1e-7)


# --- the engine steps -------------------------------------------------------------------------


def test_maml_train_step_is_one_meta_optimizer_update(quad):
    theta, tasks = quad
    beta = 0.5
    init_state, train_step = meta.maml(
        quadratic_loss,
        optax.sgd(beta),
        init_fn=lambda rng: _f32({"theta": theta}),
        inner_lr=ALPHA,
        inner_steps=2,
    )
    state = init_state(jax.random.PRNGKey(0))
    new, metrics = jax.jit(train_step)(state, _f32(tasks))
    grads, losses = closed_form(theta, tasks, ALPHA, 2, first_order=False)
    chex.assert_trees_all_close(new.params["theta"], theta - beta * grads.mean(0), rtol=1e-5)
    chex.assert_trees_all_close(metrics["loss"], losses.mean(), rtol=1e-5)
    assert int(new.step) == 1 and {"grad_norm", "pre_adapt_loss", "nonfinite"} <= set(metrics)


def _reptile_reference(theta, batches, lr, steps):
    """Per-task SGD from θ over minibatches 0, 1, ..., M−1, 0, ... (numpy float64)."""
    out = []
    for i in range(batches["A"].shape[0]):
        w = theta.copy()
        for j in range(steps):
            m = j % batches["A"].shape[1]
            w = w - lr * batches["A"][i, m] @ (w - batches["a"][i, m])
        out.append(w)
    return np.array(out)


@pytest.mark.parametrize("accum_steps", [1, 2])
def test_reptile_update_equals_its_definition(quad, accum_steps):
    theta, _ = quad
    rng = np.random.default_rng(2)
    batches = {  # (tasks, minibatches M=2, ...)
        "A": _spd(rng, TASKS * 2).reshape(TASKS, 2, DIM, DIM),
        "a": rng.standard_normal((TASKS, 2, DIM)),
    }
    lr, steps, eps = 0.2, 3, 0.25
    w = _reptile_reference(theta, batches, lr, steps)
    _, delta, _ = meta.reptile_step(quadratic_loss, _f32({"theta": theta}), _f32(batches), lr, 3)
    chex.assert_trees_all_close(delta["theta"], theta - w.mean(0), rtol=1e-5, atol=1e-6)
    init_state, train_step = meta.reptile(
        quadratic_loss,
        optax.sgd(eps),
        init_fn=lambda rng: _f32({"theta": theta}),
        inner_lr=lr,
        inner_steps=steps,
        accum_steps=accum_steps,
    )
    new, metrics = jax.jit(train_step)(init_state(jax.random.PRNGKey(0)), _f32(batches))
    want = theta + eps * (w.mean(0) - theta)  # θ ← θ + ε·mean_i(W_i − θ)
    chex.assert_trees_all_close(new.params["theta"], want, rtol=1e-5, atol=1e-6)
    assert metrics["loss"] < metrics["pre_adapt_loss"]


def test_adaptation_losses_follow_plain_gradient_descent(quad):
    theta, tasks = quad
    one = jax.tree.map(lambda x: x[0], tasks)
    got = meta.adaptation_losses(
        quadratic_loss, _f32({"theta": theta}), _f32(one["support"]), _f32(one["query"]), 0.1, 4
    )
    w, want = theta.copy(), []
    for _ in range(5):
        d = w - one["query"]["a"]
        want.append(0.5 * d @ one["query"]["A"] @ d)
        w = w - 0.1 * one["support"]["A"] @ (w - one["support"]["a"])
    chex.assert_shape(got, (5,))
    chex.assert_trees_all_close(got, np.array(want), rtol=1e-5)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [0, -1, 1.5])
def test_inner_step_count_below_one_is_refused(quad, steps):
    theta, tasks = quad
    p, t = _f32({"theta": theta}), _f32(tasks)
    with pytest.raises(ValueError, match="inner_steps must be an int >= 1"):
        meta.maml_step(quadratic_loss, p, t, ALPHA, inner_steps=steps)
    with pytest.raises(ValueError, match="inner_steps must be an int >= 1"):
        meta.maml(quadratic_loss, optax.sgd(1.0), init_fn=None, inner_lr=0.1, inner_steps=steps)
    with pytest.raises(ValueError, match="inner_steps must be an int >= 1"):
        meta.reptile(quadratic_loss, optax.sgd(1.0), init_fn=None, inner_lr=0.1, inner_steps=steps)


def test_bad_meta_batches_and_rates_are_named(quad):
    theta, tasks = quad
    p, t = _f32({"theta": theta}), _f32(tasks)
    with pytest.raises(ValueError, match=r"keys \['query', 'support'\], got \['support'\]"):
        meta.maml_step(quadratic_loss, p, {"support": t["support"]}, ALPHA)
    short = {"support": t["support"], "query": jax.tree.map(lambda x: x[:2], t["query"])}
    with pytest.raises(ValueError, match="same leading task axis"):
        meta.maml_step(quadratic_loss, p, short, ALPHA)
    with pytest.raises(ValueError, match="inner_lr must be > 0"):
        meta.maml_step(quadratic_loss, p, t, 0.0)
    with pytest.raises(ValueError, match=r"leading axes \(tasks, minibatches\)"):
        meta.reptile_step(
            quadratic_loss, p, {"A": t["support"]["A"], "a": t["support"]["a"][:, 0]}, 0.1, 1
        )  # no minibatch axis on "a": (4, 3) against (4,)
    with pytest.raises(ValueError, match="has_mutable"):
        meta.maml(quadratic_loss, optax.sgd(1.0), init_fn=None, inner_lr=0.1, has_mutable=True)


# --- the sine task distribution ---------------------------------------------------------------


def test_sine_tasks_follow_the_paper_distribution():
    t = sample_sine_tasks(np.random.default_rng(0), 2000, 10, 7)
    chex.assert_shape([t["support"]["x"], t["support"]["y"]], (2000, 10, 1))
    chex.assert_shape([t["query"]["x"], t["query"]["y"]], (2000, 7, 1))
    assert t["support"]["x"].dtype == np.float32
    a, ph = t["amplitude"], t["phase"]
    assert 0.1 <= a.min() < 0.2 and 4.9 < a.max() <= 5.0 and abs(a.mean() - 2.55) < 0.1
    assert 0.0 <= ph.min() < 0.05 and np.pi - 0.05 < ph.max() <= np.pi
    x = np.concatenate([t["support"]["x"], t["query"]["x"]], axis=1)
    assert -5.0 <= x.min() < -4.99 and 4.99 < x.max() <= 5.0
    y = np.concatenate([t["support"]["y"], t["query"]["y"]], axis=1)
    np.testing.assert_allclose(y, sine(x, a[:, None, None], ph[:, None, None]), atol=1e-5)
    np.testing.assert_allclose(y[3, :, 0], a[3] * np.sin(x[3, :, 0] + ph[3]), atol=1e-5)
    with pytest.raises(ValueError, match="num_support must be >= 1"):
        sample_sine_tasks(np.random.default_rng(0), 2, 0, 5)


def test_sine_stream_resumes_where_it_stopped():
    stream = SineTaskStream(8, 5, 5, seed=3)
    next(stream)
    state = stream.get_state()
    b1 = next(stream)
    other = SineTaskStream(8, 5, 5, seed=3)
    other.set_state(state)
    chex.assert_trees_all_equal(next(other), b1)
    assert set(b1) == {"support", "query"} and b1["support"]["x"].shape == (8, 5, 1)
    assert not np.allclose(
        next(SineTaskStream(8, 5, 5, seed=4))["support"]["x"], b1["support"]["x"]
    )


# --- few-shot episodes ------------------------------------------------------------------------


def _indexed_set(n=140, classes=7):
    """Images that hold their own index, so an episode can be traced back to the data."""
    return np.arange(n, dtype=np.int32).reshape(n, 1, 1, 1), np.arange(n) % classes


def test_episodes_are_n_way_k_shot_with_disjoint_support_and_query():
    images, labels = _indexed_set()
    sampler = EpisodeSampler(images, labels, ways=5, shots=2, queries=3)
    ep = sampler.sample(np.random.default_rng(0), 200)
    chex.assert_shape(ep["support"]["image"], (200, 10, 1, 1, 1))
    chex.assert_shape(ep["query"]["image"], (200, 15, 1, 1, 1))
    np.testing.assert_array_equal(ep["support"]["label"][0], np.repeat(np.arange(5), 2))
    np.testing.assert_array_equal(ep["query"]["label"][0], np.repeat(np.arange(5), 3))
    assert ep["support"]["label"].dtype == np.int32
    seen = set()
    for t in range(200):
        s, q = ep["support"]["image"][t].ravel(), ep["query"]["image"][t].ravel()
        assert len(set(s) | set(q)) == 25  # no image twice in an episode
        origin = [
            {labels[i] for i in s[2 * j : 2 * j + 2]} | {labels[i] for i in q[3 * j : 3 * j + 3]}
            for j in range(5)
        ]
        assert all(len(o) == 1 for o in origin)  # one original class per episode label
        assert len(set().union(*origin)) == 5  # five different classes
        seen |= {(j, next(iter(o))) for j, o in enumerate(origin)}
    assert len(seen) == 5 * 7  # every class takes every episode label: random relabelling


def test_episode_stream_resumes_and_bad_settings_are_named():
    images, labels = _indexed_set()
    stream = EpisodeStream(EpisodeSampler(images, labels, 3, 1, 2), 4, seed=1)
    next(stream)
    state, b = stream.get_state(), next(stream)
    other = EpisodeStream(EpisodeSampler(images, labels, 3, 1, 2), 4, seed=1)
    other.set_state(state)
    chex.assert_trees_all_equal(next(other), b)
    with pytest.raises(ValueError, match="ways=8 but the data has only 7 classes"):
        EpisodeSampler(images, labels, 8, 1, 1)
    with pytest.raises(ValueError, match="shots \\+ queries = 21 exceeds the 20 images"):
        EpisodeSampler(images, labels, 5, 1, 20)
    with pytest.raises(ValueError, match="shots must be >= 1"):
        EpisodeSampler(images, labels, 5, 0, 1)
