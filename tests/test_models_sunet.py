"""SUNet (SPEC RES-1) against a PyTorch re-expression written from the papers, through the
official-checkpoint converter; parameter count of the paper configuration; bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxdl.convert.sunet import (
    config_from_state_dict,
    load_sunet,
    sunet_params_from_torch,
    sunet_state_dict_from_params,
)
from jaxdl.models.sunet import SUNet, SwinBlock, init_params, pad_to_multiple, size_multiple
from tests.torch_sunet import TorchSUNet, TorchSwinBlock, randomize

TOL = 1e-4
TINY = dict(embed=8, heads=(2, 2, 2, 2), window=2, patch=4)


def _official_checkpoint(net, path, prefix="module.swin_unet."):
    sd = {prefix + k: v for k, v in net.state_dict().items()}
    torch.save({"epoch": 3, "state_dict": sd, "optimizer": {"state": {}, "param_groups": []}}, path)
    return sd


@pytest.mark.parametrize("depths", [(2, 2, 2, 2), (1, 1, 1, 1)])
def test_whole_network_matches_torch_through_the_checkpoint(tmp_path, depths):
    hw = (64, 128)  # stage maps 16x32 ... 2x4: the last stage is one window, unshifted
    net = TorchSUNet(hw, depths=depths, **TINY).eval()
    randomize(net, seed=sum(depths), scale=0.3)
    sd = _official_checkpoint(net, tmp_path / "model_bestPSNR.pth")
    assert any(k.endswith("attn_mask") for k in sd) == (depths[0] > 1)
    x = np.random.default_rng(0).uniform(0, 1, (2, *hw, 3)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    model, params = load_sunet(tmp_path / "model_bestPSNR.pth")
    assert (model.embed_dim, tuple(model.depths), model.window_size) == (8, depths, 2)
    out = jax.jit(lambda p, v: model.apply({"params": p}, v))(params, jnp.asarray(x))
    chex.assert_shape(out, (2, *hw, 3))
    chex.assert_type(out, jnp.float32)
    assert np.abs(ref).max() > 0.1
    chex.assert_trees_all_close(out, ref, atol=TOL * max(1.0, np.abs(ref).max()), rtol=0)
    # The inverse mapping gives back the official names and values.
    back = sunet_state_dict_from_params(params)
    stripped = {k.removeprefix("module.swin_unet."): v for k, v in sd.items()}
    assert set(back) == {
        k
        for k in stripped
        if not k.endswith(("relative_position_index", "attn_mask", "prelu.weight"))
    }
    for k, v in back.items():
        np.testing.assert_array_equal(v, stripped[k].numpy(), err_msg=k)


@pytest.mark.parametrize("shift", [0, 2])
def test_swin_block_matches_torch(shift):
    block = TorchSwinBlock(16, (8, 8), heads=4, window=4, shift=shift, mlp_ratio=4.0, qk_scale=None)
    randomize(block, seed=shift, scale=0.3)
    x = np.random.default_rng(shift).standard_normal((2, 64, 16)).astype(np.float32)
    with torch.no_grad():
        ref = block(torch.from_numpy(x)).numpy()
    t = {k: v.numpy() for k, v in block.state_dict().items()}
    params = {
        "norm1": {"scale": t["norm1.weight"], "bias": t["norm1.bias"]},
        "norm2": {"scale": t["norm2.weight"], "bias": t["norm2.bias"]},
        "attn": {
            "attn": {
                "relative_position_bias_table": t["attn.relative_position_bias_table"],
                "qkv": {"kernel": t["attn.qkv.weight"].T, "bias": t["attn.qkv.bias"]},
                "proj": {"kernel": t["attn.proj.weight"].T, "bias": t["attn.proj.bias"]},
            }
        },
        "fc1": {"kernel": t["mlp.fc1.weight"].T, "bias": t["mlp.fc1.bias"]},
        "fc2": {"kernel": t["mlp.fc2.weight"].T, "bias": t["mlp.fc2.bias"]},
    }
    out = SwinBlock(16, 4, 4, shift).apply({"params": params}, jnp.asarray(x).reshape(2, 8, 8, 16))
    chex.assert_trees_all_close(out.reshape(ref.shape), ref, atol=TOL, rtol=0)


def test_paper_configuration_parameter_count():
    model = SUNet()  # embed 96, depths/heads [8,8,8,8], window 8, patch 4
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 256, 256, 3)))
    ours = sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes))
    torch_count = sum(p.numel() for p in TorchSUNet((256, 256)).parameters())
    assert ours + 1 == torch_count  # the official model also holds an unused PReLU slope
    assert round(torch_count / 1e6, 1) == 99.7  # the official repository's figure
    assert size_multiple(model) == 256


def test_converter_names_what_differs(tmp_path):
    net = TorchSUNet((64, 64), depths=(1, 1, 1, 1), **TINY)
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    small = SUNet(8, (1, 1, 1, 1), (2, 2, 2, 2), window_size=2)
    sunet_params_from_torch(sd, small)  # fits
    with pytest.raises(
        ValueError, match=r"depths: checkpoint \(1, 1, 1, 1\), model \(8, 8, 8, 8\)"
    ):
        sunet_params_from_torch(sd)
    with pytest.raises(ValueError, match=r"embed_dim: checkpoint 8, model 16"):
        sunet_params_from_torch(sd, SUNet(16, (1, 1, 1, 1), (2, 2, 2, 2), window_size=2))
    broken = dict(sd)
    del broken["layers_up.1.blocks.0.mlp.fc2.bias"]
    broken["layers.0.blocks.0.attn.extra"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError) as err:
        sunet_params_from_torch(broken, small)
    assert "missing keys (1): layers_up.1.blocks.0.mlp.fc2.bias" in str(err.value)
    assert "unexpected keys (1): layers.0.blocks.0.attn.extra" in str(err.value)
    broken = dict(sd, **{"norm_up.bias": np.zeros(9, np.float32)})
    with pytest.raises(ValueError, match=r"norm_up.bias: checkpoint \(9,\)"):
        sunet_params_from_torch(broken, small)
    with pytest.raises(ValueError, match="not a SUNet state dict"):
        config_from_state_dict({"weight": np.zeros(3)})


def test_bad_input_and_padding():
    model = SUNet(8, (1, 1), (2, 2), window_size=4)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\)"):
        jax.eval_shape(model.init, key, jnp.zeros((1, 3, 32, 32)))
    with pytest.raises(ValueError, match="divisible by 8"):
        jax.eval_shape(model.init, key, jnp.zeros((1, 36, 32, 3)))
    with pytest.raises(ValueError, match="not divisible by the window 4"):
        jax.eval_shape(model.init, key, jnp.zeros((1, 40, 48, 3)))  # 10x12 map, window 4
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(1, 37, 50, 3)), jnp.float32)
    padded, (h, w) = pad_to_multiple(x, size_multiple(model))
    chex.assert_shape(padded, (1, 64, 64, 3))
    chex.assert_trees_all_close(padded[:, :h, :w], x)
    params = init_params(model, key, 32)  # the official init: Linear kernels ~ N(0, 0.02²)
    qkv = params["layers_0"]["blocks_0"]["attn"]["attn"]["qkv"]["kernel"]
    assert 0.015 < float(jnp.std(qkv)) < 0.02 and float(jnp.abs(qkv).max()) <= 0.04
    assert float(jnp.std(params["conv_first"]["kernel"])) > 0.05  # convolutions untouched
    out = jax.jit(model.apply)({"params": params}, padded)[:, :h, :w]
    chex.assert_shape(out, x.shape)
    # Drop path is active only in training and needs a key.
    big = SUNet(8, (1, 1), (2, 2), window_size=4, drop_path_rate=0.5)
    p = {"params": jax.jit(big.init)(key, padded)["params"]}
    train = jax.jit(lambda k: big.apply(p, padded, train=True, rngs={"dropout": k}))
    assert not np.allclose(train(jax.random.key(1)), train(jax.random.key(2)))
    evaluate = jax.jit(lambda: big.apply(p, padded))
    chex.assert_trees_all_close(evaluate(), evaluate())
