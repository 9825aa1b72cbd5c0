"""A task's step must keep its state's form: clear errors before any step runs."""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxdl.train import Task, check_step, fit, supervised


def loss_fn(params, batch, rng):
    return jnp.mean((batch["x"] @ params["w"]) ** 2), {}


INIT, STEP = supervised(loss_fn, optax.sgd(0.1), init_fn=lambda rng: {"w": jnp.ones((3, 2))})
BATCH = {"x": np.ones((8, 3), np.float32)}


def test_a_correct_step_passes():
    check_step(STEP, INIT(jax.random.PRNGKey(0)), BATCH)


def test_dtype_change_is_named():
    def to_bf16(state, batch):
        state, metrics = STEP(state, batch)
        return state.replace(params={"w": state.params["w"].astype(jnp.bfloat16)}), metrics

    with pytest.raises(ValueError, match=r"params/w: float32\[3, 2\] -> bfloat16\[3, 2\]"):
        check_step(to_bf16, INIT(jax.random.PRNGKey(0)), BATCH)


def test_structure_change_is_named():
    def extra(state, batch):
        state, metrics = STEP(state, batch)
        return state.replace(params={**state.params, "b": jnp.zeros(2)}), metrics

    with pytest.raises(ValueError, match=r"structure differs.*added \['params/b'\]"):
        check_step(extra, INIT(jax.random.PRNGKey(0)), BATCH)


def test_bad_metrics_and_missing_step_field():
    with pytest.raises(ValueError, match="metrics must be scalars; v: shape"):
        check_step(
            lambda s, b: (STEP(s, b)[0], {"v": jnp.zeros(3)}), INIT(jax.random.PRNGKey(0)), BATCH
        )
    with pytest.raises(ValueError, match="needs a `step` field"):
        check_step(lambda s, b: (s, {}), {"w": jnp.zeros(2)}, BATCH)


def test_fit_refuses_before_the_first_step(tmp_path):
    def shape_change(state, batch):
        state, metrics = STEP(state, batch)
        return state.replace(params={"w": state.params["w"][:2]}), metrics

    config = ml_collections.ConfigDict(dict(seed=0, train=dict(total_steps=3, batch_size=8)))
    wd = str(tmp_path / "run")
    with pytest.raises(ValueError, match=r"params/w: float32\[3, 2\] -> float32\[2, 2\]"):
        fit(Task(INIT, shape_change, iter([BATCH] * 3)), config, wd)
    assert not os.path.exists(os.path.join(wd, "metrics.jsonl"))
