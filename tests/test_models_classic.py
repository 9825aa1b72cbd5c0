"""Classic models of SPEC BAS-7 (MLP, VGG16, ResNet, Inception) and BAS-3 parameter counts."""

import chex
import flax.linen as nn
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings

from jaxdl.models.classic import (
    VGG16,
    BasicBlock,
    Bottleneck,
    InceptionBlock,
    ResNet,
    ResNet18,
    ResNet50,
)
from jaxdl.models.mlp import MLP


def shapes(module: nn.Module, *args, **kw):
    return jax.eval_shape(lambda: module.init(jax.random.key(0), *args, **kw))


def np_init(module: nn.Module, *args, seed: int = 0, **kw):
    """Variables with the shapes of `module.init`, filled by NumPy (skips slow RNG compiles)."""
    rng = np.random.default_rng(seed)

    def fill(path, a):
        if path[-1].key == "var":
            return np.ones(a.shape, np.float32)
        if path[-1].key == "mean":
            return np.zeros(a.shape, np.float32)
        return (rng.normal(size=a.shape) * 0.3).astype(np.float32)

    return jax.tree_util.tree_map_with_path(fill, shapes(module, *args, **kw))


def n_params(variables, only: str | None = None) -> int:
    leaves = jax.tree_util.tree_leaves_with_path(variables["params"])
    return sum(
        int(np.prod(x.shape)) for p, x in leaves if only is None or p[-1].key == only
    )  # fmt: skip


# ----------------------------------------------------------------------------- MLP


def test_mlp_layers_and_forward():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)), jnp.float32)
    m = MLP((10, 1))
    v = np_init(m, x)
    assert sorted(v["params"]) == ["l0", "l1"]
    p = v["params"]
    h = jax.nn.sigmoid(x @ p["l0"]["kernel"] + p["l0"]["bias"])  # activation between layers
    np.testing.assert_allclose(m.apply(v, x), h @ p["l1"]["kernel"] + p["l1"]["bias"], atol=1e-6)
    v5 = shapes(MLP((10, 20, 30, 40, 1)), x)
    assert len(v5["params"]) == 5
    v2 = {"params": {"l0": p["l0"], "l1": {"kernel": jnp.ones((10, 2)), "bias": jnp.zeros(2)}}}
    y = MLP((10, 2), activation=nn.relu).apply(v2, x)
    np.testing.assert_allclose(y[:, 0], nn.relu(x @ p["l0"]["kernel"] + p["l0"]["bias"]).sum(1),
                               rtol=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="at least one"):
        shapes(MLP(()), x)


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(1, 16), min_size=1, max_size=5), d_in=st.integers(1, 8))
def test_mlp_shapes_and_counts(sizes, d_in):
    m = MLP(tuple(sizes), activation=nn.relu)
    v = shapes(m, jnp.zeros((2, d_in)))
    widths = [d_in, *sizes]
    assert n_params(v) == sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    chex.assert_shape(jax.eval_shape(m.apply, v, jnp.zeros((2, d_in))), (2, sizes[-1]))


# ----------------------------------------------------------------------------- counts


def test_torchvision_parameter_counts():
    img = jnp.zeros((1, 224, 224, 3))
    assert n_params(shapes(VGG16(), img)) == 138_357_544
    assert n_params(shapes(ResNet18(), img)) == 11_689_512
    assert n_params(shapes(ResNet50(), img)) == 25_557_032


def test_bas3_one_by_one_counts():
    x = jnp.zeros((1, 28, 28, 192))
    naive = shapes(InceptionBlock(64, 0, 128, 0, 32, 0, use_bias=False), x)
    assert n_params(naive) == 387_072  # BAS-3 naive Inception count
    reduced = shapes(InceptionBlock(64, 96, 128, 16, 32, 0, use_bias=False), x)
    assert n_params(reduced) == 157_184  # BAS-3 Inception count with 1×1 reductions
    g3a = InceptionBlock(64, 96, 128, 16, 32, 32, use_bias=False)
    assert n_params(shapes(g3a, x)) == 157_184 + 192 * 32  # + pool projection
    y = jax.eval_shape(g3a.apply, shapes(g3a, x), x)
    chex.assert_shape(y, (1, 28, 28, 256))  # GoogLeNet 3a output
    r = jnp.zeros((1, 8, 8, 256))
    assert n_params(shapes(Bottleneck(256), r), "kernel") == 69_632  # 256 -> 64 -> 64 -> 256
    assert n_params(shapes(BasicBlock(256), r), "kernel") == 1_179_648  # two 3x3 convs


@settings(max_examples=8, deadline=None)
@given(
    c=st.tuples(*[st.integers(0, 6)] * 6).filter(lambda c: c[0] * c[2] * c[4] > 0),
    cin=st.integers(1, 5),
)
def test_inception_output_channels(c, cin):
    m = InceptionBlock(*c)
    x = jnp.zeros((1, 5, 5, cin))
    y = jax.eval_shape(m.apply, shapes(m, x), x)
    chex.assert_shape(y, (1, 5, 5, c[0] + c[2] + c[4] + (c[5] or cin)))


# ----------------------------------------------------------------------------- forward


def test_bottleneck_matches_torch_block():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 7, 8)).astype(np.float32)  # odd size: stride-2 padding matters
    m = Bottleneck(16, mid=4, strides=2)
    v = shapes(m, x)
    v = jax.tree.map(lambda a: rng.normal(size=a.shape).astype(np.float32) * 0.5 + 0.5, v)
    p = v["params"]

    def conv(name, k, s):
        w = p[name]["kernel"]
        c = torch.nn.Conv2d(w.shape[2], w.shape[3], k, s, k // 2, bias=False)
        c.weight.data = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
        return c

    def bn(name):
        b = torch.nn.BatchNorm2d(p[name]["scale"].shape[0])
        b.weight.data, b.bias.data = (
            torch.from_numpy(p[name]["scale"]),
            torch.from_numpy(p[name]["bias"]),
        )
        return b

    main = torch.nn.Sequential(
        conv("Conv_0", 1, 1), bn("BatchNorm_0"), torch.nn.ReLU(),
        conv("Conv_1", 3, 2), bn("BatchNorm_1"), torch.nn.ReLU(),
        conv("Conv_2", 1, 1), bn("BatchNorm_2"),
    )  # fmt: skip
    short = torch.nn.Sequential(conv("shortcut", 1, 2), bn("shortcut_bn"))
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    y_t = torch.relu(main(xt) + short(xt)).permute(0, 2, 3, 1).detach().numpy()
    stats = jax.tree.map(jnp.zeros_like, v["batch_stats"])
    stats = {k: {"mean": s["mean"], "var": s["var"] + 1} for k, s in stats.items()}
    apply = jax.jit(lambda p, s, x: m.apply(
        {"params": p, "batch_stats": s}, x, train=True, mutable=["batch_stats"]
    ))  # fmt: skip
    y, upd = apply(p, stats, x)
    chex.assert_shape(y, (2, 4, 4, 16))
    # Measured 1.4e-6 on outputs up to 6.2 (docs/nn_norm_attention_models.md), and 1.6e-7
    # relative for the running variance.
    np.testing.assert_allclose(y, y_t, rtol=0, atol=3e-6)
    np.testing.assert_allclose(upd["batch_stats"]["BatchNorm_1"]["var"], main[4].running_var,
                               rtol=5e-7)  # fmt: skip


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_small_resnet_train_and_eval(block):
    m = ResNet(stage_sizes=(1, 1), block=block, num_classes=5, width=4)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 16, 16, 3)), jnp.float32)

    v = np_init(m, x)

    @jax.jit
    def run(v, x):
        y, upd = m.apply(v, x, train=True, mutable=["batch_stats"])
        return y, upd, m.apply({**v, **upd}, x)

    y, upd, y_eval = run(v, x)
    chex.assert_shape(y, (2, 5))
    assert not np.allclose(upd["batch_stats"]["stem_bn"]["mean"], 0.0)
    chex.assert_tree_all_finite(y_eval)
    assert not np.allclose(y_eval, y)  # eval uses running stats, not batch stats


def test_layout_errors_name_expected_shape():
    with pytest.raises(ValueError, match=r"NHWC \(N, H, W, C\).*looks NCHW"):
        shapes(ResNet18(), jnp.zeros((2, 3, 32, 32)))
    with pytest.raises(ValueError, match=r"NHWC images \(N, H, W, C\)"):
        shapes(VGG16(), jnp.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match="block must be"):
        shapes(ResNet(stage_sizes=(1,), block="wide"), jnp.zeros((1, 8, 8, 3)))
    y = jax.eval_shape(VGG16(num_classes=10).apply, shapes(VGG16(10), jnp.zeros((1, 32, 32, 3))),
                       jnp.zeros((2, 32, 32, 3)))  # fmt: skip
    chex.assert_shape(y, (2, 10))
