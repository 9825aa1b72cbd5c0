"""resize (SPEC BAS-4): the BAS-4 golden grids and torch `F.interpolate` parity."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl.nn import resize, resize_output_size

TOL = 1e-5
GRID = jnp.array([[1.0, 2.0], [3.0, 4.0]])[None, :, :, None]


def _torch(x: np.ndarray, method: str, align_corners: bool, **kw) -> np.ndarray:
    ac = None if method == "nearest" else align_corners
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    out = torch.nn.functional.interpolate(t, mode=method, align_corners=ac, **kw)
    return out.numpy().transpose(0, 2, 3, 1)


@pytest.mark.parametrize(
    "method, align_corners, expected",
    [
        ("nearest", False, [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]),
        (
            "bilinear",
            False,
            [
                [1, 1.25, 1.75, 2],
                [1.5, 1.75, 2.25, 2.5],
                [2.5, 2.75, 3.25, 3.5],
                [3, 3.25, 3.75, 4],
            ],
        ),
        (
            "bilinear",
            True,
            [
                [1, 4 / 3, 5 / 3, 2],
                [5 / 3, 2, 7 / 3, 8 / 3],
                [7 / 3, 8 / 3, 3, 10 / 3],
                [3, 10 / 3, 11 / 3, 4],
            ],
        ),
    ],
)
def test_golden_grids(method, align_corners, expected):
    """SPEC BAS-4 golden grids: [[1,2],[3,4]] upsampled ×2."""
    out = resize(GRID, (4, 4), method, align_corners)
    chex.assert_shape(out, (1, 4, 4, 1))
    chex.assert_trees_all_close(out[0, :, :, 0], np.array(expected), atol=1e-6, rtol=0)
    out_sf = resize(GRID, method=method, align_corners=align_corners, scale_factor=2)
    chex.assert_trees_all_close(out_sf, out, atol=1e-6, rtol=0)


def test_bas4_numpy_snippet_value():
    """BAS-4 NumPy snippet: out[2][1] = 2.75 of the align_corners=False grid."""
    assert float(resize(GRID, (4, 4))[0, 2, 1, 0]) == pytest.approx(2.75, abs=1e-6)


sizes = st.integers(1, 11)


@settings(max_examples=24, deadline=None)
@given(
    hw_in=st.tuples(sizes, sizes),
    hw_out=st.tuples(st.integers(1, 17), st.integers(1, 17)),
    method=st.sampled_from(["nearest", "bilinear", "bicubic"]),
    align_corners=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_any_size(hw_in, hw_out, method, align_corners, seed):
    x = np.random.default_rng(seed).standard_normal((1, *hw_in, 2)).astype(np.float32)
    ac = align_corners and method != "nearest"
    out = resize(jnp.asarray(x), hw_out, method, ac)
    chex.assert_shape(out, (1, *hw_out, 2))
    chex.assert_trees_all_close(out, _torch(x, method, ac, size=hw_out), atol=TOL, rtol=0)


@pytest.mark.parametrize("factor", [0.3, 0.7, 1.1, 1.5, 2.5])
@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
def test_matches_torch_scale_factor(factor, method):
    """Non-integer factors: torch maps coordinates with 1/factor, not in/out. Factor 1.1 keeps
    W = ⌊7·1.1⌋ = 7, and torch's linear kernel then copies that axis (bicubic does not)."""
    x = np.random.default_rng(0).standard_normal((2, 10, 7, 3)).astype(np.float32)
    ref = _torch(x, method, False, scale_factor=factor)
    out = resize(jnp.asarray(x), method=method, scale_factor=factor)
    assert out.shape == ref.shape == (2, *resize_output_size((10, 7), None, factor), 3)
    chex.assert_trees_all_close(out, ref, atol=TOL, rtol=0)


def test_nearest_uses_float32_floor():
    """26→22: row 11 reads ⌊11·(26f/22)⌋ = ⌊12.99999⌋ = 12 in torch, not the exact 13."""
    x = np.arange(26, dtype=np.float32)[None, :, None, None]
    out = resize(jnp.asarray(x), (22, 1), "nearest")
    np.testing.assert_array_equal(np.asarray(out), _torch(x, "nearest", False, size=(22, 1)))
    assert float(out[0, 11, 0, 0]) == 12.0


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        resize(jnp.zeros((4, 4, 1)), (8, 8))
    with pytest.raises(ValueError, match="method"):
        resize(GRID, (4, 4), "area")
    with pytest.raises(ValueError, match="exactly one"):
        resize(GRID)
    with pytest.raises(ValueError, match="align_corners"):
        resize(GRID, (4, 4), "nearest", True)
