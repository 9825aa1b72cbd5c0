"""jaxdl optimizers inside the engine's sharded train step on 8 simulated CPU devices.

The sharded step (batch over `data`, params replicated or FSDP-sharded by rule) must equal the
same step on one device. SPEC: OPT-1..OPT-9 (drop-in for the same train step).
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl.testing import parameterized

import jaxdl.optim as jo
from jaxdl.train import JitBackend, supervised


def init_params():
    rng = np.random.default_rng(0)
    return {
        "Dense_0": {"kernel": rng.normal(size=(4, 8)) / 2, "bias": np.zeros(8)},
        "Dense_1": {"kernel": rng.normal(size=(8, 2)) / 3, "bias": np.zeros(2)},
    }


def loss_fn(params, batch, rng):
    del rng
    h = jnp.tanh(batch["x"] @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
    pred = h @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]
    return jnp.mean((pred - batch["y"]) ** 2), {}


def batches(n=3):
    rng = np.random.default_rng(1)
    return [
        {
            "x": rng.normal(size=(16, 4)).astype(np.float32),
            "y": rng.normal(size=(16, 2)).astype(np.float32),
        }
        for _ in range(n)
    ]


CASES = [
    ("momentum_nesterov", lambda: jo.momentum(0.1, 0.9, nesterov=True), ()),
    ("adam_schedule_fsdp", lambda: jo.adam(jo.warmup_cosine(1e-2, 2, 10)), [("kernel", "fsdp")]),
    (
        "adamw_clipped",
        lambda: optax.chain(jo.clip_by_global_norm(0.5), jo.adamw(1e-2, weight_decay=0.1)),
        (),
    ),
    ("rmsprop_frozen_layer", lambda: jo.lr_multipliers(jo.rmsprop(1e-2), [("^Dense_0/", 0.0)]), ()),
    ("adagrad", lambda: jo.adagrad(0.1), [("kernel", "fsdp")]),
]


class ShardedStepTest(parameterized.TestCase):
    @parameterized.named_parameters(*CASES)
    def test_sharded_step_equals_single_device(self, make_tx, rules):
        assert jax.device_count() == 8
        params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), init_params())
        tx = make_tx()
        init_state, step = supervised(loss_fn, tx, init_fn=lambda rng: params)

        def init():
            return init_state(jax.random.key_data(jax.random.key(0)))

        backend = JitBackend(rules)
        sharded_state = backend.init_state(init)
        sharded_step = backend.compile_step(step)
        single_state, single_step = init(), jax.jit(step)
        for batch in batches():
            sharded_state, _ = sharded_step(sharded_state, backend.put_batch(batch))
            single_state, _ = single_step(single_state, batch)
        kernel = sharded_state.params["Dense_1"]["kernel"]
        if rules:  # the FSDP rule really shards the parameter over the 8 devices
            self.assertEqual(kernel.addressable_shards[0].data.shape, (1, 2))
        else:
            self.assertTrue(kernel.sharding.is_fully_replicated)
        chex.assert_trees_all_close(
            jax.device_get(sharded_state.params), single_state.params, rtol=1e-5, atol=1e-5
        )
        chex.assert_trees_all_close(
            jax.device_get(sharded_state.opt_state), single_state.opt_state, rtol=1e-5, atol=1e-5
        )
        moved = np.abs(
            np.asarray(single_state.params["Dense_1"]["kernel"])
            - init_params()["Dense_1"]["kernel"]
        )
        self.assertGreater(moved.max(), 1e-3)
