"""Fine-tuning recipe: schedules, per-group unfreezing, frozen BatchNorm, layer-wise LR decay,
the Xception backbone.

SPEC: BAS-10, OPT-8. References: optax's Adam (a fresh one started at the unfreezing step, and
one per group at the scaled rate via `optax.partition`), plain SGD by hand, and the model's own
inference mode; Keras' Xception parameter count and PyTorch's grouped convolution.
"""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jaxdl import finetune, optim
from jaxdl.finetune import Phase
from jaxdl.models.small_resnet import SmallResNet
from jaxdl.models.xception import SeparableConv, Xception
from jaxdl.train import supervised

SIZE = 8  # tiny images keep the compiles short


def test_schedules_and_phases():
    g = ["a", "b", "c"]
    assert finetune.gradual_unfreezing(g, every=10) == [("a", 20), ("b", 10), ("c", 0)]
    assert finetune.gradual_unfreezing(g, every=5, start=3) == [("a", 13), ("b", 8), ("c", 3)]
    sched = finetune.gradual_unfreezing(g, every=10)
    assert finetune.frozen_at(sched, 0) == ("a", "b") and finetune.frozen_at(sched, 20) == ()
    assert finetune.phases(sched, 30) == [
        Phase(0, 10, ("a", "b")),
        Phase(10, 20, ("a",)),
        Phase(20, 30, ()),
    ]
    assert finetune.phases(sched, 15) == [Phase(0, 10, ("a", "b")), Phase(10, 15, ("a",))]
    frozen = finetune.frozen_backbone(g)
    assert frozen == [("a", None), ("b", None), ("c", 0)]
    assert finetune.phases(frozen, 7) == [Phase(0, 7, ("a", "b"))]
    assert finetune.layer_decay_rules(g, 0.5) == [("a", 0.25), ("b", 0.5), ("c", 1.0)]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: finetune.gradual_unfreezing(["a"], every=0), "every must be >= 1"),
        (lambda: finetune.gradual_unfreezing([], every=1), "non-empty list of regexes"),
        (lambda: finetune.gradual_unfreezing(["a", "a"], every=1), "distinct"),
        (lambda: finetune.frozen_backbone(["a"], trainable=2), r"trainable must be in \[1, 1\]"),
        (lambda: finetune.phases([("a", -1)], 5), r"start_step >= 0 or None\), got \('a', -1\)"),
        (lambda: finetune.phases([], 5), "at least one"),
        (lambda: finetune.phases([("a", 0)], 0), "total_steps must be >= 1"),
        (lambda: finetune.layer_decay_rules(["a"], 0.0), r"decay must be in \(0, 1\]"),
        (lambda: finetune.layer_decay_rules(["a"], 1.5), r"decay must be in \(0, 1\]"),
    ],
)
def test_bad_schedules_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _tree():
    return {"a": {"w": jnp.arange(3.0)}, "b": {"w": jnp.ones((2, 2))}}


def _grads(n):
    keys = jax.random.split(jax.random.key(0), n)
    return [jax.tree.map(lambda x, k=k: jax.random.normal(k, x.shape), _tree()) for k in keys]


def _updates(tx, grads, params):
    state, out = tx.init(params), []
    update = jax.jit(tx.update)
    for g in grads:
        u, state = update(g, state, params)
        out.append(u)
    return out


class UnfreezeScheduleTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_frozen_until_start_then_a_fresh_adam(self):
        params, grads = _tree(), _grads(6)
        tx = finetune.unfreeze_schedule(optax.adam(0.1), [("^a/", 3), ("^b/", 0)])
        state = tx.init(params)
        update = self.variant(tx.update)
        got = []
        for g in grads:
            u, state = update(g, state, params)
            got.append(u)
        ref_a = _updates(optax.adam(0.1), [g["a"] for g in grads[3:]], params["a"])
        ref_b = _updates(optax.adam(0.1), [g["b"] for g in grads], params["b"])
        for t in range(6):
            want_a = ref_a[t - 3] if t >= 3 else jax.tree.map(jnp.zeros_like, params["a"])
            chex.assert_trees_all_close(got[t]["a"], want_a, atol=1e-7)
            chex.assert_trees_all_close(got[t]["b"], ref_b[t], atol=1e-7)

    def test_never_unfrozen_group_has_no_state_and_zero_updates(self):
        params = _tree()
        tx = finetune.unfreeze_schedule(optax.adam(0.1), finetune.frozen_backbone(["^a/", "^b/"]))
        (u,) = _updates(tx, _grads(1), params)
        assert not np.any(np.asarray(u["a"]["w"])) and np.all(np.asarray(u["b"]["w"]) != 0)
        sizes = sum(x.size for x in jax.tree.leaves(tx.init(params)))
        assert sizes == 2 * 4 + 1  # Adam's mu, nu for b/w and one count


def test_rules_matching_no_parameter_raise_naming_the_pattern():
    params = _tree()
    with pytest.raises(ValueError, match=r"rule '\^nope/' matches no parameter.*a/w"):
        finetune.unfreeze_schedule(optax.adam(0.1), [("^a/", 0), ("^nope/", 2)]).init(params)
    with pytest.raises(ValueError, match=r"'b/w' matches no rule"):
        finetune.unfreeze_schedule(optax.adam(0.1), [("^a/", 0)]).init(params)
    with pytest.raises(ValueError, match=r"rule '\^nope/' matches no parameter"):
        rules = finetune.layer_decay_rules(["^nope/", "^a/", "^b/"], 0.5)
        optim.lr_multipliers(optax.sgd(0.1), rules).init(params)
    with pytest.raises(ValueError, match=r"rule 'stem' matches no parameter"):
        finetune.stop_frozen_gradients(params, ("stem",))
    model = SmallResNet(stage_sizes=(1,), width=2)
    with pytest.raises(ValueError, match=r"frozen pattern 'stage9' matches no block"):
        model.init(jax.random.key(0), jnp.zeros((1, SIZE, SIZE, 1)), frozen=("stage9",))


def test_stop_frozen_gradients():
    params = _tree()

    def loss(p):
        return jnp.sum(p["a"]["w"] ** 2) + jnp.sum(jnp.sin(p["b"]["w"]))

    full = jax.grad(loss)(params)
    cut = jax.grad(lambda p: loss(finetune.stop_frozen_gradients(p, ("^a/",))))(params)
    assert not np.any(np.asarray(cut["a"]["w"]))
    chex.assert_trees_all_close(cut["b"], full["b"])
    assert np.any(np.asarray(full["a"]["w"]))


@pytest.fixture(scope="module")
def tiny():
    model = SmallResNet(stage_sizes=(1,), width=2)
    variables = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, SIZE, SIZE, 1)))
    return model, variables


def test_small_resnet_shapes_groups_and_count(tiny):
    model, variables = tiny
    paths = jax.tree.leaves(optim.tree_paths(variables["params"]))
    for p in paths:  # every parameter is in exactly one group
        assert sum(bool(re.search(g, p)) for g in model.groups()) == 1, p
    w = 2  # stem conv + BN; stage1: two 3x3 convs + BNs; head
    count = (9 * w + 2 * w) + 2 * (9 * w * w + 2 * w) + (w * 10 + 10)
    assert sum(x.size for x in jax.tree.leaves(variables["params"])) == count
    out = model.apply(variables, jnp.zeros((3, 28, 28, 1)))
    chex.assert_shape(out, (3, 10))
    chex.assert_type(out, jnp.float32)


def test_frozen_blocks_run_batchnorm_in_inference_mode(tiny):
    model, variables = tiny
    x = jax.random.normal(jax.random.key(1), (4, SIZE, SIZE, 1))
    backbone = tuple(model.groups()[:-1])
    frozen_out, new = model.apply(
        variables, x, train=True, frozen=backbone, mutable=["batch_stats"]
    )
    chex.assert_trees_all_close(frozen_out, model.apply(variables, x, train=False))
    chex.assert_trees_all_equal(new["batch_stats"], variables["batch_stats"])
    train_out, new = model.apply(variables, x, train=True, mutable=["batch_stats"])
    assert not np.allclose(train_out, frozen_out, atol=1e-3)
    assert not np.allclose(new["batch_stats"]["stem_bn"]["mean"], 0.0)


def test_gradual_unfreezing_keeps_frozen_params_and_bn_stats_then_trains_them(tiny):
    """Through `supervised` (the experiment's step): a group's parameters and BatchNorm
    statistics are bitwise unchanged before its start step and change from it on."""
    model, variables = tiny
    groups = model.groups()  # stem, stage1, head
    schedule = finetune.gradual_unfreezing(groups, every=1)  # head 0, stage1 1, stem 2
    tx = finetune.unfreeze_schedule(optim.adam(1e-2), schedule)
    batch = {
        "image": jax.random.normal(jax.random.key(2), (8, SIZE, SIZE, 1)),
        "label": jnp.arange(8) % 10,
    }

    def loss_fn(frozen):
        def f(params, batch, rng, mutable):
            params = finetune.stop_frozen_gradients(params, frozen)
            logits, new = model.apply(
                {"params": params, **mutable}, batch["image"], True, frozen, mutable=["batch_stats"]
            )
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
            return loss, ({}, new)

        return f

    state, snapshots = None, []
    for phase in finetune.phases(schedule, 3):
        init_state, step = supervised(
            loss_fn(phase.frozen), tx, init_fn=lambda _: variables, has_mutable=True
        )
        state = state or init_state(jax.random.key(0))
        snapshots.append(state)
        state, _ = jax.jit(step)(state, batch)
    snapshots.append(state)

    def group(tree, g):
        return {k: v for k, v in tree.items() if re.search(g, k + "/")}

    for g in groups:
        start = dict(schedule)[g]
        for t in range(3):
            before, after = snapshots[t], snapshots[t + 1]
            for part in (lambda s: s.params, lambda s: s.mutable["batch_stats"]):
                a, b = group(part(before), g), group(part(after), g)
                if not a:  # the head has no BatchNorm
                    continue
                if t < start:
                    chex.assert_trees_all_equal(a, b)
                else:
                    changed = jax.tree.map(lambda x, y: bool(np.any(x != y)), a, b)
                    assert all(jax.tree.leaves(changed)), (g, t, changed)


def _labels(params, groups):
    return optim.match_rules(params, [(g, i) for i, g in enumerate(groups)])


def test_layer_decay_gives_each_block_its_rate(tiny):
    model, variables = tiny
    params, groups = variables["params"], model.groups()
    rules = finetune.layer_decay_rules(groups, 0.5)
    mult = dict(rules)
    grads = jax.tree.map(lambda x: jnp.cos(x + 1.0), params)
    labels = _labels(params, groups)

    # SGD: the update of each parameter is -lr * multiplier * gradient, by hand.
    (u,) = _updates(optim.lr_multipliers(optim.sgd(0.1), rules), [grads], params)
    want = jax.tree.map(lambda g, i: -0.1 * mult[groups[i]] * g, grads, labels)
    chex.assert_trees_all_close(u, want, rtol=1e-6)
    assert mult[groups[0]] == 0.25 and mult[groups[1]] == 0.5 and mult[groups[-1]] == 1.0

    # Adam over 3 steps: equal to one optax.adam per group at the scaled rate.
    gs = [jax.tree.map(lambda g, k=k: g * (1 + k), grads) for k in range(3)]
    got = _updates(optim.lr_multipliers(optim.adam(1e-2), rules), gs, params)
    ref_tx = optax.partition({i: optax.adam(1e-2 * mult[g]) for i, g in enumerate(groups)}, labels)
    for a, b in zip(got, _updates(ref_tx, gs, params), strict=True):
        chex.assert_trees_all_close(a, b, rtol=1e-5, atol=1e-9)


def test_xception_parameter_count_and_shapes():
    """Keras' Xception at 299x299, 1000 classes: 22,855,952 trainable + 54,528 BN statistics."""
    model = Xception()
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 299, 299, 3))))

    def count(tree):
        return sum(x.size for x in jax.tree.leaves(tree))

    assert count(variables["params"]) == 22_855_952
    assert count(variables["batch_stats"]) == 54_528
    out, inter = jax.eval_shape(
        lambda v: model.apply(
            v, jnp.zeros((2, 299, 299, 3)), capture_intermediates=True, mutable=["intermediates"]
        ),
        variables,
    )
    chex.assert_shape(out, (2, 1000))
    chex.assert_shape(inter["intermediates"]["exit_2_bn2"]["__call__"][0], (2, 10, 10, 2048))
    for p in jax.tree.leaves(optim.tree_paths(variables["params"])):
        assert sum(bool(re.search(g, p)) for g in model.groups()) == 1, p
    with pytest.raises(ValueError, match="frozen pattern 'stage1' matches no block"):
        jax.eval_shape(
            lambda v: model.apply(v, jnp.zeros((1, 71, 71, 3)), frozen=("stage1",)), variables
        )


def test_separable_conv_matches_torch():
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype(np.float32)
    conv = SeparableConv(4)
    v = conv.init(jax.random.key(0), jnp.asarray(x))["params"]
    dw = torch.tensor(np.asarray(v["Conv_0"]["kernel"])).permute(3, 2, 0, 1)  # (3, 1, 3, 3)
    pw = torch.tensor(np.asarray(v["Conv_1"]["kernel"])).permute(3, 2, 0, 1)  # (4, 3, 1, 1)
    t = torch.nn.functional.conv2d(torch.tensor(x).permute(0, 3, 1, 2), dw, padding=1, groups=3)
    want = torch.nn.functional.conv2d(t, pw).permute(0, 2, 3, 1).numpy()
    chex.assert_trees_all_close(conv.apply({"params": v}, jnp.asarray(x)), want, atol=1e-5)
