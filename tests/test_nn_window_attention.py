"""Swin (shifted) window attention vs a direct per-token NumPy reference (SPEC RES-1)."""

import chex
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

from jaxdl.nn.window_attention import (
    ShiftedWindowAttention,
    WindowAttention,
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)


def swin_img_mask(h: int, w: int, ws: int, s: int) -> np.ndarray:
    """Region labels of the rolled image, built with the official Swin slices."""
    img = np.zeros((h, w), int)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
        for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            img[hs, wsl] = cnt
            cnt += 1
    return img


def direct_reference(x, p, ws, s, heads, scale):
    """Loop over every output pixel; attend to pixels in its rolled window and region."""
    x = np.asarray(x, np.float64)
    b, h, w, c = x.shape
    dh = c // heads
    qkv = x @ np.asarray(p["qkv"]["kernel"], np.float64) + np.asarray(p["qkv"]["bias"])
    q, k, v = qkv[..., :c], qkv[..., c : 2 * c], qkv[..., 2 * c :]
    table = np.asarray(p["relative_position_bias_table"], np.float64)
    label = swin_img_mask(h, w, ws, s) if s else np.zeros((h, w), int)
    out = np.zeros_like(x)
    for n in range(b):
        for i in range(h):
            for j in range(w):
                ri, rj = (i - s) % h, (j - s) % w  # position after rolling by -s
                keys = [
                    (a, bb)
                    for a in range(h)
                    for bb in range(w)
                    if ((a - s) % h) // ws == ri // ws
                    and ((bb - s) % w) // ws == rj // ws
                    and label[(a - s) % h, (bb - s) % w] == label[ri, rj]
                ]
                for hd in range(heads):
                    sl = slice(hd * dh, (hd + 1) * dh)
                    logits = []
                    for a, bb in keys:
                        di = ri % ws - (a - s) % h % ws + ws - 1
                        dj = rj % ws - (bb - s) % w % ws + ws - 1
                        bias = table[di * (2 * ws - 1) + dj, hd]
                        logits.append(q[n, i, j, sl] @ k[n, a, bb, sl] * scale + bias)
                    wts = np.exp(np.array(logits) - max(logits))
                    wts /= wts.sum()
                    out[n, i, j, sl] = sum(
                        wt * v[n, a, bb, sl] for wt, (a, bb) in zip(wts, keys, strict=True)
                    )
    return out @ np.asarray(p["proj"]["kernel"], np.float64) + np.asarray(p["proj"]["bias"])


@pytest.mark.parametrize(("hw", "shift"), [((8, 8), 0), ((8, 8), 2), ((4, 8), 1)])
def test_shifted_window_attention_matches_direct_reference(hw, shift):
    ws, heads, dim = 4, 2, 8
    x = np.random.default_rng(0).normal(size=(2, *hw, dim)).astype(np.float32)
    m = ShiftedWindowAttention(dim, heads, window_size=ws, shift_size=shift, qk_scale=0.7)
    params = jax.eval_shape(m.init, jax.random.key(0), x)["params"]
    rng = np.random.default_rng(1)  # large random bias/qkv bias so both matter
    params = jax.tree.map(lambda a: rng.normal(size=a.shape).astype(np.float32), params)
    y = m.apply({"params": params}, x)
    ref = direct_reference(x, params["attn"], ws, shift, heads, 0.7)
    np.testing.assert_allclose(y, ref, atol=2e-5)


def test_relative_position_index_matches_official_construction():
    ws = 3
    coords = np.stack(np.meshgrid(np.arange(ws), np.arange(ws), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0).copy()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    idx = relative_position_index(ws)
    np.testing.assert_array_equal(idx, rel.sum(-1))
    assert idx.min() == 0 and idx.max() == (2 * ws - 1) ** 2 - 1
    np.testing.assert_array_equal(np.diag(idx), (ws - 1) * (2 * ws - 1) + ws - 1)


@pytest.mark.parametrize(("h", "w", "ws", "s"), [(8, 8, 4, 2), (8, 12, 4, 1), (6, 6, 3, 1)])
def test_shifted_window_mask_matches_swin_img_mask(h, w, ws, s):
    lab = np.asarray(window_partition(jnp.asarray(swin_img_mask(h, w, ws, s))[None, ..., None], ws))
    lab = lab.reshape(-1, ws * ws)
    expected = (lab[:, None, :] - lab[:, :, None]) == 0  # official: != 0 -> -100
    mask = shifted_window_mask(h, w, ws, s)
    np.testing.assert_array_equal(mask, expected)
    assert mask[0].all() and not mask[-1].all()  # top-left window untouched, last one split
    assert shifted_window_mask(h, w, ws, 0).all()


@settings(max_examples=10, deadline=None)
@given(b=st.integers(1, 2), nh=st.integers(1, 3), nw=st.integers(1, 3), ws=st.integers(1, 3))
def test_partition_reverse_roundtrip(b, nh, nw, ws):
    x = np.arange(b * nh * ws * nw * ws * 2, dtype=np.float32).reshape(b, nh * ws, nw * ws, 2)
    win = window_partition(x, ws)
    chex.assert_shape(win, (b * nh * nw, ws, ws, 2))
    np.testing.assert_array_equal(win[0], x[0, :ws, :ws])
    np.testing.assert_array_equal(window_reverse(win, ws, nh * ws, nw * ws), x)


def test_bad_shapes_name_expected_shape():
    with pytest.raises(ValueError, match=r"\(B, H, W, C\) with H and W divisible by window_size"):
        window_partition(jnp.zeros((1, 6, 8, 3)), 4)
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        window_partition(jnp.zeros((6, 8, 3)), 2)
    m = ShiftedWindowAttention(dim=4, num_heads=2, window_size=4, shift_size=2)
    with pytest.raises(ValueError, match=r"\(B, H, W, 4\)"):
        jax.eval_shape(m.init, jax.random.key(0), jnp.zeros((1, 4, 8, 8)))  # NCHW-like: C=8 != dim
    with pytest.raises(ValueError, match="shift must be in"):
        shifted_window_mask(8, 8, 4, 4)
    with pytest.raises(ValueError, match=r"\(B \* nW, 16, 4\)"):
        jax.eval_shape(WindowAttention(4, 4, 2).init, jax.random.key(0), jnp.zeros((2, 9, 4)))
    with pytest.raises(ValueError, match="windows"):
        window_reverse(jnp.zeros((3, 2, 2, 1)), 2, 4, 4)
