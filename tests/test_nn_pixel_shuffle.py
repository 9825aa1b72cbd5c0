"""pixel_shuffle / pixel_unshuffle (SPEC BAS-4): torch channel order on NHWC."""

import chex
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl.nn import PixelShuffle, PixelUnshuffle, pixel_shuffle, pixel_unshuffle


@settings(max_examples=10, deadline=None)
@given(
    r=st.integers(1, 4),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    c=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_and_roundtrips(r, h, w, c, seed):
    x = np.random.default_rng(seed).standard_normal((2, h, w, c * r * r)).astype(np.float32)
    ref = torch.nn.functional.pixel_shuffle(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), r)
    out = pixel_shuffle(jnp.asarray(x), r)
    chex.assert_shape(out, (2, h * r, w * r, c))
    np.testing.assert_array_equal(np.asarray(out), ref.numpy().transpose(0, 2, 3, 1))
    back = pixel_unshuffle(out, r)
    np.testing.assert_array_equal(np.asarray(back), x)
    ref_un = torch.nn.functional.pixel_unshuffle(torch.from_numpy(ref.numpy()), r)
    np.testing.assert_array_equal(np.asarray(back), ref_un.numpy().transpose(0, 2, 3, 1))


def test_index_formula():
    """out[h·r+i, w·r+j, c] = in[h, w, c·r² + i·r + j] (SPEC BAS-4)."""
    r, x = 2, jnp.arange(3 * 2 * 8, dtype=jnp.float32).reshape(1, 3, 2, 8)
    out = np.asarray(PixelShuffle(r).apply({}, x))
    for h, w, i, j, c in np.ndindex(3, 2, r, r, 2):
        assert out[0, h * r + i, w * r + j, c] == x[0, h, w, c * r * r + i * r + j]
    chex.assert_trees_all_equal(PixelUnshuffle(r).apply({}, jnp.asarray(out)), x)


def test_bad_inputs_name_expected_shape():
    for r in (2.0, 1.5, "2"):
        with pytest.raises(TypeError, match="positive int"):
            pixel_shuffle(jnp.zeros((1, 2, 2, 4)), r)
    with pytest.raises(ValueError, match="positive int"):
        pixel_unshuffle(jnp.zeros((1, 2, 2, 4)), 0)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\*4\)"):
        pixel_shuffle(jnp.zeros((1, 4, 2, 2)), 2)  # NCHW (1, 4, 2, 2): C=2 not divisible
    with pytest.raises(ValueError, match=r"\(N, H\*2, W\*2, C\)"):
        pixel_unshuffle(jnp.zeros((1, 3, 4, 1)), 2)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\*9\)"):
        pixel_shuffle(jnp.zeros((4, 4, 9)), 3)
