"""The supervised step: accumulation, clipping, EMA, bf16 compute, NaN skipping, mutables,
per-device randomness under pmap."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized

from jaxdl.train import PmapBackend, supervised


def _problem(seed=0, batch=16):
    rs = np.random.RandomState(seed)
    params = {
        "dense": {
            "kernel": jnp.asarray(rs.randn(5, 3), jnp.float32),
            "bias": jnp.zeros((3,), jnp.float32),
        }
    }
    data = {
        "x": jnp.asarray(rs.randn(batch, 5), jnp.float32),
        "y": jnp.asarray(rs.randn(batch, 3), jnp.float32),
    }
    return params, data


def loss_fn(params, batch, rng):
    pred = batch["x"] @ params["dense"]["kernel"] + params["dense"]["bias"]
    err = pred - batch["y"]
    return jnp.mean(err.astype(jnp.float32) ** 2), {"mae": jnp.mean(jnp.abs(err))}


def make_train_step(loss, tx, **kwargs):
    """The step of `supervised` (its state comes from `_state`)."""
    return supervised(loss, tx, init_fn=None, **kwargs)[1]


def _state(params, tx, ema=False, mutable=None):
    init = {"params": params, **mutable} if mutable else params
    init_state, _ = supervised(
        loss_fn, tx, init_fn=lambda rng: init, ema_decay=0.5 if ema else None
    )
    return init_state(jax.random.PRNGKey(0))


class StepTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_matches_manual_sgd_and_shapes(self):
        params, batch = _problem()
        tx = optax.sgd(0.1)
        step = self.variant(make_train_step(loss_fn, tx))
        state, metrics = step(_state(params, tx), batch)
        grads = jax.grad(lambda p: loss_fn(p, batch, None)[0])(params)
        expected = jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)
        chex.assert_trees_all_close(state.params, expected, atol=1e-6)
        chex.assert_shape(metrics["loss"], ())
        chex.assert_type(metrics["loss"], jnp.float32)
        assert int(state.step) == 1
        assert set(metrics) == {"loss", "grad_norm", "mae", "nonfinite"}

    def test_compiles_once(self):
        params, batch = _problem()
        tx = optax.adam(1e-2)
        step = jax.jit(chex.assert_max_traces(make_train_step(loss_fn, tx), n=1))
        state = _state(params, tx)
        for _ in range(4):
            state, _ = step(state, batch)
        assert int(state.step) == 4

    @parameterized.parameters(2, 4)
    def test_accumulation_equals_full_batch(self, k):
        params, batch = _problem(batch=16)
        tx = optax.adam(1e-2)
        full = jax.jit(make_train_step(loss_fn, tx))
        acc = jax.jit(make_train_step(loss_fn, tx, accum_steps=k))
        s1, s2 = _state(params, tx), _state(params, tx)
        for _ in range(3):
            s1, m1 = full(s1, batch)
            s2, m2 = acc(s2, batch)
        chex.assert_trees_all_close(s1.params, s2.params, atol=1e-5)
        chex.assert_trees_all_close(m1["loss"], m2["loss"], rtol=1e-5)

    def test_accumulation_rejects_indivisible_batch(self):
        params, batch = _problem(batch=10)
        step = make_train_step(loss_fn, optax.sgd(0.1), accum_steps=4)
        with pytest.raises(ValueError, match="not divisible by accum_steps=4"):
            step(_state(params, optax.sgd(0.1)), batch)

    def test_clipping_matches_optax(self):
        params, batch = _problem()
        batch = {**batch, "y": batch["y"] * 100.0}
        ours = make_train_step(loss_fn, optax.sgd(0.1), clip_norm=0.5)
        ref_tx = optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(0.1))
        ref = make_train_step(loss_fn, ref_tx)
        s1, m1 = jax.jit(ours)(_state(params, optax.sgd(0.1)), batch)
        s2, _ = jax.jit(ref)(_state(params, ref_tx), batch)
        assert float(m1["grad_norm"]) > 0.5
        chex.assert_trees_all_close(s1.params, s2.params, atol=1e-6)

    def test_ema(self):
        params, batch = _problem()
        tx = optax.sgd(0.1)
        step = jax.jit(make_train_step(loss_fn, tx, ema_decay=0.9))
        state = _state(params, tx, ema=True)
        ema = params
        for _ in range(3):
            state, _ = step(state, batch)
            ema = jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p, ema, state.params)
        chex.assert_trees_all_close(state.ema_params, ema, atol=1e-6)

    def test_bf16_compute_keeps_f32_params(self):
        params, batch = _problem()
        tx = optax.sgd(0.1)
        s32, m32 = jax.jit(make_train_step(loss_fn, tx))(_state(params, tx), batch)
        s16, m16 = jax.jit(make_train_step(loss_fn, tx, compute_dtype=jnp.bfloat16))(
            _state(params, tx), batch
        )
        chex.assert_trees_all_equal_dtypes(s16.params, params)
        chex.assert_type(m16["loss"], jnp.float32)
        chex.assert_trees_all_close(s16.params, s32.params, atol=3e-2)
        assert not np.allclose(np.asarray(m16["loss"]), np.asarray(m32["loss"]), atol=0, rtol=0)

    def test_skip_nonfinite_keeps_state(self):
        params, batch = _problem()
        tx = optax.adam(1e-2)
        bad = {**batch, "x": batch["x"].at[0, 0].set(jnp.nan)}
        state = _state(params, tx)
        skip = jax.jit(make_train_step(loss_fn, tx, skip_nonfinite=True))
        new, m = skip(state, bad)
        assert int(m["nonfinite"]) == 1 and int(new.step) == 1
        chex.assert_trees_all_equal(new.params, params)
        chex.assert_trees_all_equal(new.opt_state, state.opt_state)
        nonskip, m = jax.jit(make_train_step(loss_fn, tx))(_state(params, tx), bad)
        assert int(m["nonfinite"]) == 1
        assert np.isnan(np.asarray(nonskip.params["dense"]["kernel"])).any()

    def test_mutable_collections_are_threaded(self):
        params, batch = _problem()
        tx = optax.sgd(0.1)

        def loss_with_stats(p, b, rng, mutable):
            loss, aux = loss_fn(p, b, rng)
            stats = {"count": mutable["stats"]["count"] + b["x"].shape[0]}
            return loss, (aux, {"stats": stats})

        state = _state(params, tx, mutable={"stats": {"count": jnp.zeros(())}})
        step = jax.jit(make_train_step(loss_with_stats, tx, has_mutable=True, accum_steps=2))
        for _ in range(3):
            state, _ = step(state, batch)
        assert float(state.mutable["stats"]["count"]) == 3 * 16

    def test_rng_differs_per_step(self):
        params, batch = _problem()
        tx = optax.sgd(0.0)

        def noisy_loss(p, b, rng):
            return loss_fn(p, b, rng)[0], {"u": jax.random.uniform(rng)}

        step = jax.jit(make_train_step(noisy_loss, tx))
        state = _state(params, tx)
        draws = []
        for _ in range(3):
            state, m = step(state, batch)
            draws.append(float(m["u"]))
        assert len(set(draws)) == 3

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="accum_steps"):
            make_train_step(loss_fn, optax.sgd(0.1), accum_steps=0)
        with pytest.raises(ValueError, match="ema_decay"):
            make_train_step(loss_fn, optax.sgd(0.1), ema_decay=1.5)


def test_pmap_dropout_masks_differ_across_devices():
    """Under pmap every device draws its own mask (the device index is folded into the key).

    The loss is sum(mask * w), so each device's gradient is its mask and the pmean-ed gradient
    the average mask: all in {0, 1} if every device drew the same mask, fractional otherwise.
    """
    n = jax.local_device_count()
    assert n == 8
    params = {"w": jnp.zeros((4, 6), jnp.float32)}

    def masked(p, b, rng):
        keep = jax.random.bernoulli(rng, 0.5, p["w"].shape).astype(jnp.float32)
        return jnp.sum(keep * p["w"]) + 0.0 * jnp.sum(b["x"]), {}

    backend = PmapBackend()
    init_state, step = supervised(masked, optax.sgd(1.0), init_fn=lambda rng: params)
    state = backend.init_state(lambda: init_state(jax.random.PRNGKey(0)))
    state, _ = backend.compile_step(step)(state, backend.put_batch({"x": np.ones((n, 2))}))
    mean_mask = -np.asarray(backend.to_checkpoint(state).params["w"])
    assert ((mean_mask > 0) & (mean_mask < 1)).any(), mean_mask
    assert 0.3 < mean_mask.mean() < 0.7


def test_skipping_mixed_batches_equals_a_run_on_the_finite_ones():
    """Finite steps are applied exactly as without skipping; NaN steps change nothing (params,
    Adam moments and count, EMA, mutable collections)."""
    params, _ = _problem()
    good = [_problem(seed=s)[1] for s in (1, 2, 3)]
    bad = {**good[0], "x": good[0]["x"].at[3, 1].set(jnp.nan)}
    tx = optax.adam(1e-2)

    def loss_with_count(p, b, rng, mutable):
        loss, aux = loss_fn(p, b, rng)
        return loss, (aux, {"stats": {"n": mutable["stats"]["n"] + 1}})

    def run(batches, skip):
        init_state, step = supervised(
            loss_with_count,
            tx,
            init_fn=lambda r: {"params": params, "stats": {"n": 0.0}},
            ema_decay=0.9,
            has_mutable=True,
            skip_nonfinite=skip,
        )
        state, step = init_state(jax.random.PRNGKey(0)), jax.jit(step)
        flags = []
        for b in batches:
            state, m = step(state, b)
            flags.append(int(m.get("skipped", 0)))
        return state, flags

    mixed, flags = run([good[0], bad, good[1], bad, bad, good[2]], skip=True)
    clean, _ = run(good, skip=False)
    assert flags == [0, 1, 0, 1, 1, 0]
    chex.assert_trees_all_equal(mixed.params, clean.params)
    chex.assert_trees_all_equal(mixed.opt_state, clean.opt_state)
    chex.assert_trees_all_equal(mixed.ema_params, clean.ema_params)
    chex.assert_trees_all_equal(mixed.mutable, clean.mutable)
    assert float(mixed.mutable["stats"]["n"]) == 3 and int(mixed.step) == 6
