"""Conv helpers (SPEC BAS-3): torch parity for Conv2d and ConvTranspose, the 7 transposed cases."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl.nn import (
    Conv1x1,
    Conv2d,
    ConvTranspose,
    DepthwiseSeparableConv,
    conv2d,
    conv_transpose2d,
    conv_transpose_output_size,
    from_torch_conv_transpose_weight,
    from_torch_conv_weight,
    transposed_conv_equivalent,
)

TOL = 1e-5


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)))


def _nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


@settings(max_examples=15, deadline=None)
@given(
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_conv2d_matches_torch(k, s, p, d, groups, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 9, 8, 4)).astype(np.float32)
    w = rng.standard_normal((6, 4 // groups, k, k)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    ref = torch.nn.functional.conv2d(
        _nchw(x), torch.from_numpy(w), torch.from_numpy(b), s, p, d, groups
    )
    params = {"params": {"kernel": from_torch_conv_weight(w), "bias": b}}
    out = Conv2d(6, k, s, p, d, groups).apply(params, jnp.asarray(x))
    chex.assert_trees_all_close(out, _nhwc(ref), atol=TOL, rtol=1e-6)


def test_conv2d_same_valid_full_shapes():
    x = jnp.zeros((1, 10, 7, 3))
    for mode, expect in [("same", (10, 7)), ("valid", (6, 3)), ("full", (14, 11))]:
        out = jax.eval_shape(Conv2d(4, 5, padding=mode).init_with_output, jax.random.key(0), x)[0]
        chex.assert_shape(out, (1, *expect, 4))
    out = jax.eval_shape(Conv2d(4, 4, padding="same").init_with_output, jax.random.key(0), x)[0]
    chex.assert_shape(out, (1, 10, 7, 4))  # even kernel: torch 'same' pads (1, 2)


def test_conv_same_even_kernel_matches_torch():
    rng = np.random.default_rng(1)
    x, w = (
        rng.standard_normal((1, 6, 5, 2), np.float32),
        rng.standard_normal((3, 2, 4, 2), np.float32),
    )
    ref = torch.nn.functional.conv2d(_nchw(x), torch.from_numpy(w), padding="same", dilation=2)
    out = conv2d(jnp.asarray(x), from_torch_conv_weight(w), padding="same", dilation=2)
    chex.assert_trees_all_close(out, _nhwc(ref), atol=TOL, rtol=1e-6)


@settings(max_examples=20, deadline=None)
@given(
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 3),
    d=st.integers(1, 2),
    op=st.integers(0, 2),
    groups=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**16),
)
def test_conv_transpose_matches_torch(k, s, p, d, op, groups, seed):
    if op >= max(s, d) or conv_transpose_output_size(5, k, s, p, op, d) < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 5, 4, 4)).astype(np.float32)
    w = rng.standard_normal((4, 6 // groups, k, k)).astype(np.float32)  # torch (in, out/g, kh, kw)
    b = rng.standard_normal(6).astype(np.float32)
    ref = torch.nn.functional.conv_transpose2d(
        _nchw(x), torch.from_numpy(w), torch.from_numpy(b), s, p, op, groups, d
    )
    params = {"params": {"kernel": from_torch_conv_transpose_weight(w), "bias": b}}
    out = ConvTranspose(6, k, s, p, op, d, groups).apply(params, jnp.asarray(x))
    chex.assert_shape(
        out,
        (
            2,
            conv_transpose_output_size(5, k, s, p, op, d),
            conv_transpose_output_size(4, k, s, p, op, d),
            6,
        ),
    )
    chex.assert_trees_all_close(out, _nhwc(ref), atol=TOL, rtol=1e-6)


def _direct_equivalent(x: np.ndarray, w: np.ndarray, s: int, p_prime: int, a: int) -> np.ndarray:
    """BAS-3 equivalence in NumPy: insert s-1 zeros, pad p′ (+a bottom/right), correlate with the
    flipped kernel at stride 1. x (H, W) single channel, w (k, k) in torch orientation."""
    h, wd = x.shape
    z = np.zeros(((h - 1) * s + 1, (wd - 1) * s + 1))
    z[::s, ::s] = x
    z = np.pad(z, ((p_prime, p_prime + a), (p_prime, p_prime + a)))
    wf, k = w[::-1, ::-1], w.shape[0]
    oh, ow = z.shape[0] - k + 1, z.shape[1] - k + 1
    return np.array([[np.sum(z[i : i + k, j : j + k] * wf) for j in range(ow)] for i in range(oh)])


# (i, k, s, p) of the forward conv, one per row of the SPEC BAS-3 table.
CASES = {
    1: (5, 3, 1, 0),
    2: (6, 4, 1, 2),
    3: (5, 5, 1, 2),
    4: (5, 3, 1, 2),
    5: (7, 3, 2, 0),
    6: (7, 3, 2, 1),
    7: (8, 3, 2, 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_transposed_conv_seven_cases(case):
    i, k, s, p = CASES[case]
    eq = transposed_conv_equivalent(i, k, s, p)
    assert eq.case == case
    ip, a = eq.i_prime, (i + 2 * p - k) % s
    expected = {  # (p′, o′) columns of the table
        1: (k - 1, ip + k - 1),
        2: (k - p - 1, ip + k - 1 - 2 * p),
        3: (p, ip),
        4: (0, ip - k + 1),
        5: (k - 1, s * (ip - 1) + k),
        6: (k - p - 1, s * (ip - 1) + k - 2 * p),
        7: (k - p - 1, s * (ip - 1) + a + k - 2 * p),
    }[case]
    assert (eq.p_prime, eq.o_prime) == expected
    assert eq.o_prime == i  # restores the forward input's shape
    assert eq.a == a and eq.zeros_between == s - 1
    if case == 7:
        assert a > 0
    rng = np.random.default_rng(case)
    x, w = rng.standard_normal((ip, ip)), rng.standard_normal((k, k))
    ref = _direct_equivalent(x, w, s, eq.p_prime, a)
    out = conv_transpose2d(
        jnp.asarray(x[None, :, :, None], jnp.float32),
        jnp.asarray(w[:, :, None, None], jnp.float32),
        strides=s,
        padding=p,
        output_padding=a,
    )
    chex.assert_shape(out, (1, i, i, 1))
    chex.assert_trees_all_close(out[0, :, :, 0], ref, atol=3e-6, rtol=0)  # measured 1.5e-6


def test_depthwise_separable_and_1x1_shapes():
    x = jnp.ones((2, 12, 12, 3))
    sep = DepthwiseSeparableConv(8, 5, strides=2, padding="valid", depth_multiplier=2)
    out, params = jax.eval_shape(sep.init_with_output, jax.random.key(0), x)
    chex.assert_shape(out, (2, 4, 4, 8))
    chex.assert_shape(params["params"]["depthwise"]["kernel"], (5, 5, 1, 6))
    chex.assert_shape(params["params"]["pointwise"]["kernel"], (1, 1, 6, 8))
    out = jax.eval_shape(Conv1x1(5).init_with_output, jax.random.key(0), x)[0]
    chex.assert_shape(out, (2, 12, 12, 5))


def test_bad_inputs_name_expected_shape():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        jax.eval_shape(Conv2d(4).init, jax.random.key(0), jnp.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"\(N, H, W, 4\)"):  # NCHW given to a (kh,kw,4,O) kernel
        conv_transpose2d(jnp.zeros((1, 4, 8, 8)), jnp.zeros((3, 3, 4, 2)))
    with pytest.raises(ValueError, match=r"\(N, H, W, 6\)"):
        conv2d(jnp.zeros((1, 3, 8, 8)), jnp.zeros((3, 3, 3, 2)), groups=2)
    with pytest.raises(ValueError, match="output_padding"):
        conv_transpose2d(
            jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2, 2)), strides=2, output_padding=2
        )
