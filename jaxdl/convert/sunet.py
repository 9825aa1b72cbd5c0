"""SUNet weights from the official PyTorch checkpoint layout (Fan et al. 2022; SPEC RES-1).

The official training script saves `{"epoch", "state_dict", "optimizer"}` with keys prefixed
`swin_unet.` (and `module.` when trained under DataParallel). The state dict also holds buffers
(`relative_position_index`, `attn_mask`) that jaxdl recomputes, and an unused `prelu.weight`;
those are dropped. Everything else must match the model exactly: missing or unexpected keys and
shape mismatches raise one ValueError naming them, and a checkpoint of another width, depth,
head count or window is reported by the hyper-parameter that differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict

from jaxdl.convert.loading import key_errors, listing, load_state_dict, to_numpy, torch_to_flax
from jaxdl.models.sunet import SUNet, size_multiple

_PREFIXES = ("module.", "swin_unet.")
_DROPPED = re.compile(r"(^|\.)(relative_position_index|attn_mask)$|^prelu\.weight$")
_LEAF = {"kernel": "weight", "scale": "weight", "negative_slope": "weight"}


def _torch_name(path: tuple[str, ...]) -> str:
    """Flax path -> official name, e.g. layers_0/blocks_1/attn/attn/qkv/kernel ->
    layers.0.blocks.1.attn.qkv.weight."""
    head, *mid, leaf = path
    if head == "patch_embed":
        out = ["patch_embed", "proj"]
    elif head == "patch_norm":
        out = ["patch_embed", "norm"]
    elif m := re.fullmatch(r"downsample_(\d+)", head):
        out = ["layers", m.group(1), "downsample"]
    elif m := re.fullmatch(r"upsample_(\d+)", head):
        out = ["layers_up", m.group(1), "upsample"]
    elif m := re.fullmatch(r"(layers|layers_up|concat_back_dim)_(\d+)", head):
        out = [m.group(1), m.group(2)]
    else:
        out = [head]
    for part in mid:
        if part == "attn" and out[-1] == "attn":  # ShiftedWindowAttention around WindowAttention
            continue
        if m := re.fullmatch(r"(blocks|up_p|up_b)_(\d+)", part):
            out += [m.group(1), m.group(2)]
        elif part in ("fc1", "fc2"):
            out += ["mlp", part]
        else:
            out.append(part)
    return ".".join([*out, _LEAF.get(leaf, leaf)])


def strip_checkpoint(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Official keys -> model keys: prefixes `module.`/`swin_unet.` and recomputed buffers go."""
    out = {}
    for key, value in state_dict.items():
        name = str(key)
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        if not _DROPPED.search(name):
            out[name] = to_numpy(value)
    return out


def config_from_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """SUNet constructor arguments read off a (stripped or official) state dict's shapes."""
    sd = strip_checkpoint(state_dict)
    if "conv_first.weight" not in sd or "patch_embed.proj.weight" not in sd:
        raise ValueError(
            "not a SUNet state dict: no conv_first.weight / patch_embed.proj.weight "
            f"(keys: {listing(list(sd), 8)})"
        )
    stages = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"layers\.(\d+)\.", k)))
    depths, heads = [], []
    for i in range(stages):
        blocks = {
            int(m.group(1)) for k in sd if (m := re.match(rf"layers\.{i}\.blocks\.(\d+)\.", k))
        }
        depths.append(len(blocks))
        heads.append(int(sd[f"layers.{i}.blocks.0.attn.relative_position_bias_table"].shape[1]))
    table = sd["layers.0.blocks.0.attn.relative_position_bias_table"].shape[0]
    return dict(
        embed_dim=int(sd["conv_first.weight"].shape[0]),
        depths=tuple(depths),
        num_heads=tuple(heads),
        window_size=(round(table**0.5) + 1) // 2,
        patch_size=int(sd["patch_embed.proj.weight"].shape[-1]),
        mlp_ratio=sd["layers.0.blocks.0.mlp.fc1.weight"].shape[0]
        / sd["conv_first.weight"].shape[0],
        qkv_bias="layers.0.blocks.0.attn.qkv.bias" in sd,
        patch_norm="patch_embed.norm.weight" in sd,
        in_channels=int(sd["conv_first.weight"].shape[1]),
        out_channels=int(sd["output.weight"].shape[0]),
    )


def _expected(model: SUNet) -> dict[tuple[str, ...], jax.ShapeDtypeStruct]:
    m = size_multiple(model)
    x = jax.ShapeDtypeStruct((1, m, m, model.in_channels), jnp.float32)
    return flatten_dict(jax.eval_shape(model.init, jax.random.key(0), x)["params"])


def sunet_params_from_torch(state_dict: Mapping[str, Any], model: SUNet | None = None) -> dict:
    """Official SUNet state dict (numpy arrays or torch tensors) -> params for `model`.

    `model` defaults to the paper's `SUNet()`. Returns float32 numpy params for
    `model.apply({"params": params}, images)`.
    """
    model = SUNet() if model is None else model
    sd = strip_checkpoint(state_dict)
    found = config_from_state_dict(sd)
    ours = {k: getattr(model, k) for k in found}
    ours = {k: tuple(v) if isinstance(found[k], tuple) else v for k, v in ours.items()}
    differ = [f"{k}: checkpoint {v!r}, model {ours[k]!r}" for k, v in found.items() if ours[k] != v]
    if differ:
        raise ValueError("SUNet checkpoint does not fit the model: " + "; ".join(differ))
    expected = _expected(model)
    names = {_torch_name(path): path for path in expected}
    errors = key_errors(names, sd)
    flat, mismatched = {}, []
    for name, path in names.items():
        if name not in sd:
            continue
        want = expected[path].shape
        w = np.asarray(sd[name], np.float32)
        w = torch_to_flax(w) if path[-1] == "kernel" else w
        if w.shape != want and w.size == int(np.prod(want)) and w.ndim <= 1:
            w = w.reshape(want)  # PReLU: torch (1,), flax ()
        if w.shape != want:
            mismatched.append(f"{name}: checkpoint {tuple(sd[name].shape)}, expected flax {want}")
        flat[path] = w
    if mismatched:
        errors.append(f"shape mismatches ({len(mismatched)}): " + "; ".join(mismatched[:10]))
    if errors:
        raise ValueError("SUNet state dict does not match the model: " + " | ".join(errors))
    return unflatten_dict(flat)


def sunet_state_dict_from_params(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Params -> official-layout state dict (no prefix, no buffers): the inverse mapping."""
    out = {}
    for path, w in flatten_dict(dict(params)).items():
        w = np.asarray(w)
        if w.ndim == 4:
            w = np.transpose(w, (3, 2, 0, 1))
        elif w.ndim == 2 and path[-1] == "kernel":
            w = w.T
        elif w.ndim == 0:
            w = w.reshape(1)
        out[_torch_name(path)] = w
    return out


def load_sunet(path: str | Path, model: SUNet | None = None) -> tuple[SUNet, dict]:
    """(model, params) from an official checkpoint file (`.pth` read with weights_only=True, or
    `.safetensors`); the model is built from the checkpoint's shapes unless given."""
    sd = strip_checkpoint(load_state_dict(path))
    model = SUNet(**config_from_state_dict(sd)) if model is None else model
    return model, sunet_params_from_torch(sd, model)
