"""Hand-written optimizers vs optax (100 steps, mixed f32/bf16 pytrees) and vs torch.optim.

SPEC: OPT-1..OPT-5, OPT-7. Where optax's defaults differ from torch's, both sides are given the
same settings (see each case) and the jaxdl defaults are checked against torch.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from absl.testing import parameterized

import jaxdl.optim as jo

STEPS = 100


def make_params():
    rng = np.random.default_rng(0)
    return {
        "conv": {
            "kernel": jnp.asarray(rng.normal(size=(3, 3, 4, 8)), jnp.float32),
            "bias": jnp.asarray(rng.normal(size=(8,)), jnp.float32),
        },
        "dense": {
            "kernel": jnp.asarray(rng.normal(size=(16, 5)), jnp.bfloat16),
            "bias": jnp.asarray(rng.normal(size=(5,)), jnp.bfloat16),
        },
        "layers": [jnp.asarray(rng.normal(size=(7,)), jnp.float32)],
    }


def make_grads(params, steps, seed=1):
    """A list of `steps` gradient pytrees (same shapes/dtypes as params), some with big scale."""
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree.flatten(params)
    out = []
    for t in range(steps):
        scale = 10.0 if t % 7 == 0 else 1.0
        out.append(
            jax.tree.unflatten(
                treedef, [jnp.asarray(scale * rng.normal(size=x.shape), x.dtype) for x in leaves]
            )
        )
    return out


def schedule(step):
    return jo.warmup_cosine(0.05, 10, STEPS)(step)


CASES = [
    ("sgd", jo.sgd(0.05), optax.sgd(0.05)),
    ("sgd_schedule", jo.sgd(schedule), optax.sgd(schedule)),
    ("momentum", jo.momentum(0.05, 0.9), optax.sgd(0.05, momentum=0.9)),
    (
        "nesterov_schedule",
        jo.momentum(schedule, 0.8, nesterov=True),
        optax.sgd(schedule, momentum=0.8, nesterov=True),
    ),
    # optax adagrad puts eps inside the root and starts at G0 = 0.1; with eps = 0 the forms agree.
    (
        "adagrad",
        jo.adagrad(0.05, eps=0.0, initial_accumulator_value=0.1),
        optax.adagrad(0.05, initial_accumulator_value=0.1, eps=0.0),
    ),
    # optax rmsprop defaults: decay 0.9, eps inside the root; torch: 0.99, eps outside.
    (
        "rmsprop",
        jo.rmsprop(0.01, decay=0.9, eps=1e-8),
        optax.rmsprop(0.01, decay=0.9, eps=1e-8, eps_in_sqrt=False),
    ),
    ("rmsprop_eps_in_sqrt", jo.rmsprop(0.01, decay=0.9, eps_in_sqrt=True), optax.rmsprop(0.01)),
    ("adam", jo.adam(1e-2), optax.adam(1e-2)),
    ("adam_schedule", jo.adam(schedule, b1=0.8, b2=0.99), optax.adam(schedule, b1=0.8, b2=0.99)),
    # optax adamw defaults to weight_decay 1e-4; torch (and jaxdl) to 1e-2.
    ("adamw", jo.adamw(1e-2), optax.adamw(1e-2, weight_decay=1e-2)),
]


def _run(tx, params, grads, wrap=jax.jit):
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    step, state = wrap(step), tx.init(params)
    for g in grads:
        params, state = step(params, state, g)
    return params


def _assert_close(ours, theirs):
    """f32 leaves to 1e-5; bf16 leaves (`dense`) to about two bf16 ulps at magnitude 1."""
    f32 = lambda tree: {k: v for k, v in tree.items() if k != "dense"}  # noqa: E731
    chex.assert_trees_all_close(f32(ours), f32(theirs), rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(ours["dense"], theirs["dense"], rtol=1.6e-2, atol=1.6e-2)


class OptaxParityTest(chex.TestCase):
    @parameterized.named_parameters(*CASES)
    def test_matches_optax_over_100_steps(self, ours, theirs):
        params = make_params()
        grads = make_grads(params, STEPS)
        result = _run(ours, params, grads)
        chex.assert_trees_all_equal_dtypes(result, params)
        _assert_close(result, _run(theirs, params, grads))
        # The parameters really moved, so the comparison is not vacuous.
        moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), result, params)
        self.assertGreater(min(jax.tree.leaves(moved)), 1e-3)


def _np_reference(name, hp, params, grads):
    """float64 NumPy transcription of the update equations in the module docstrings."""
    p = [np.asarray(x, np.float64) for x in params]
    s1 = [np.full_like(x, hp.get("g0", 0.0)) for x in p]
    s2 = [np.zeros_like(x) for x in p]
    lr, b1, b2, eps = hp.get("lr"), hp.get("b1"), hp.get("b2"), hp.get("eps")
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g):
            gi = np.asarray(gi, np.float64)
            if name == "sgd":
                p[i] -= lr * gi
            elif name == "torch":
                s1[i] = b1 * s1[i] + gi
                p[i] -= lr * s1[i]
            elif name == "velocity":
                s1[i] = b1 * s1[i] - lr * gi
                p[i] += s1[i]
            elif name == "ema":
                s1[i] = b1 * s1[i] + (1 - b1) * gi
                p[i] -= lr * s1[i]
            elif name == "adagrad":
                s1[i] += gi**2
                p[i] -= lr * gi / (np.sqrt(s1[i]) + eps)
            elif name.startswith("rmsprop"):
                s1[i] = b2 * s1[i] + (1 - b2) * gi**2
                denom = np.sqrt(s1[i] + eps) if name == "rmsprop_in" else np.sqrt(s1[i]) + eps
                p[i] -= lr * gi / denom
            elif name.startswith("adam"):
                s1[i] = b1 * s1[i] + (1 - b1) * gi
                s2[i] = b2 * s2[i] + (1 - b2) * gi**2
                c1, c2 = (1 - b1**t, 1 - b2**t) if name != "adam_nobc" else (1.0, 1.0)
                decay = hp.get("wd", 0.0) * p[i]
                p[i] -= lr * ((s1[i] / c1) / (np.sqrt(s2[i] / c2) + eps) + decay)
    return p


NUMPY_CASES = [
    ("sgd", "sgd", jo.sgd(0.1), dict(lr=0.1)),
    ("torch", "torch", jo.momentum(0.1, 0.9), dict(lr=0.1, b1=0.9)),
    ("velocity", "velocity", jo.momentum(0.1, 0.9, form="velocity"), dict(lr=0.1, b1=0.9)),
    ("ema", "ema", jo.momentum(0.1, 0.8, form="ema"), dict(lr=0.1, b1=0.8)),
    (
        "adagrad",
        "adagrad",
        jo.adagrad(0.1, eps=1e-3, initial_accumulator_value=0.5),
        dict(lr=0.1, g0=0.5, eps=1e-3),
    ),
    ("rmsprop", "rmsprop", jo.rmsprop(0.1, eps=1e-3), dict(lr=0.1, b2=0.99, eps=1e-3)),
    (
        "rmsprop_in",
        "rmsprop_in",
        jo.rmsprop(0.1, 0.9, 1e-3, eps_in_sqrt=True),
        dict(lr=0.1, b2=0.9, eps=1e-3),
    ),
    ("adam", "adam", jo.adam(0.1, eps=1e-3), dict(lr=0.1, b1=0.9, b2=0.999, eps=1e-3)),
    (
        "adam_nobc",
        "adam_nobc",
        jo.adam(0.1, 0.8, 0.9, 1e-3, bias_correction=False),
        dict(lr=0.1, b1=0.8, b2=0.9, eps=1e-3),
    ),
    (
        "adamw",
        "adamw",
        jo.adamw(0.1, eps=1e-3, weight_decay=0.3),
        dict(lr=0.1, b1=0.9, b2=0.999, eps=1e-3, wd=0.3),
    ),
]


class NumpyReferenceTest(chex.TestCase):
    """Each optimizer (all forms) against a float64 NumPy reference, with and without jit."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(*NUMPY_CASES)
    def test_matches_numpy_reference(self, kind, tx, hp):
        rng = np.random.default_rng(4)
        params = [jnp.asarray(rng.normal(size=s), jnp.float32) for s in [(3, 4), (5,)]]
        grads = [[jnp.asarray(rng.normal(size=x.shape), jnp.float32) for x in params]]
        grads = grads * 2 + [[2.0 * g for g in grads[0]]] * 3  # 5 steps, repeated directions
        ours = _run(tx, params, grads, self.variant)
        ref = _np_reference(kind, hp, params, grads)
        chex.assert_trees_all_close(ours, ref, rtol=1e-5, atol=1e-5)


def _torch_run(opt_fn, params, grads):
    leaves = [torch.tensor(np.asarray(x, np.float32), requires_grad=True) for x in params]
    opt = opt_fn(leaves)
    for g in grads:
        for p, gi in zip(leaves, g, strict=True):
            p.grad = torch.tensor(np.asarray(gi, np.float32))
        opt.step()
    return [p.detach().numpy() for p in leaves]


def _jax_run(tx, params, grads):
    state = tx.init(params)

    @jax.jit
    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    for g in grads:
        params, state = step(params, state, g)
    return [np.asarray(x) for x in params]


TORCH_CASES = [
    ("sgd", jo.sgd(0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    ("momentum", jo.momentum(0.05), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    (
        "nesterov",
        jo.momentum(0.05, 0.7, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.7, nesterov=True),
    ),
    ("adagrad", jo.adagrad(0.05), lambda p: torch.optim.Adagrad(p, lr=0.05)),
    (
        "adagrad_init",
        jo.adagrad(0.05, eps=1e-6, initial_accumulator_value=0.3),
        lambda p: torch.optim.Adagrad(p, lr=0.05, eps=1e-6, initial_accumulator_value=0.3),
    ),
    ("rmsprop", jo.rmsprop(0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("adam", jo.adam(1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    ("adamw", jo.adamw(1e-2), lambda p: torch.optim.AdamW(p, lr=1e-2)),
    (
        "adam_then_decoupled_decay",
        optax.chain(jo.adam(1e-2), jo.decoupled_weight_decay(0.1, 1e-2, mask=None)),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    ),
    (
        "adam_l2",
        optax.chain(jo.add_l2(0.1, mask=None), jo.adam(1e-2)),
        lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1),
    ),
]


class TorchParityTest(parameterized.TestCase):
    """jaxdl defaults against torch.optim defaults (float32, 30 steps)."""

    @parameterized.named_parameters(*TORCH_CASES)
    def test_matches_torch(self, tx, torch_opt):
        rng = np.random.default_rng(3)
        params = [jnp.asarray(rng.normal(size=s), jnp.float32) for s in [(4, 6), (6,), (2, 3, 5)]]
        grads = [
            [jnp.asarray(rng.normal(size=x.shape), jnp.float32) for x in params] for _ in range(30)
        ]
        ours = _jax_run(tx, params, grads)
        ref = _torch_run(torch_opt, params, grads)
        chex.assert_trees_all_close(ours, ref, rtol=1e-5, atol=1e-5)
        self.assertGreater(np.max(np.abs(ours[0] - np.asarray(params[0]))), 1e-2)
