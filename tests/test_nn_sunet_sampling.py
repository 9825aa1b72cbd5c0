"""SUNet PatchMerging and dual up-sample (SPEC RES-1) vs PyTorch references with ported weights."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn as tnn

from jaxdl.nn import DualUpSample, PatchMerging, from_torch_conv_weight

TOL = 1e-5


class TorchPatchMerging(tnn.Module):
    """PatchMerging as in the Swin/SUNet PyTorch code (Liu et al. 2021; RES-1)."""

    def __init__(self, input_resolution, dim):
        super().__init__()
        self.input_resolution, self.dim = input_resolution, dim
        self.reduction = tnn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = tnn.LayerNorm(4 * dim)

    def forward(self, x):
        h, w = self.input_resolution
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        x0, x1 = x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :]
        x2, x3 = x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]
        x = torch.cat([x0, x1, x2, x3], -1).view(b, -1, 4 * c)
        return self.reduction(self.norm(x))


class TorchUpSample(tnn.Module):
    """FanChiMao/SUNet `UpSample` (dual up-sample), on NCHW."""

    def __init__(self, c, factor):
        super().__init__()
        out, mid = (c // 2, 2 * c) if factor == 2 else (c, 16 * c)
        self.conv = tnn.Conv2d(2 * out, out, 1, bias=False)
        self.up_p = tnn.Sequential(
            tnn.Conv2d(c, mid, 1, bias=False),
            tnn.PReLU(),
            tnn.PixelShuffle(factor),
            tnn.Conv2d(out, out, 1, bias=False),
        )
        self.up_b = tnn.Sequential(
            tnn.Conv2d(c, c, 1),
            tnn.PReLU(),
            tnn.Upsample(scale_factor=factor, mode="bilinear", align_corners=False),
            tnn.Conv2d(c, out, 1, bias=False),
        )

    def forward(self, x):
        return self.conv(torch.cat([self.up_p(x), self.up_b(x)], dim=1))


def _randomize(module: tnn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (0.25 if p.numel() == 1 else 0))


@settings(max_examples=3, deadline=None)
@given(
    hw=st.sampled_from([(2, 2), (4, 6), (6, 4)]),
    dim=st.sampled_from([2, 4]),
    seed=st.integers(0, 99),
)
def test_patch_merging_matches_torch(hw, dim, seed):
    ref_mod = TorchPatchMerging(hw, dim)
    _randomize(ref_mod, seed)
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
    _randomize(ref_mod, factor)
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
