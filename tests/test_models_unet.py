"""DDPM U-Net (SPEC DIF-6, Ho et al. 2020): size, structure, init, dropout, input checks."""

import functools

import chex
import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.models.unet import CIFAR10_NUM_PARAMS, DDPMUNet
from jaxdl.models.unet_blocks import Downsample, Upsample

TINY = dict(ch=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(8,), num_groups=8)
X = jax.ShapeDtypeStruct((2, 16, 16, 3), jnp.float32)
T = jax.ShapeDtypeStruct((2,), jnp.int32)


def _shapes(model: nn.Module, x=X, t=T) -> dict:
    return jax.eval_shape(model.init, jax.random.key(0), x, t)["params"]


def _perturb(params: dict, seed: int, scale: float = 0.1) -> dict:
    rng = np.random.RandomState(seed)
    return jax.tree.map(lambda p: p + scale * rng.standard_normal(p.shape).astype(p.dtype), params)


@pytest.fixture(scope="module")
def tiny():
    model = DDPMUNet(**TINY)
    x = jax.random.normal(jax.random.key(1), X.shape)
    t = jnp.array([0, 999])
    # The rbg PRNG compiles much faster on CPU than threefry for the many initializers.
    params = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x, t)["params"]
    evaluate = jax.jit(chex.assert_max_traces(n=1)(lambda p, t: model.apply({"params": p}, x, t)))
    return model, params, x, t, evaluate


def test_cifar10_parameter_count_and_layout():
    params = _shapes(
        DDPMUNet(),
        jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32),
        jax.ShapeDtypeStruct((1,), jnp.int32),
    )
    count = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    # 35,746,307 = diffusers UNet2DModel with the google/ddpm-cifar10-32 config (checked against
    # diffusers itself in test_convert_diffusers.py).
    assert count == CIFAR10_NUM_PARAMS == 35_746_307
    attn = sorted(k for k in params if "attn" in k)
    assert attn == [
        "down_1_attn_0",
        "down_1_attn_1",
        "mid_attn",
        "up_1_attn_0",
        "up_1_attn_1",
        "up_1_attn_2",
    ]  # attention at 16x16 only (level 1), plus the middle
    assert params["temb_dense_0"]["kernel"].shape == (128, 512)
    assert params["up_0_res_2"]["conv1"]["kernel"].shape == (3, 3, 256, 128)  # concat 128 + 128
    assert "down_3_downsample" not in params and "up_0_upsample" not in params


def test_init_output_is_zero_and_shapes(tiny):
    _, params, _, t, evaluate = tiny
    out = evaluate(params, t)
    chex.assert_shape(out, (2, 16, 16, 3))
    # Official init: the output conv starts at zero, so ε_θ = 0 before training.
    np.testing.assert_array_equal(np.asarray(out), 0.0)
    assert sorted(k for k in params if "attn" in k) == [
        "down_1_attn_0",
        "mid_attn",
        "up_1_attn_0",
        "up_1_attn_1",
    ]


def test_eval_depends_on_t_and_traces_once(tiny):
    model, params, x, _, evaluate = tiny
    params = _perturb(params, 2)
    a = evaluate(params, jnp.array([0, 0]))
    b = evaluate(params, jnp.array([999, 999]))
    c = evaluate(params, jnp.array([0, 0]))
    chex.assert_tree_all_finite((a, b))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(c))
    assert float(jnp.abs(a - b).max()) > 1e-3
    # A scalar t broadcasts over the batch.
    chex.assert_shape(jax.eval_shape(model.apply, {"params": params}, x, 0), (2, 16, 16, 3))


def test_dropout_train_needs_rng_and_differs_from_eval(tiny):
    model, params, x, t, evaluate = tiny
    params = _perturb(params, 3)
    train = jax.jit(lambda p, k: model.apply({"params": p}, x, t, train=True, rngs={"dropout": k}))
    ev = evaluate(params, t)
    key = functools.partial(jax.random.key, impl="rbg")
    a, b = train(params, key(4)), train(params, key(5))
    assert float(jnp.abs(a - ev).max()) > 1e-3
    assert float(jnp.abs(a - b).max()) > 1e-3
    np.testing.assert_array_equal(np.asarray(a), np.asarray(train(params, key(4))))
    with pytest.raises(flax.errors.InvalidRngError, match="dropout"):
        jax.eval_shape(lambda p: model.apply({"params": p}, x, t, train=True), params)


@pytest.mark.parametrize(
    "shape, t_shape, kwargs, match",
    [
        ((2, 3, 16, 16), (2,), {}, "NCHW"),  # channels first
        ((2, 16, 16, 4), (2,), {}, r"\(N, H, W, 3\)"),  # wrong channel count
        ((2, 16, 16), (2,), {}, "NHWC"),  # missing batch or channel axis
        ((2, 12, 16, 3), (2,), {"ch_mult": (1, 2, 2, 2)}, "divisible by 8"),
        ((2, 16, 16, 3), (3,), {}, r"t must have shape \(batch,\)"),
        ((2, 16, 16, 3), (2,), {"num_groups": 32}, "num_groups=32 must divide"),
    ],
)
def test_bad_inputs_raise_clear_errors(shape, t_shape, kwargs, match):
    model = DDPMUNet(**{**TINY, **kwargs})
    with pytest.raises(ValueError, match=match):
        _shapes(
            model,
            jax.ShapeDtypeStruct(shape, jnp.float32),
            jax.ShapeDtypeStruct(t_shape, jnp.int32),
        )


def test_downsample_is_tf_same_and_upsample_is_nearest():
    rng = np.random.RandomState(0)
    x = jnp.asarray(rng.standard_normal((2, 8, 8, 4)), jnp.float32)
    conv = {
        "conv": {
            "kernel": rng.standard_normal((3, 3, 4, 4)).astype(np.float32),
            "bias": rng.standard_normal(4).astype(np.float32),
        }
    }
    # TF/XLA "SAME" pads (0, 1) for even sizes at stride 2, as Ho et al.'s code.
    same = nn.Conv(4, (3, 3), strides=(2, 2), padding="SAME")
    ref = jax.jit(same.apply)({"params": conv["conv"]}, x)
    chex.assert_trees_all_close(jax.jit(Downsample().apply)({"params": conv}, x), ref, atol=1e-5)
    rep = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
    ref = jax.jit(nn.Conv(4, (3, 3), padding=((1, 1), (1, 1))).apply)({"params": conv["conv"]}, rep)
    chex.assert_trees_all_close(jax.jit(Upsample().apply)({"params": conv}, x), ref, atol=1e-5)
