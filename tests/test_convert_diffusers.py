"""diffusers UNet2DModel -> DDPMUNet conversion (SPEC DIF-6): parity, size, bad checkpoints."""

import json
import pickle

import chex
import diffusers
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxdl.convert import (
    load_diffusers_unet,
    load_state_dict,
    unet_from_diffusers_config,
    unet_params_from_diffusers,
    unet_state_dict_from_params,
)
from jaxdl.convert.diffusers_unet import DDPM_CIFAR10_CONFIG
from jaxdl.models.unet import CIFAR10_NUM_PARAMS, DDPMUNet

CIFAR_CONFIG = DDPM_CIFAR10_CONFIG
# Same block structure, small: 16/8/4 resolutions, attention at 8x8.
SMALL_CONFIG = {
    **CIFAR_CONFIG,
    "sample_size": 16,
    "block_out_channels": (32, 64, 64),
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
}
SMALL = DDPMUNet(ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(8,), num_groups=8)


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    net = diffusers.UNet2DModel(**SMALL_CONFIG).eval()
    with torch.no_grad():  # also move GroupNorm scales/biases off 1/0 so a mix-up shows
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    sd = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    return net, sd


def test_parity_with_diffusers(small):
    net, sd = small
    params = unet_params_from_diffusers(sd, SMALL, image_size=16)
    x = np.random.RandomState(0).standard_normal((3, 16, 16, 3)).astype(np.float32)
    t = np.array([0, 999, 417])
    with torch.no_grad():
        ref = net(torch.from_numpy(x.transpose(0, 3, 1, 2)), torch.from_numpy(t)).sample
    ref = ref.numpy().transpose(0, 2, 3, 1)
    out = jax.jit(lambda p, x, t: SMALL.apply({"params": p}, x, t, train=False))(params, x, t)
    err = float(np.abs(np.asarray(out) - ref).max())
    assert err <= 1e-4, err
    assert np.abs(ref).max() > 0.5  # a non-trivial output
    # Torch tensors and the pre-refactor attention names (query/key/value/proj_attn) convert too.
    legacy = {
        k.replace("to_q", "query")
        .replace("to_k", "key")
        .replace("to_v", "value")
        .replace("to_out.0", "proj_attn"): torch.from_numpy(v)
        for k, v in sd.items()
    }
    chex.assert_trees_all_equal(unet_params_from_diffusers(legacy, SMALL, 16), params)
    # The inverse gives the diffusers state dict back exactly.
    back = unet_state_dict_from_params(params)
    assert back.keys() == sd.keys()
    for k, v in sd.items():
        np.testing.assert_array_equal(back[k], v, err_msg=k)


def test_full_cifar10_model_matches_diffusers():
    """The 35.7M CIFAR-10 configuration, randomly initialised by diffusers (GroupNorm scales and
    biases moved off 1/0), converted, one forward at batch 2: largest difference 2.6e-6 on outputs
    up to 1.5 (float32 rounding: each side is 1.5e-6 / 2.3e-6 from a float64 run); asserted at
    1e-5 as docs/ddpm_weights.md states."""
    torch.manual_seed(0)
    net = diffusers.UNet2DModel(**CIFAR_CONFIG).eval()
    with torch.no_grad():
        for p in net.parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    assert sum(p.numel() for p in net.parameters()) == CIFAR10_NUM_PARAMS
    params = unet_params_from_diffusers({k: v.numpy() for k, v in net.state_dict().items()})
    x = np.random.RandomState(1).standard_normal((2, 32, 32, 3)).astype(np.float32)
    t = np.array([3, 871])
    with torch.no_grad():
        ref = net(torch.from_numpy(x.transpose(0, 3, 1, 2)), torch.from_numpy(t)).sample
    ref = ref.numpy().transpose(0, 2, 3, 1)
    model = DDPMUNet()
    fwd = jax.jit(lambda p, x, t: model.apply({"params": p}, x, t, train=False))
    # LLVM optimisation off: half the compile time of this one-off forward, same HLO.
    fwd = fwd.lower(params, x, t).compile({"xla_backend_optimization_level": 0})
    err = float(np.abs(np.asarray(fwd(params, x, t)) - ref).max())
    assert err <= 1e-5, err
    assert np.abs(ref).max() > 1.0 and ref.std() > 0.2  # a non-trivial output


def test_config_maps_to_ddpmunet():
    assert unet_from_diffusers_config(SMALL_CONFIG) == SMALL
    assert unet_from_diffusers_config(CIFAR_CONFIG) == DDPMUNet()


def test_cifar10_size_and_layout_match_diffusers():
    with torch.device("meta"):
        net = diffusers.UNet2DModel(**CIFAR_CONFIG)
    assert sum(p.numel() for p in net.parameters()) == CIFAR10_NUM_PARAMS == 35_746_307
    # Zero-stride views: the full 35.7M state dict converts without materializing it.
    sd = {k: np.broadcast_to(np.float32(0), tuple(v.shape)) for k, v in net.state_dict().items()}
    params = unet_params_from_diffusers(sd)
    shapes = jax.eval_shape(
        DDPMUNet().init,
        jax.random.key(0),
        jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32),
        jax.ShapeDtypeStruct((1,), jnp.int32),
    )["params"]
    chex.assert_trees_all_equal_shapes(params, shapes)


def test_bad_state_dicts_name_what_differs(small):
    _, sd = small
    missing = {k: v for k, v in sd.items() if k != "mid_block.attentions.0.to_k.bias"}
    with pytest.raises(ValueError, match=r"missing keys \(1\): mid_block.attentions.0.to_k.bias"):
        unet_params_from_diffusers(missing, SMALL, 16)
    extra = {**sd, "class_embedding.weight": np.zeros((10, 128), np.float32)}
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): class_embedding.weight"):
        unet_params_from_diffusers(extra, SMALL, 16)
    bad = {**sd, "conv_in.weight": np.zeros((32, 6, 3, 3), np.float32)}
    msg = r"conv_in.weight: checkpoint \(32, 6, 3, 3\), expected \(32, 3, 3, 3\)"
    with pytest.raises(ValueError, match=msg):
        unet_params_from_diffusers(bad, SMALL, 16)
    # Another architecture: the small checkpoint against the CIFAR-10 model.
    with pytest.raises(ValueError, match=r"missing keys \(166\): down_blocks.0.resnets.1") as e:
        unet_params_from_diffusers(sd)
    assert "conv_in.weight: checkpoint (32, 3, 3, 3), expected (128, 3, 3, 3)" in str(e.value)
    assert "unexpected keys (20): up_blocks.1.attentions.0" in str(e.value)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"flip_sin_to_cos": True}, "flip_sin_to_cos=True"),
        ({"freq_shift": 0}, "freq_shift=0"),
        ({"downsample_padding": 1}, "downsample_padding=1"),
        ({"attention_head_dim": 8}, "attention_head_dim=8"),
        ({"up_block_types": ("UpBlock2D", "UpBlock2D", "AttnUpBlock2D")}, "mirror"),
        ({"norm_eps": 1e-5}, "norm_eps"),
    ],
)
def test_unsupported_configs_raise(change, match):
    with pytest.raises(ValueError, match=match):
        unet_from_diffusers_config({**SMALL_CONFIG, **change})


def test_loading_files_and_folders(small, tmp_path):
    net, sd = small
    net.save_pretrained(tmp_path / "unet", safe_serialization=True)  # config.json + .safetensors
    torch.save(net.state_dict(), tmp_path / "weights.bin")
    for path in (tmp_path / "unet", tmp_path / "weights.bin"):
        loaded = load_state_dict(path)
        assert loaded.keys() == sd.keys()
        for k, v in sd.items():
            np.testing.assert_array_equal(loaded[k], v, err_msg=k)
    model, params = load_diffusers_unet(tmp_path)  # finds the unet/ sub-folder
    assert model == unet_from_diffusers_config(
        json.loads((tmp_path / "unet/config.json").read_text())
    )
    chex.assert_trees_all_equal(params, unet_params_from_diffusers(sd, SMALL, 16))
    torch.save({"weights": sd, "hook": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):  # weights_only=True refuses arbitrary objects
        load_state_dict(tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        load_state_dict(tmp_path / "weights.npz")


class _Evil:
    """Stands for an arbitrary pickled object."""
