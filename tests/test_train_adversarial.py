"""The two-player step against a hand-written reference loop on a 1-D toy GAN; unrolled
look-ahead; jit with sharding rules, pmap, resume and skip_nonfinite through `fit`."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from absl.testing import parameterized

from jaxdl.train import JitBackend, PmapBackend, Task, adversarial, fit
from jaxdl.train.writers import read_metrics

HIDDEN = 8


def g_init(rng):
    return {"a": jnp.ones(()) * 0.5, "b": jax.random.normal(rng, ()) * 0.1}


def d_init(rng):
    k1, k2 = jax.random.split(rng)
    return {
        "w1": jax.random.normal(k1, (1, HIDDEN)),
        "c1": jnp.zeros((HIDDEN,)),
        "w2": jax.random.normal(k2, (HIDDEN, 1)) * 0.5,
        "c2": jnp.zeros((1,)),
    }


def generate(g_params, batch, rng):
    z = batch["z"] if "z" in batch else jax.random.normal(rng, batch["x"].shape)
    return g_params["a"] * z + g_params["b"]


def disc(d_params, x):
    return (jnp.tanh(x @ d_params["w1"] + d_params["c1"]) @ d_params["w2"] + d_params["c2"])[:, 0]


def d_loss_fn(d_vars, g_vars, batch, rng):
    fake = generate(g_vars["params"], batch, rng)
    real_logit, fake_logit = disc(d_vars["params"], batch["x"]), disc(d_vars["params"], fake)
    loss = -jnp.mean(jax.nn.log_sigmoid(real_logit) + jax.nn.log_sigmoid(-fake_logit))
    return loss, {"real_score": jnp.mean(jax.nn.sigmoid(real_logit))}


def g_loss_fn(g_vars, d_vars, batch, rng):
    fake = generate(g_vars["params"], batch, rng)
    return -jnp.mean(jax.nn.log_sigmoid(disc(d_vars["params"], fake))), {}


def real_batches(n, size=40, seed=0, with_z=False):
    rs = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        b = {"x": (3.0 + 0.5 * rs.randn(size, 1)).astype(np.float32)}
        if with_z:
            b["z"] = rs.randn(size, 1).astype(np.float32)
        out.append(b)
    return out


def _d_grad(d_params, g_params, batch, rng):
    return jax.grad(lambda d: d_loss_fn({"params": d}, {"params": g_params}, batch, rng)[0])(
        d_params
    )


def reference_loop(state, batches, g_tx, d_tx, d_steps, d_batch, unroll=0):
    """Plain Python: for each step, d_steps D updates, then one G update (keys as documented)."""
    g, d = state.g.params, state.d.params
    g_opt, d_opt = state.g.opt_state, state.d.opt_state
    for t, batch in enumerate(batches):
        batch = jax.tree.map(jnp.asarray, batch)
        rng = jax.random.fold_in(state.rng, t)
        n = batch["x"].shape[0]
        rows = [np.arange(i, n, d_steps) for i in range(d_steps)]  # interleaved slices
        for i in range(d_steps):
            b = {k: v[rows[i]] for k, v in batch.items()} if d_batch == "slices" else batch
            grads = _d_grad(d, g, b, jax.random.fold_in(rng, i))
            upd, d_opt = d_tx.update(grads, d_opt, d)
            d = optax.apply_updates(d, upd)
        gb = {k: v[rows[-1]] for k, v in batch.items()} if d_batch == "slices" else batch
        g_rng = jax.random.fold_in(rng, d_steps)

        def g_objective(gp, d=d, d_opt=d_opt, gb=gb, g_rng=g_rng):
            dk, ok = d, d_opt
            for j in range(unroll):  # look-ahead D updates, differentiated through
                upd, ok = d_tx.update(_d_grad(dk, gp, gb, jax.random.fold_in(g_rng, j + 1)), ok, dk)
                dk = optax.apply_updates(dk, upd)
            return g_loss_fn({"params": gp}, {"params": dk}, gb, g_rng)[0]

        upd, g_opt = g_tx.update(jax.grad(g_objective)(g), g_opt, g)
        g = optax.apply_updates(g, upd)
    return g, d


class AdversarialStepTest(parameterized.TestCase):
    @parameterized.parameters((1, "full", 0), (5, "slices", 0), (5, "full", 0), (2, "full", 1))
    def test_matches_hand_written_loop(self, d_steps, d_batch, unroll):
        g_tx, d_tx = optax.adam(1e-2), optax.sgd(0.05, momentum=0.9)
        init_state, step = adversarial(
            g_loss_fn,
            d_loss_fn,
            g_tx,
            d_tx,
            g_init=g_init,
            d_init=d_init,
            d_steps=d_steps,
            d_batch=d_batch,
            unroll_steps=unroll,
        )
        state0 = init_state(jax.random.PRNGKey(0))
        data = real_batches(4)
        state = state0
        jitted = jax.jit(step)
        for b in data:
            state, metrics = jitted(state, b)
        g_ref, d_ref = reference_loop(state0, data, g_tx, d_tx, d_steps, d_batch, unroll)
        chex.assert_trees_all_close(state.d.params, d_ref, atol=1e-5, rtol=1e-5)
        chex.assert_trees_all_close(state.g.params, g_ref, atol=1e-5, rtol=1e-5)
        assert int(state.step) == 4
        assert set(metrics) == {
            "d/loss",
            "d/grad_norm",
            "d/real_score",
            "g/loss",
            "g/grad_norm",
            "nonfinite",
        }
        chex.assert_shape(metrics["d/loss"], ())
        # The players really moved (a wrong order or a dropped update would not match above).
        assert not np.allclose(state.g.params["b"], state0.g.params["b"])

    def test_unrolled_generator_gradient_differs_from_plain(self):
        g_tx, d_tx = optax.sgd(0.1), optax.sgd(0.5)
        finals = []
        for unroll in (0, 3):
            init_state, step = adversarial(
                g_loss_fn, d_loss_fn, g_tx, d_tx, g_init=g_init, d_init=d_init, unroll_steps=unroll
            )
            state, _ = jax.jit(step)(init_state(jax.random.PRNGKey(1)), real_batches(1)[0])
            finals.append(state)
        # D's own update is the same; only G's gradient sees the look-ahead.
        chex.assert_trees_all_close(finals[0].d.params, finals[1].d.params, atol=1e-6)
        assert not np.allclose(finals[0].g.params["a"], finals[1].g.params["a"], atol=1e-6)

    @parameterized.parameters(0, 1, 3)
    def test_unrolled_generator_gradient_matches_float64_unrolling(self, unroll):
        """One step with plain SGD (G's lr 1, so its update is minus the gradient) against a
        float64 reference unrolled by hand: D's own update, then `unroll` look-ahead gradient
        steps on the same batch, G's loss at the last one differentiated through all of them.
        k = 0 is the plain GAN's gradient; the reference is itself checked by central finite
        differences in float64."""
        d_lr = 0.5
        init_state, step = adversarial(
            g_loss_fn,
            d_loss_fn,
            optax.sgd(1.0),
            optax.sgd(d_lr),
            g_init=g_init,
            d_init=d_init,
            unroll_steps=unroll,
        )
        state0 = init_state(jax.random.PRNGKey(3))
        batch = real_batches(1, size=24, with_z=True)[0]  # z in the batch: no key dependence
        state1, _ = jax.jit(step)(state0, batch)
        grad32 = jax.tree.map(
            lambda a, b: np.float64(a) - np.float64(b), state0.g.params, state1.g.params
        )

        with jax.enable_x64(True):
            f64 = lambda t: jax.tree.map(lambda x: jnp.asarray(np.asarray(x), jnp.float64), t)  # noqa: E731
            g0, d0, b64 = f64(state0.g.params), f64(state0.d.params), f64(batch)

            def d_step(d, g):
                grads = jax.grad(lambda p: d_loss_fn({"params": p}, {"params": g}, b64, None)[0])(d)
                return jax.tree.map(lambda p, q: p - d_lr * q, d, grads)

            d1 = d_step(d0, g0)  # D's own update, before G's

            def unrolled_loss(g):
                dk = d1
                for _ in range(unroll):
                    dk = d_step(dk, g)
                return g_loss_fn({"params": g}, {"params": dk}, b64, None)[0]

            ref = jax.grad(unrolled_loss)(g0)
            chex.assert_trees_all_close(state1.d.params, d1, atol=1e-5)  # D: its own update only
            h = 1e-6
            for name in ("a", "b"):
                plus = unrolled_loss({**g0, name: g0[name] + h})
                minus = unrolled_loss({**g0, name: g0[name] - h})
                np.testing.assert_allclose(
                    ref[name], (plus - minus) / (2 * h), rtol=1e-6, atol=1e-9
                )
                np.testing.assert_allclose(grad32[name], ref[name], rtol=1e-5, atol=1e-6)
            if unroll:  # the look-ahead really changes the gradient
                plain = jax.grad(lambda g: g_loss_fn({"params": g}, {"params": d1}, b64, None)[0])(
                    g0
                )
                assert abs(float(plain["a"] - ref["a"])) > 1e-4

    def test_weight_clipping_constraint_and_ema(self):
        init_state, step = adversarial(
            g_loss_fn,
            d_loss_fn,
            optax.sgd(0.1),
            optax.sgd(1.0),
            g_init=g_init,
            d_init=d_init,
            d_constraint=lambda p: jax.tree.map(lambda x: jnp.clip(x, -0.01, 0.01), p),
            ema_decay=0.9,
        )
        state = init_state(jax.random.PRNGKey(0))
        g0 = state.g.params
        state, _ = jax.jit(step)(state, real_batches(1)[0])
        assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(state.d.params)) <= 0.01
        expected = jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p, g0, state.g.params)
        chex.assert_trees_all_close(state.g_ema, expected, atol=1e-6)

    def test_skip_nonfinite_keeps_both_players(self):
        init_state, step = adversarial(
            g_loss_fn,
            d_loss_fn,
            optax.adam(1e-2),
            optax.adam(1e-2),
            g_init=g_init,
            d_init=d_init,
            d_steps=2,
            skip_nonfinite=True,
        )
        state = init_state(jax.random.PRNGKey(0))
        bad = real_batches(1)[0]
        bad["x"][0, 0] = np.nan
        new, metrics = jax.jit(step)(state, bad)
        assert int(metrics["skipped"]) == 1 and int(new.step) == 1
        chex.assert_trees_all_equal(new.g, state.g)
        chex.assert_trees_all_equal(new.d, state.d)

    def test_mutable_collections_of_both_players(self):
        """BatchNorm-like counters: D's is updated by each critic step, G's by its own step."""

        def g_init_vars(rng):
            return {"params": g_init(rng), "stats": {"n": jnp.zeros(())}}

        def d_init_vars(rng):
            return {"params": d_init(rng), "stats": {"n": jnp.zeros(())}}

        def d_loss(d_vars, g_vars, batch, rng):
            loss, aux = d_loss_fn(d_vars, g_vars, batch, rng)
            return loss, (aux, {"d": {"stats": {"n": d_vars["stats"]["n"] + 1}}})

        def g_loss(g_vars, d_vars, batch, rng):
            loss, aux = g_loss_fn(g_vars, d_vars, batch, rng)
            return loss, (aux, {"g": {"stats": {"n": g_vars["stats"]["n"] + 10}}})

        init_state, step = adversarial(
            g_loss,
            d_loss,
            optax.sgd(0.1),
            optax.sgd(0.1),
            g_init=g_init_vars,
            d_init=d_init_vars,
            d_steps=3,
            has_mutable=True,
        )
        state = init_state(jax.random.PRNGKey(0))
        for b in real_batches(2):
            state, _ = jax.jit(step)(state, b)
        assert float(state.d.mutable["stats"]["n"]) == 6
        assert float(state.g.mutable["stats"]["n"]) == 20

    def test_bad_arguments(self):
        kw = dict(g_init=g_init, d_init=d_init)
        with pytest.raises(ValueError, match="d_steps must be an integer >= 1"):
            adversarial(g_loss_fn, d_loss_fn, optax.sgd(1), optax.sgd(1), d_steps=0, **kw)
        with pytest.raises(ValueError, match="d_batch"):
            adversarial(g_loss_fn, d_loss_fn, optax.sgd(1), optax.sgd(1), d_batch="x", **kw)
        init_state, step = adversarial(
            g_loss_fn, d_loss_fn, optax.sgd(1), optax.sgd(1), d_steps=3, d_batch="slices", **kw
        )
        with pytest.raises(ValueError, match="not divisible by d_steps=3"):
            step(init_state(jax.random.PRNGKey(0)), real_batches(1, size=40)[0])


def _run(backend, data, rules_step=None):
    init_state, step = adversarial(
        g_loss_fn,
        d_loss_fn,
        optax.adam(1e-2),
        optax.adam(1e-2),
        g_init=g_init,
        d_init=d_init,
        d_steps=2,
        d_batch="slices",
    )
    state = backend.init_state(lambda: init_state(jax.random.PRNGKey(0)))
    compiled = backend.compile_step(step)
    for b in data:
        state, metrics = compiled(state, backend.put_batch(b))
    return backend.to_checkpoint(state), backend.metrics_to_host(metrics)


def test_jit_with_sharding_rules_and_pmap_agree():
    data = real_batches(3, size=32, with_z=True)  # z in the batch: same noise on every backend
    sharded = JitBackend(rules=[("d/params/w1", (None, "data")), ("w2", "fsdp")])
    s_jit, m_jit = _run(sharded, data)
    assert s_jit.d.params["w1"].sharding.spec == jax.sharding.PartitionSpec(None, "data")
    s_pmap, m_pmap = _run(PmapBackend(), data)
    s_one, _ = _run(
        JitBackend(mesh=jax.sharding.Mesh(np.asarray(jax.devices()[:1]), ("data",))), data
    )
    chex.assert_trees_all_close(s_jit.g.params, s_one.g.params, atol=1e-5)
    chex.assert_trees_all_close(s_pmap.d.params, s_one.d.params, atol=1e-5)
    chex.assert_trees_all_close(s_pmap.g.params, s_one.g.params, atol=1e-5)
    np.testing.assert_allclose(m_pmap["g/loss"], m_jit["g/loss"], rtol=1e-5)


def _gan_task(seed=0):
    init_state, step = adversarial(
        g_loss_fn,
        d_loss_fn,
        optax.adam(1e-2),
        optax.adam(1e-2),
        g_init=g_init,
        d_init=d_init,
        d_steps=2,
        ema_decay=0.9,
    )
    return Task(init_state, step, iter(real_batches(20, size=16, seed=seed)))


def _config(total_steps):
    return ml_collections.ConfigDict(
        dict(
            seed=0,
            train=dict(
                total_steps=total_steps,
                batch_size=16,
                log_every=2,
                checkpoint_every=3,
                keep_checkpoints=5,
            ),
        )
    )


def test_fit_trains_and_resumes_adversarial_state_exactly(tmp_path):
    full = fit(_gan_task(), _config(8), str(tmp_path / "full"))
    wd = str(tmp_path / "resumed")
    fit(_gan_task(), _config(5), wd)
    # The data iterator is a plain iterator here (not checkpointed): skip what was consumed.
    task = _gan_task()
    for _ in range(5):
        next(task.train_data)
    resumed = fit(task, _config(8), wd)
    chex.assert_trees_all_equal(resumed, full)
    records = read_metrics(wd)
    assert any("d/loss" in r and "g/loss" in r for r in records)
