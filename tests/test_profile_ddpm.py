"""The DDPM profiler's attribution of XLA ops to kinds and Flax layers (benchmarks.profile_ddpm)."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from benchmarks.profile_ddpm import _groups, _hlo_index, _layer


class _Tiny(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Conv(4, (3, 3), name="conv_a")(x)
        return nn.Dense(2, name="head")(x.mean((1, 2)))


def _compiled_index():
    model = _Tiny()
    x = jnp.ones((2, 8, 8, 3))
    params = model.init(jax.random.PRNGKey(0), x)["params"]

    def loss(p):
        return model.apply({"params": p}, x).sum()

    return _hlo_index(jax.jit(jax.grad(loss)).lower(params).compile().as_text())


def test_hlo_index_finds_convolutions_and_their_layers():
    index = _compiled_index()
    convs = {name: op for name, (kind, op) in index.items() if kind == "convolution"}
    assert convs, "no convolution found in the compiled HLO"
    layers = {_layer(op) for op in convs.values()}
    assert "conv_a (fwd)" in layers, layers  # XLA drops the metadata of some gradient convs
    assert any(kind == "dot" and "head" in op for kind, op in index.values())


def test_layer_names_and_groups():
    assert _layer("jit(f)/transpose(jvp(M))/down_1/res_0/conv1/conv") == "down_1/res_0/conv1 (bwd)"
    assert _layer("jit(f)/jvp(M)/norm/div") == "norm (fwd)"
    assert _layer("") == "(no metadata)"
    index = {"a": ("convolution", "jit(f)/jvp(M)/c/conv"), "b": ("dot", "jit(f)/jvp(M)/d/dot")}
    rows = _groups("jaxdl", {"a": 3.0, "b": 1.0}, index, wall=0.005)
    step = {r["name"]: r["ms_per_step"] for r in rows if r["group"] == "step"}
    assert step == {"wall": 5.0, "op_sum": 4.0, "untraced": 1.0}
    kinds = [(r["name"], r["share"]) for r in rows if r["group"] == "kind"]
    assert kinds == [("convolution", 0.75), ("dot", 0.25)]
