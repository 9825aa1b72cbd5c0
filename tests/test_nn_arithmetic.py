"""Conv arithmetic (SPEC BAS-3): sizes, receptive field, parameter and multiply counts."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl.nn import (
    Conv1x1,
    Conv2d,
    DepthwiseSeparableConv,
    conv2d,
    conv_mult_count,
    conv_output_size,
    conv_param_count,
    effective_kernel_size,
    padding_for,
    param_count,
    pool_output_size,
    receptive_field,
)


def _n_params(module: nn.Module, shape: tuple[int, ...]) -> int:
    shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros(shape))
    return param_count(shapes["params"])


def test_output_size_formula_examples():
    assert conv_output_size(5, 3, 1, "valid") == 3
    for k, p in [(3, 1), (5, 2), (7, 3)]:  # BAS-3 'same' padding
        assert padding_for("same", k) == (p, p)
        assert conv_output_size(11, k, 1, "same") == 11
        assert conv_output_size(11, k, 1, "full") == 11 + k - 1
    assert conv_output_size(7, 3, 2, 1) == 4  # ⌊(7+2-3)/2⌋+1
    assert effective_kernel_size(3, 2) == 5  # k̂ = k + (k-1)(d-1)
    assert conv_output_size(7, 3, 1, 0, d=2) == 3
    with pytest.raises(ValueError, match="valid"):
        padding_for("wrong", 3)
    with pytest.raises(ValueError, match="too small"):
        conv_output_size(2, 5)


@settings(max_examples=40, deadline=None)
@given(
    i=st.integers(5, 20),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    pad=st.sampled_from(["valid", "same", "full", 0, 1, 2]),
)
def test_output_size_matches_conv_shape(i, k, s, d, pad):
    if effective_kernel_size(k, d) > i:
        return
    out = jax.eval_shape(
        lambda x, w: conv2d(x, w, strides=s, padding=pad, dilation=d),
        jax.ShapeDtypeStruct((1, i, i + 1, 2), jnp.float32),
        jax.ShapeDtypeStruct((k, k, 2, 3), jnp.float32),
    )
    assert out.shape == (
        1,
        conv_output_size(i, k, s, pad, d),
        conv_output_size(i + 1, k, s, pad, d),
        3,
    )
    if pad == "same" and s == 1:
        assert out.shape[1] == i


def test_pool_output_size_examples():
    assert pool_output_size(8, 2) == 4
    assert pool_output_size(7, 2) == 3
    assert pool_output_size(7, 2, ceil_mode=True) == 4
    assert pool_output_size(5, 3, 2, 1, ceil_mode=True) == 3  # last window starting in pad dropped


def test_receptive_field_worked_example():
    assert receptive_field([(3, 1), (3, 1)]) == [3, 5]  # BAS-3 worked example
    assert receptive_field([(3, 2), (3, 2), (3, 1)]) == [3, 7, 15]


@settings(max_examples=8, deadline=None)
@given(layers=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 2)), min_size=1, max_size=3))
def test_receptive_field_matches_gradient_support(layers):
    """Brute force: the input pixels that reach one output pixel of a conv stack of ones."""
    r = receptive_field(layers)[-1]
    n = r + 8 * int(np.prod([s for _, s in layers]))

    def f(x):
        for k, s in layers:
            x = conv2d(x, jnp.ones((k, k, 1, 1)), strides=s, padding="valid")
        return x[0, 0, 0, 0]

    g = jax.grad(f)(jnp.ones((1, n, n, 1)))[0, :, :, 0]
    rows = np.nonzero(np.asarray(g).any(axis=1))[0]
    assert rows.max() - rows.min() + 1 == r


def test_inception_counts():
    """BAS-3 (GoogLeNet, Szegedy et al. 2015): 28×28×192 → 64 (1×1), 128 (3×3), 32 (5×5).

    Weights only.
    """
    naive = [
        Conv1x1(64, use_bias=False),
        Conv2d(128, 3, use_bias=False),
        Conv2d(32, 5, use_bias=False),
    ]
    total = sum(_n_params(m, (1, 28, 28, 192)) for m in naive)
    assert total == 387072
    reduced = (
        _n_params(Conv1x1(64, use_bias=False), (1, 28, 28, 192))
        + _n_params(
            nn.Sequential([Conv1x1(96, use_bias=False), Conv2d(128, 3, use_bias=False)]),
            (1, 28, 28, 192),
        )
        + _n_params(
            nn.Sequential([Conv1x1(16, use_bias=False), Conv2d(32, 5, use_bias=False)]),
            (1, 28, 28, 192),
        )
    )
    assert reduced == 157184
    assert (
        conv_param_count(192, 128, 3) + conv_param_count(192, 64, 1) + conv_param_count(192, 32, 5)
        == 387072
    )


def test_resnet_bottleneck_counts():
    plain = nn.Sequential([Conv2d(256, 3, use_bias=False), Conv2d(256, 3, use_bias=False)])
    assert _n_params(plain, (1, 8, 8, 256)) == 1179648
    bottleneck = nn.Sequential(
        [Conv1x1(64, use_bias=False), Conv2d(64, 3, use_bias=False), Conv1x1(256, use_bias=False)]
    )
    assert _n_params(bottleneck, (1, 8, 8, 256)) == 69632


def test_depthwise_separable_counts():
    """BAS-3 (Xception, Chollet 2017): 12×12×3, 5×5 valid → 8×8×256."""
    shape = (1, 12, 12, 3)
    assert _n_params(Conv2d(256, 5, padding="valid", use_bias=False), shape) == 19200
    sep = DepthwiseSeparableConv(256, 5, padding="valid", use_bias=False)
    assert _n_params(sep, shape) == 75 + 768 == 843
    assert conv_mult_count(8, 3, 256, 5) == 1228800
    dw, pw = conv_mult_count(8, 3, 3, 5, groups=3), conv_mult_count(8, 3, 256, 1)
    assert (dw, pw, dw + pw) == (4800, 49152, 53952)
    assert conv_mult_count(1, 1, 1, 3) == 9
    assert conv_mult_count(1, 1, 1, (3, 1)) + conv_mult_count(1, 1, 1, (1, 3)) == 6


def test_mult_count_by_counting():
    """With ones for input and kernel, the sum of a conv's outputs is its number of products."""
    x = jnp.ones((1, 12, 12, 3))
    full = conv2d(x, jnp.ones((5, 5, 3, 256)), padding="valid")
    chex.assert_shape(full, (1, 8, 8, 256))
    assert float(full.sum()) == conv_mult_count(8, 3, 256, 5)
    dw = conv2d(x, jnp.ones((5, 5, 1, 3)), padding="valid", groups=3)
    pw = conv2d(dw, jnp.ones((1, 1, 3, 256)) / 25.0)  # undo dw's sums: counts products only
    assert float(dw.sum()) == 4800 and float(pw.sum()) == 49152


def test_param_count_any_tree():
    assert (
        param_count({"a": jnp.zeros((2, 3)), "b": [jnp.zeros(4), {"c": np.zeros((1, 1, 5))}]}) == 15
    )
    assert param_count({}) == 0
