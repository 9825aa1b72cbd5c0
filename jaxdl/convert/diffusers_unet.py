"""Convert between diffusers `UNet2DModel` state dicts and `jaxdl.models.unet.DDPMUNet` params.

SPEC: DIF-6 (weights: diffusers `google/ddpm-cifar10-32` carries the official Ho et al. 2020
CIFAR-10 weights). Layouts: torch conv (out, in, kh, kw) <-> flax (kh, kw, in, out); torch
Linear (out, in) <-> flax Dense (in, out); the 1x1 `conv_shortcut` conv <-> a Dense kernel.
How to load the official checkpoint: docs/ddpm_weights.md.
"""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict

from jaxdl.convert.loading import (
    find_weights_file,
    key_errors,
    load_state_dict,
    to_numpy,
    torch_to_flax,
)
from jaxdl.models.unet import DDPMUNet

# jaxdl top-level module -> diffusers module; "{up}" is the diffusers up-block index.
_TOP = (
    (r"conv_in", "conv_in"),
    (r"conv_out", "conv_out"),
    (r"norm_out", "conv_norm_out"),
    (r"temb_dense_0", "time_embedding.linear_1"),
    (r"temb_dense_1", "time_embedding.linear_2"),
    (r"mid_res_(\d+)", "mid_block.resnets.{0}"),
    (r"mid_attn", "mid_block.attentions.0"),
    (r"down_(\d+)_res_(\d+)", "down_blocks.{0}.resnets.{1}"),
    (r"down_(\d+)_attn_(\d+)", "down_blocks.{0}.attentions.{1}"),
    (r"down_(\d+)_downsample", "down_blocks.{0}.downsamplers.0"),
    (r"up_(\d+)_res_(\d+)", "up_blocks.{up}.resnets.{1}"),
    (r"up_(\d+)_attn_(\d+)", "up_blocks.{up}.attentions.{1}"),
    (r"up_(\d+)_upsample", "up_blocks.{up}.upsamplers.0"),
)
_SUB = {
    "temb_proj": "time_emb_proj",
    "nin_shortcut": "conv_shortcut",
    "norm": "group_norm",
    "q": "to_q",
    "k": "to_k",
    "v": "to_v",
    "proj_out": "to_out.0",
}
_LEAF = {"kernel": "weight", "scale": "weight", "bias": "bias"}
# Attention names of diffusers checkpoints saved before the `Attention` refactor (old hub files).
_LEGACY_ATTN = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
_LEGACY_RE = re.compile(r"^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$")

# UNet2DModel constructor defaults (diffusers 0.42) for keys a config.json leaves out.
_DIFFUSERS_DEFAULTS = dict(
    sample_size=None,
    in_channels=3,
    out_channels=3,
    center_input_sample=False,
    time_embedding_type="positional",
    time_embedding_dim=None,
    freq_shift=0,
    flip_sin_to_cos=True,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
    mid_block_type="UNetMidBlock2D",
    up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(224, 448, 672, 896),
    layers_per_block=2,
    mid_block_scale_factor=1,
    downsample_padding=1,
    downsample_type="conv",
    upsample_type="conv",
    act_fn="silu",
    attention_head_dim=8,
    norm_num_groups=32,
    attn_norm_num_groups=None,
    norm_eps=1e-5,
    resnet_time_scale_shift="default",
    add_attention=True,
    class_embed_type=None,
    num_class_embeds=None,
)
# Settings DDPMUNet hard-codes (Ho et al.): config key -> required value.
_REQUIRED = dict(
    center_input_sample=False,
    time_embedding_type="positional",
    freq_shift=1,
    flip_sin_to_cos=False,
    mid_block_type="UNetMidBlock2D",
    mid_block_scale_factor=1,
    downsample_padding=0,
    downsample_type="conv",
    upsample_type="conv",
    norm_eps=1e-6,
    resnet_time_scale_shift="default",
    add_attention=True,
    class_embed_type=None,
    num_class_embeds=None,
)


# diffusers `UNet2DModel` config of google/ddpm-cifar10-32 (Ho et al. CIFAR-10 weights).
DDPM_CIFAR10_CONFIG = dict(
    sample_size=32,
    in_channels=3,
    out_channels=3,
    block_out_channels=(128, 256, 256, 256),
    layers_per_block=2,
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=None,
    norm_num_groups=32,
    norm_eps=1e-6,
    act_fn="silu",
    time_embedding_type="positional",
    flip_sin_to_cos=False,
    freq_shift=1,
    downsample_padding=0,
    resnet_time_scale_shift="default",
    center_input_sample=False,
    mid_block_scale_factor=1,
)


def _diffusers_name(path: tuple[str, ...], num_levels: int) -> str:
    """('down_1_res_0', 'conv1', 'kernel') -> 'down_blocks.1.resnets.0.conv1.weight'."""
    top, *sub, leaf = path
    for pattern, target in _TOP:
        m = re.fullmatch(pattern, top)
        if m:
            up = num_levels - 1 - int(m.group(1)) if top.startswith("up_") else None
            name = target.format(*m.groups(), up=up)
            return ".".join([name, *(_SUB.get(s, s) for s in sub), _LEAF[leaf]])
    raise ValueError(f"no diffusers name for jaxdl parameter {'/'.join(path)}")


def _num_levels(flat: Mapping[tuple[str, ...], Any]) -> int:
    levels = [int(m.group(1)) for p in flat if (m := re.match(r"down_(\d+)_", p[0]))]
    return max(levels) + 1


def _to_flax(w: np.ndarray, expected_ndim: int) -> np.ndarray:
    w = torch_to_flax(w)  # a 1x1 conv becomes a Dense (in, out)
    return w[0, 0] if w.ndim == 4 and expected_ndim == 2 and w.shape[:2] == (1, 1) else w


def _to_torch(w: np.ndarray, path: tuple[str, ...]) -> np.ndarray:
    if path[-2:] == ("nin_shortcut", "kernel"):
        w = w[None, None]
    return np.transpose(w, (3, 2, 0, 1)) if w.ndim == 4 else w.T if w.ndim == 2 else w


def _rename_legacy(sd: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(sd)
    for key in list(sd):
        m = _LEGACY_RE.match(key)
        new = m and f"{m.group(1)}.{_LEGACY_ATTN[m.group(2)]}.{m.group(3)}"
        if new and new not in out:
            out[new] = out.pop(key)
    return out


def _expected_params(model: DDPMUNet, image_size: int) -> dict[tuple[str, ...], Any]:
    x = jax.ShapeDtypeStruct((1, image_size, image_size, model.in_ch), jnp.float32)
    t = jax.ShapeDtypeStruct((1,), jnp.int32)
    return flatten_dict(jax.eval_shape(model.init, jax.random.key(0), x, t)["params"])


def _describe(m: DDPMUNet) -> str:
    return (
        f"DDPMUNet(ch={m.ch}, ch_mult={tuple(m.ch_mult)}, num_res_blocks={m.num_res_blocks}, "
        f"attn_resolutions={tuple(m.attn_resolutions)}, in_ch={m.in_ch}, out_ch={m.out_ch})"
    )


def unet_params_from_diffusers(
    state_dict: Mapping[str, Any], model: DDPMUNet | None = None, image_size: int = 32
) -> dict[str, Any]:
    """diffusers `UNet2DModel` state dict (name -> numpy array or torch tensor) -> DDPMUNet params.

    `model` defaults to `DDPMUNet()` (Ho et al. CIFAR-10, the `google/ddpm-cifar10-32` layout);
    `image_size` is the input size, which decides where attention sits. Checkpoints saved with the
    old attention names (query/key/value/proj_attn) are accepted. Missing or unexpected keys and
    shape mismatches raise a ValueError that lists them. Returns {"module": {...}} of float32
    numpy arrays: use as `model.apply({"params": params}, x, t)`. SPEC: DIF-6.
    """
    model = DDPMUNet() if model is None else model
    expected = _expected_params(model, image_size)
    num_levels = _num_levels(expected)
    names = {_diffusers_name(path, num_levels): path for path in expected}
    sd = _rename_legacy(state_dict)
    errors = key_errors(names, sd)
    flat, mismatched = {}, []
    for name, path in names.items():
        if name not in sd:
            continue
        exp = expected[path]
        w = np.asarray(to_numpy(sd[name]), dtype=exp.dtype)
        w = _to_flax(w, len(exp.shape))
        if w.shape != exp.shape:
            want = _to_torch(np.broadcast_to(np.float32(0), exp.shape), path).shape
            mismatched.append(f"{name}: checkpoint {tuple(np.shape(sd[name]))}, expected {want}")
        flat[path] = w
    if mismatched:
        errors.append(f"shape mismatches ({len(mismatched)}): " + "; ".join(mismatched[:20]))
    if errors:
        raise ValueError(
            f"state dict does not match {_describe(model)} at image size {image_size} "
            "(a checkpoint of a different architecture?): " + " | ".join(errors)
        )
    return unflatten_dict(flat)


def unet_state_dict_from_params(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """DDPMUNet params -> diffusers `UNet2DModel` state dict of numpy arrays (inverse of above)."""
    flat = flatten_dict(dict(params))
    num_levels = _num_levels(flat)
    return {_diffusers_name(p, num_levels): _to_torch(np.asarray(w), p) for p, w in flat.items()}


def unet_from_diffusers_config(config: Mapping[str, Any], dropout: float = 0.1) -> DDPMUNet:
    """DDPMUNet for a diffusers `UNet2DModel` config (config.json as a dict). SPEC: DIF-6.

    Raises ValueError naming every setting DDPMUNet cannot reproduce (e.g. `flip_sin_to_cos`
    True, multi-head attention). Missing keys take diffusers' defaults, as diffusers does.
    `dropout` is a training setting diffusers does not keep (Ho et al. CIFAR-10: 0.1).
    """
    cfg = {**_DIFFUSERS_DEFAULTS, **config}
    errors = [f"{k}={cfg[k]!r} (need {v!r})" for k, v in _REQUIRED.items() if cfg[k] != v]
    if cfg["act_fn"] not in ("silu", "swish"):
        errors.append(f"act_fn={cfg['act_fn']!r} (need 'silu')")
    chans = list(cfg["block_out_channels"])
    ch = chans[0]
    if any(c % ch for c in chans):
        errors.append(f"block_out_channels={chans} (need multiples of the first)")
    if cfg["time_embedding_dim"] not in (None, 4 * ch):
        errors.append(f"time_embedding_dim={cfg['time_embedding_dim']} (need None or {4 * ch})")
    if cfg["attn_norm_num_groups"] not in (None, cfg["norm_num_groups"]):
        errors.append(f"attn_norm_num_groups={cfg['attn_norm_num_groups']} (need None)")
    down, up = list(cfg["down_block_types"]), list(cfg["up_block_types"])
    attn_levels = [i for i, b in enumerate(down) if b == "AttnDownBlock2D"]
    if any(b not in ("DownBlock2D", "AttnDownBlock2D") for b in down):
        errors.append(f"down_block_types={down} (need DownBlock2D / AttnDownBlock2D)")
    mirror = ["AttnUpBlock2D" if b == "AttnDownBlock2D" else "UpBlock2D" for b in down[::-1]]
    if up != mirror:
        errors.append(f"up_block_types={up} (need {mirror}, the mirror of down_block_types)")
    head_dim = cfg["attention_head_dim"]
    if head_dim is not None and any(chans[i] != head_dim for i in attn_levels + [len(chans) - 1]):
        errors.append(f"attention_head_dim={head_dim} (need None: single-head attention)")
    size = cfg["sample_size"]
    size = size[0] if isinstance(size, list | tuple) else size
    if size is None:
        errors.append("sample_size=None (need the image size: it places the attention)")
    if errors:
        raise ValueError(
            "diffusers UNet2DModel config differs from DDPMUNet (Ho et al. 2020): "
            + "; ".join(errors)
        )
    return DDPMUNet(
        ch=ch,
        ch_mult=tuple(c // ch for c in chans),
        num_res_blocks=cfg["layers_per_block"],
        attn_resolutions=tuple(size // 2**i for i in attn_levels),
        dropout=dropout,
        out_ch=cfg["out_channels"],
        in_ch=cfg["in_channels"],
        num_groups=cfg["norm_num_groups"],
    )


def load_diffusers_unet(path: str | Path) -> tuple[DDPMUNet, dict[str, Any]]:
    """(model, params) from a diffusers UNet folder (config.json + weights), or its `unet/`."""
    folder = Path(path)
    if (folder / "unet" / "config.json").exists() and not (folder / "config.json").exists():
        folder = folder / "unet"
    config = json.loads((folder / "config.json").read_text())
    model = unet_from_diffusers_config(config)
    size = config["sample_size"]
    size = size[0] if isinstance(size, list | tuple) else size
    params = unet_params_from_diffusers(load_state_dict(find_weights_file(folder)), model, size)
    return model, params
