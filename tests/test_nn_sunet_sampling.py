"""SUNet PatchMerging and dual up-sample (SPEC RES-1) vs PyTorch references with ported weights."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl.nn import DualUpSample, PatchMerging, from_torch_conv_weight
from tests.torch_sunet import TorchPatchMerging, TorchUpSample, randomize

TOL = 1e-5


@settings(max_examples=3, deadline=None)
@given(
    hw=st.sampled_from([(2, 2), (4, 6), (6, 4)]),
    dim=st.sampled_from([2, 4]),
    seed=st.integers(0, 99),
)
def test_patch_merging_matches_torch(hw, dim, seed):
    ref_mod = TorchPatchMerging(hw, dim)
    randomize(ref_mod, seed)
    x = np.random.default_rng(seed).standard_normal((2, hw[0] * hw[1], dim)).astype(np.float32)
    ref = ref_mod(torch.from_numpy(x)).detach().numpy()
    params = {
        "params": {
            "norm": {
                "scale": ref_mod.norm.weight.detach().numpy(),
                "bias": ref_mod.norm.bias.detach().numpy(),
            },
            "reduction": {"kernel": ref_mod.reduction.weight.detach().numpy().T},
        }
    }
    out = PatchMerging(dim, hw).apply(params, jnp.asarray(x))
    chex.assert_shape(out, (2, hw[0] * hw[1] // 4, 2 * dim))
    chex.assert_trees_all_close(out, ref, atol=TOL, rtol=0)
    out4 = PatchMerging(dim).apply(params, jnp.asarray(x).reshape(2, *hw, dim))
    chex.assert_trees_all_close(out4.reshape(out.shape), out, atol=0, rtol=0)


def _conv(m):
    return from_torch_conv_weight(m.weight.detach().numpy())


@pytest.mark.parametrize("factor", [2, 4])
def test_dual_upsample_matches_torch(factor):
    c, (h, w) = 4, (3, 5)
    ref_mod = TorchUpSample(c, factor)
    randomize(ref_mod, factor)
    x = np.random.default_rng(factor).standard_normal((2, h, w, c)).astype(np.float32)
    ref = ref_mod(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).detach().numpy()
    p, b = ref_mod.up_p, ref_mod.up_b
    params = {
        "params": {
            "up_p_0": {"kernel": _conv(p[0])},
            "up_p_1": {"negative_slope": p[1].weight.detach().numpy().reshape(())},
            "up_p_3": {"kernel": _conv(p[3])},
            "up_b_0": {"kernel": _conv(b[0]), "bias": b[0].bias.detach().numpy()},
            "up_b_1": {"negative_slope": b[1].weight.detach().numpy().reshape(())},
            "up_b_3": {"kernel": _conv(b[3])},
            "conv": {"kernel": _conv(ref_mod.conv)},
        }
    }
    model = DualUpSample(c, factor)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, h, w, c)))
    chex.assert_trees_all_equal_shapes(shapes, params)
    out = model.apply(params, jnp.asarray(x))
    out_c = c // 2 if factor == 2 else c
    chex.assert_shape(out, (2, h * factor, w * factor, out_c))
    chex.assert_trees_all_close(out, ref.transpose(0, 2, 3, 1), atol=TOL, rtol=0)
    tokens = DualUpSample(c, factor, (h, w)).apply(params, jnp.asarray(x).reshape(2, h * w, c))
    chex.assert_trees_all_close(tokens, out.reshape(2, -1, out_c), atol=0, rtol=0)


def test_bad_inputs_name_expected_shape():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"\(B, 2\*h, 2\*w, 4\)"):
        jax.eval_shape(PatchMerging(4).init, key, jnp.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"\(B, H, W, 8\)"):  # NCHW given
        jax.eval_shape(DualUpSample(8).init, key, jnp.zeros((1, 8, 4, 4)))
    with pytest.raises(ValueError, match=r"\(B, 4\*4, 8\)"):
        jax.eval_shape(PatchMerging(8, (4, 4)).init, key, jnp.zeros((1, 15, 8)))
    with pytest.raises(ValueError, match="input_resolution"):
        jax.eval_shape(DualUpSample(8).init, key, jnp.zeros((1, 16, 8)))
