"""Pooling (BAS-3) vs torch; RoI pooling / RoIAlign (SEG-4) vs its worked example and NumPy."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl.nn import (
    MaxPool,
    avg_pool,
    global_avg_pool,
    global_max_pool,
    max_pool,
    pool_output_size,
    roi_align,
    roi_pool,
)

TOL = 1e-5


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


@settings(max_examples=20, deadline=None)
@given(
    h=st.integers(3, 9),
    w=st.integers(3, 9),
    k=st.integers(1, 3),
    s=st.integers(1, 3),
    p=st.integers(0, 1),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_pools_match_torch(h, w, k, s, p, ceil_mode, count_include_pad, seed):
    if 2 * p > k:
        return
    x = np.random.default_rng(seed).standard_normal((2, h, w, 3)).astype(np.float32)
    ref = torch.nn.functional.max_pool2d(_nchw(x), k, s, p, ceil_mode=ceil_mode)
    out = max_pool(jnp.asarray(x), k, s, p, ceil_mode)
    chex.assert_shape(out, (2, pool_output_size(h, k, s, p, ceil_mode), ref.shape[3], 3))
    chex.assert_trees_all_close(out, ref.numpy().transpose(0, 2, 3, 1), atol=0, rtol=0)
    ref = torch.nn.functional.avg_pool2d(_nchw(x), k, s, p, ceil_mode, count_include_pad)
    out = avg_pool(jnp.asarray(x), k, s, p, ceil_mode, count_include_pad)
    chex.assert_trees_all_close(out, ref.numpy().transpose(0, 2, 3, 1), atol=TOL, rtol=0)


def test_global_pools_and_module():
    x = np.random.default_rng(0).standard_normal((2, 5, 4, 3)).astype(np.float32)
    chex.assert_trees_all_close(global_avg_pool(jnp.asarray(x)), x.mean((1, 2)), atol=1e-6)
    chex.assert_trees_all_close(global_max_pool(jnp.asarray(x), True), x.max((1, 2), keepdims=True))
    chex.assert_shape(MaxPool(2).apply({}, jnp.asarray(x)), (2, 2, 2, 3))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        max_pool(jnp.zeros((5, 4, 3)), 2)
    with pytest.raises(ValueError, match=r"\(N, H>=4"):
        avg_pool(jnp.zeros((1, 3, 8, 2)), 4)


def test_roi_pool_worked_example():
    """SEG-4 worked example: 8×8 map, 2×2 output, box [0,3,7,8] → rows 2+3, cols 3+4."""
    feat = (8 * np.arange(8)[:, None] + np.arange(8)[None, :]).astype(np.float32)
    out = roi_pool(jnp.asarray(feat)[None, :, :, None], jnp.array([[0.0, 3, 7, 8]]), 2)
    chex.assert_shape(out, (1, 2, 2, 1))
    np.testing.assert_array_equal(np.asarray(out[0, :, :, 0]), [[34, 38], [58, 62]])
    boxes5 = jnp.array([[1.0, 0, 3, 7, 8], [0.0, 0, 0, 8, 8]])  # torchvision-style rows
    feats = jnp.stack([jnp.zeros((8, 8)), jnp.asarray(feat)])[..., None]
    out = roi_pool(feats, boxes5, (2, 2))
    np.testing.assert_array_equal(np.asarray(out[0, :, :, 0]), [[34, 38], [58, 62]])
    np.testing.assert_array_equal(np.asarray(out[1]), 0)


def test_roi_pool_quantization():
    """SEG-4 quantization example: 665 px at spatial scale 1/32 → 20.78 → 20 cells (≈25 px lost)."""
    feat = jnp.arange(24 * 24, dtype=jnp.float32).reshape(1, 24, 24, 1)
    out = roi_pool(feat, jnp.array([[0.0, 0, 665, 665]]), 1, spatial_scale=1 / 32)
    assert float(out[0, 0, 0, 0]) == 19 * 24 + 19  # max over rows/cols 0..19


def _bilinear64(f, y, x):
    """torchvision roi_align_kernel `bilinear_interpolate`, float64. f (H, W, C)."""
    h, w = f.shape[:2]
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(f.shape[2])
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    yh, xh = yl + 1, xl + 1
    if yl >= h - 1:
        yh = yl = h - 1
        y = float(yl)
    if xl >= w - 1:
        xh = xl = w - 1
        x = float(xl)
    ly, lx = y - yl, x - xl
    return (
        (1 - ly) * (1 - lx) * f[yl, xl]
        + (1 - ly) * lx * f[yl, xh]
        + ly * (1 - lx) * f[yh, xl]
        + ly * lx * f[yh, xh]
    )


def _roi_align64(feats, rois, out_hw, scale, g, aligned, reduce):
    res = np.zeros((len(rois), *out_hw, feats.shape[-1]))
    off = 0.5 if aligned else 0.0
    for r, (b, x1, y1, x2, y2) in enumerate(rois):
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / out_hw[0], rw / out_hw[1]
        for ph in range(out_hw[0]):
            for pw in range(out_hw[1]):
                vals = [
                    _bilinear64(
                        feats[int(b)],
                        sy + ph * bh + (iy + 0.5) * bh / g,
                        sx + pw * bw + (ix + 0.5) * bw / g,
                    )
                    for iy in range(g)
                    for ix in range(g)
                ]
                res[r, ph, pw] = np.max(vals, 0) if reduce == "max" else np.mean(vals, 0)
    return res


@settings(max_examples=10, deadline=None)
@given(
    g=st.integers(1, 3),
    aligned=st.booleans(),
    reduce=st.sampled_from(["max", "avg"]),
    out_hw=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    scale=st.sampled_from([1.0, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_roi_align_matches_numpy_reference(g, aligned, reduce, out_hw, scale, seed):
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((2, 7, 6, 3))
    xy1 = rng.uniform(-3, 10, (5, 2))
    rois = np.concatenate([rng.integers(0, 2, (5, 1)), xy1, xy1 + rng.uniform(0, 9, (5, 2))], 1)
    rois[0, 1:] = [1.0, 1.0, 1.3, 1.2]  # tiny box: size clamp when not aligned
    ref = _roi_align64(feats, rois, out_hw, scale, g, aligned, reduce)
    out = roi_align(
        jnp.asarray(feats, jnp.float32),
        jnp.asarray(rois, jnp.float32),
        out_hw,
        scale,
        g,
        aligned,
        reduce,
    )
    chex.assert_shape(out, (5, *out_hw, 3))
    chex.assert_trees_all_close(out, ref, atol=TOL, rtol=0)


def test_roi_align_defaults_and_errors():
    """SEG-4 defaults: 2×2 samples per bin, max. On a linear map the max sample is the
    bottom-right one, at bin start + 0.75·bin size (rows past the last are clamped to it)."""
    feat = (8 * np.arange(8)[:, None] + np.arange(8)[None, :]).astype(np.float32)
    out = roi_align(jnp.asarray(feat)[None, :, :, None], jnp.array([[0.0, 3, 7, 8]]), 2)
    ys = np.minimum(3 + 2.5 * np.array([0.75, 1.75]), 7.0)  # [4.875, 7.375 → 7]
    xs = 3.5 * np.array([0.75, 1.75])
    chex.assert_trees_all_close(out[0, :, :, 0], 8 * ys[:, None] + xs[None, :], atol=1e-5)
    with pytest.raises(ValueError, match="sampling_ratio"):
        roi_align(jnp.zeros((1, 4, 4, 1)), jnp.zeros((1, 4)), 2, sampling_ratio=-1)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        roi_align(jnp.zeros((4, 4, 1)), jnp.zeros((1, 4)), 2)
    with pytest.raises(ValueError, match=r"\(K, 4\)"):
        roi_pool(jnp.zeros((1, 4, 4, 1)), jnp.zeros((4,)), 2)
