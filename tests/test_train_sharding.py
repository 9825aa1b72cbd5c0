"""Sharded steps on 8 simulated CPU devices equal the single-device step; pmap equals jit."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

from jaxdl.train import JitBackend, PmapBackend, make_mesh, supervised
from jaxdl.train.sharding import tree_shardings


def init_fn(rng):
    k1, k2 = jax.random.split(rng)
    return {
        "hidden": {"kernel": jax.random.normal(k1, (6, 16)) * 0.3, "bias": jnp.zeros((16,))},
        "out": {"kernel": jax.random.normal(k2, (16, 3)) * 0.3, "bias": jnp.zeros((3,))},
    }


def loss_fn(params, batch, rng):
    h = jnp.tanh(batch["x"] @ params["hidden"]["kernel"] + params["hidden"]["bias"])
    pred = h @ params["out"]["kernel"] + params["out"]["bias"]
    return jnp.mean((pred - batch["y"]) ** 2), {}


def batches(n, size=32):
    rs = np.random.RandomState(1)
    return [
        {"x": rs.randn(size, 6).astype(np.float32), "y": rs.randn(size, 3).astype(np.float32)}
        for _ in range(n)
    ]


TX = optax.adam(1e-2)


def _init_state_fn():
    return supervised(loss_fn, TX, init_fn=init_fn)[0](jax.random.PRNGKey(0))


def make_train_step(loss, tx, **kwargs):
    return supervised(loss, tx, init_fn=init_fn, **kwargs)[1]


def run_single(data):
    state = _init_state_fn()
    step = jax.jit(make_train_step(loss_fn, TX))
    for b in data:
        state, _ = step(state, jax.tree.map(jnp.asarray, b))
    return state


def run_backend(backend, data, step_kwargs=None):
    state = backend.init_state(_init_state_fn)
    step = backend.compile_step(make_train_step(loss_fn, TX, **(step_kwargs or {})))
    for b in data:
        state, metrics = step(state, backend.put_batch(b))
    return backend.to_checkpoint(state), backend.metrics_to_host(metrics)


def test_eight_devices_available():
    assert jax.device_count() == 8


def test_data_parallel_equals_single_device():
    data = batches(4)
    ref = run_single(data)
    backend = JitBackend()
    state, _ = run_backend(backend, data)
    leaf = state.params["hidden"]["kernel"]
    assert len(leaf.sharding.device_set) == 8 and leaf.sharding.is_fully_replicated
    chex.assert_trees_all_close(state.params, ref.params, atol=1e-5)
    chex.assert_trees_all_close(state.opt_state, ref.opt_state, atol=1e-5)


def test_fsdp_rules_shard_params_and_match():
    data = batches(4)
    ref = run_single(data)
    backend = JitBackend(rules=[("hidden/kernel", (None, "data")), ("out/kernel", "fsdp")])
    state, _ = run_backend(backend, data)
    assert state.params["hidden"]["kernel"].sharding.spec == P(None, "data")
    assert state.params["out"]["kernel"].sharding.spec == P("data", None)
    # Adam moments follow the same rule (paths end in the parameter path).
    mu = state.opt_state[0].mu["hidden"]["kernel"]
    assert mu.sharding.spec == P(None, "data")
    assert state.params["hidden"]["bias"].sharding.is_fully_replicated
    chex.assert_trees_all_close(state.params, ref.params, atol=1e-5)


def test_sharded_accumulation_equals_single_device():
    data = batches(3)
    ref = run_single(data)
    state, _ = run_backend(JitBackend(), data, {"accum_steps": 2})
    chex.assert_trees_all_close(state.params, ref.params, atol=1e-5)


def test_pmap_equals_jit():
    data = batches(4)
    s_jit, m_jit = run_backend(JitBackend(), data)
    s_pmap, m_pmap = run_backend(PmapBackend(), data)
    chex.assert_trees_all_close(s_pmap.params, s_jit.params, atol=1e-5)
    chex.assert_trees_all_close(m_pmap["loss"], m_jit["loss"], rtol=1e-5)


def test_rule_errors():
    abstract = jax.eval_shape(_init_state_fn)
    mesh = make_mesh()
    with pytest.raises(ValueError, match="match no array"):
        tree_shardings(abstract, mesh, [("nonexistent", "fsdp")])
    with pytest.raises(ValueError, match="not divisible"):
        tree_shardings(abstract, mesh, [("out/kernel", (None, "data"))])
    with pytest.raises(ValueError, match="2 dims"):
        tree_shardings(abstract, mesh, [("out/bias", (None, "data"))])


def test_put_batch_rejects_indivisible():
    with pytest.raises(ValueError):
        JitBackend().put_batch({"x": np.zeros((12, 2), np.float32)})
    with pytest.raises(ValueError, match="not divisible by the 8 local devices"):
        PmapBackend().put_batch({"x": np.zeros((12, 2), np.float32)})
