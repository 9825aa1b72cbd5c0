"""BasicSR and original-ESRGAN checkpoints → jaxdl SR params. SPEC: RES-2, RES-3, RES-4.

BasicSR saves `{"params": state_dict}` and, when trained with an EMA, also `"params_ema"`; the
EMA weights are preferred. `RRDBNet`, `MSRResNet` and `VGGStyleDiscriminator` use BasicSR's own
parameter names (`body.0.rdb1.conv1.weight` ↔ `body_0/rdb1/conv1/kernel`), so conversion is a
renaming plus the NCHW→NHWC weight transposes. The original ESRGAN release
(`RRDB_ESRGAN_x4.pth`, `RRDB_PSNR_x4.pth`) uses older names, mapped the way BasicSR's conversion
script maps them (`RRDB_trunk.N.RDBk` → `body.N.rdbk`, `trunk_conv` → `conv_body`,
`upconv1/2` → `conv_up1/2`, `HRconv` → `conv_hr`); the first ESRGAN layout (`model.0`,
`model.1.sub.N.RDBk.convj.0`, ..., `model.10`) is read too.

Every converter checks the checkpoint against the model: a checkpoint of another scale, block
count or width is reported by that hyper-parameter; missing or unexpected keys and shape
mismatches raise one ValueError naming them. Files load through `jaxdl.convert.loading`
(`.safetensors`, or torch files with `weights_only=True`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict

from jaxdl.convert.loading import key_errors, listing, load_state_dict, to_numpy, torch_to_flax
from jaxdl.models.rrdbnet import RRDBNet
from jaxdl.models.sr_discriminators import VGGStyleDiscriminator
from jaxdl.models.srresnet import MSRResNet

_WRAPPERS = ("params_ema", "params")
_ESRGAN_RENAMES = (  # original ESRGAN release names → BasicSR's
    (r"^RRDB_trunk\.(\d+)\.RDB(\d)\.", r"body.\1.rdb\2."),
    (r"^trunk_conv\.", "conv_body."),
    (r"^upconv(\d)\.", r"conv_up\1."),
    (r"^HRconv\.", "conv_hr."),
)
_OLD_TOP = {"0": "conv_first", "3": "conv_up1", "6": "conv_up2", "8": "conv_hr", "10": "conv_last"}
_LEAF = {"kernel": "weight", "scale": "weight", "mean": "running_mean", "var": "running_var"}
_FIRST_IN = {4: 1, 2: 4, 1: 16}  # RRDBNet: conv_first input channels per image channel


def unwrap_basicsr(checkpoint: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """{name: numpy array} from a BasicSR checkpoint dict (`params_ema` preferred over `params`)
    or a plain state dict; a DataParallel `module.` prefix is removed."""
    sd = checkpoint
    for wrapper in _WRAPPERS:
        if isinstance(sd.get(wrapper), Mapping):
            sd = sd[wrapper]
            break
    return {str(k).removeprefix("module."): to_numpy(v) for k, v in sd.items()}


def rename_esrgan_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Original ESRGAN release keys → BasicSR `RRDBNet` keys; BasicSR keys pass unchanged."""
    keys = list(state_dict)
    if "model.0.weight" in state_dict:  # the first ESRGAN layout, one nn.Sequential
        trunk = max(int(m.group(1)) for k in keys if (m := re.match(r"model\.1\.sub\.(\d+)\.", k)))
        out = {}
        for key, value in state_dict.items():
            name = key
            if m := re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(\w+)", key):
                name = f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"
            elif m := re.fullmatch(rf"model\.1\.sub\.{trunk}\.(\w+)", key):
                name = f"conv_body.{m[1]}"
            elif (m := re.fullmatch(r"model\.(\d+)\.(\w+)", key)) and m[1] in _OLD_TOP:
                name = f"{_OLD_TOP[m[1]]}.{m[2]}"
            out[name] = value
        return out
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _ESRGAN_RENAMES:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def _torch_name(path: tuple[str, ...]) -> str:
    """Flax path → BasicSR name: body_3/rdb1/conv1/kernel → body.3.rdb1.conv1.weight."""
    head, *rest = path
    head = re.sub(r"^body_(\d+)$", r"body.\1", head)
    return ".".join([head, *rest[:-1], _LEAF.get(rest[-1], rest[-1])])


def _blocks(sd: Mapping[str, Any]) -> int:
    return len({m.group(1) for k in sd if (m := re.match(r"body\.(\d+)\.", k))})


def _need(sd: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    if any(k not in sd for k in keys):
        raise ValueError(
            f"not a {what} state dict: it lacks {[k for k in keys if k not in sd]} "
            f"(keys: {listing(list(sd), 8)})"
        )


def rrdbnet_config_from_state_dict(state_dict: Mapping[str, Any]) -> dict[str, int]:
    """`RRDBNet` constructor arguments read off a BasicSR or ESRGAN state dict's shapes.

    The scale comes from conv_first's input channels (3, 12 or 48 for RGB: ×4, ×2, ×1),
    assuming as many input as output image channels.
    """
    sd = rename_esrgan_keys(unwrap_basicsr(state_dict))
    _need(sd, ("conv_first.weight", "conv_last.weight", "body.0.rdb1.conv1.weight"), "RRDBNet")
    first_in, out = int(sd["conv_first.weight"].shape[1]), int(sd["conv_last.weight"].shape[0])
    scale = {1: 4, 4: 2, 16: 1}.get(first_in // out if first_in % out == 0 else 0)
    if scale is None:
        raise ValueError(
            f"RRDBNet state dict: conv_first takes {first_in} channels for {out} output "
            "channels; expected 1x, 4x or 16x (scale 4, 2, 1)"
        )
    return dict(
        in_channels=first_in // _FIRST_IN[scale],
        out_channels=out,
        scale=scale,
        num_feat=int(sd["conv_first.weight"].shape[0]),
        num_block=_blocks(sd),
        num_grow_ch=int(sd["body.0.rdb1.conv1.weight"].shape[0]),
    )


def msrresnet_config_from_state_dict(state_dict: Mapping[str, Any]) -> dict[str, int]:
    """`MSRResNet` constructor arguments read off a BasicSR state dict's shapes."""
    sd = unwrap_basicsr(state_dict)
    _need(sd, ("conv_first.weight", "upconv1.weight", "conv_last.weight"), "MSRResNet")
    feat = int(sd["conv_first.weight"].shape[0])
    upscale = 4 if "upconv2.weight" in sd else round((sd["upconv1.weight"].shape[0] / feat) ** 0.5)
    return dict(
        in_channels=int(sd["conv_first.weight"].shape[1]),
        out_channels=int(sd["conv_last.weight"].shape[0]),
        num_feat=feat,
        num_block=_blocks(sd),
        upscale=upscale,
    )


def vgg_discriminator_config_from_state_dict(state_dict: Mapping[str, Any]) -> dict[str, int]:
    """`VGGStyleDiscriminator` constructor arguments read off a BasicSR state dict."""
    sd = unwrap_basicsr(state_dict)
    _need(sd, ("conv0_0.weight", "linear1.weight"), "VGGStyleDiscriminator")
    return dict(
        in_channels=int(sd["conv0_0.weight"].shape[1]),
        num_feat=int(sd["conv0_0.weight"].shape[0]),
        input_size=256 if "conv5_0.weight" in sd else 128,
    )


def _check_config(found: dict[str, int], model: nn.Module, what: str) -> None:
    differ = [
        f"{k}: checkpoint {v!r}, model {getattr(model, k)!r}"
        for k, v in found.items()
        if getattr(model, k) != v
    ]
    if differ:
        raise ValueError(f"{what} checkpoint does not fit the model: " + "; ".join(differ))


def _variables(sd: dict[str, np.ndarray], model: nn.Module, x_shape: tuple, what: str) -> dict:
    """Checked {collection: params tree} for `model` from a BasicSR-named state dict."""
    x = jax.ShapeDtypeStruct(x_shape, jnp.float32)
    expected = flatten_dict(jax.eval_shape(model.init, jax.random.key(0), x))
    names = {_torch_name(path[1:]): path for path in expected}
    dropped = {k for k in sd if k.endswith(".num_batches_tracked")}
    errors = key_errors(names, [k for k in sd if k not in dropped])
    flat, mismatched = {}, []
    for name, path in names.items():
        if name not in sd:
            continue
        w = torch_to_flax(np.asarray(sd[name], np.float32))
        if w.shape != expected[path].shape:
            mismatched.append(
                f"{name}: checkpoint {tuple(sd[name].shape)}, expected flax {expected[path].shape}"
            )
        flat[path] = w
    if mismatched:
        errors.append(f"shape mismatches ({len(mismatched)}): " + "; ".join(mismatched[:10]))
    if errors:
        raise ValueError(f"{what} state dict does not match the model: " + " | ".join(errors))
    return unflatten_dict(flat)


def rrdbnet_params_from_basicsr(
    checkpoint: Mapping[str, Any], model: RRDBNet | None = None
) -> dict:
    """BasicSR / ESRGAN RRDBNet checkpoint (numpy arrays or torch tensors) → `model`'s params.

    `model` defaults to the paper's ×4 `RRDBNet()`; a checkpoint of another scale, width or
    block count raises a ValueError naming the differing arguments.
    """
    model = RRDBNet() if model is None else model
    sd = rename_esrgan_keys(unwrap_basicsr(checkpoint))
    _check_config(rrdbnet_config_from_state_dict(sd), model, "RRDBNet")
    size = 4  # divisible by every pixel-unshuffle factor
    return _variables(sd, model, (1, size, size, model.in_channels), "RRDBNet")["params"]


def msrresnet_params_from_basicsr(
    checkpoint: Mapping[str, Any], model: MSRResNet | None = None
) -> dict:
    """BasicSR MSRResNet checkpoint → `model`'s params (default `MSRResNet()`, ×4)."""
    model = MSRResNet() if model is None else model
    sd = unwrap_basicsr(checkpoint)
    _check_config(msrresnet_config_from_state_dict(sd), model, "MSRResNet")
    return _variables(sd, model, (1, 4, 4, model.in_channels), "MSRResNet")["params"]


def vgg_discriminator_variables_from_basicsr(
    checkpoint: Mapping[str, Any], model: VGGStyleDiscriminator | None = None
) -> dict:
    """BasicSR VGGStyleDiscriminator checkpoint → {"params", "batch_stats"} for `model`
    (BatchNorm running statistics included; `num_batches_tracked` is dropped)."""
    model = VGGStyleDiscriminator() if model is None else model
    sd = unwrap_basicsr(checkpoint)
    _check_config(vgg_discriminator_config_from_state_dict(sd), model, "VGGStyleDiscriminator")
    s = model.input_size
    return _variables(sd, model, (1, s, s, model.in_channels), "VGGStyleDiscriminator")


def load_rrdbnet(path: str | Path, model: RRDBNet | None = None) -> tuple[RRDBNet, dict]:
    """(model, params) from a BasicSR / ESRGAN RRDBNet file; the model is built from the
    checkpoint's shapes unless given (then it must match)."""
    sd = load_state_dict(path)
    model = RRDBNet(**rrdbnet_config_from_state_dict(sd)) if model is None else model
    return model, rrdbnet_params_from_basicsr(sd, model)


def load_msrresnet(path: str | Path, model: MSRResNet | None = None) -> tuple[MSRResNet, dict]:
    """(model, params) from a BasicSR MSRResNet file (model from its shapes unless given)."""
    sd = load_state_dict(path)
    model = MSRResNet(**msrresnet_config_from_state_dict(sd)) if model is None else model
    return model, msrresnet_params_from_basicsr(sd, model)


def load_vgg_discriminator(
    path: str | Path, model: VGGStyleDiscriminator | None = None
) -> tuple[VGGStyleDiscriminator, dict]:
    """(model, {"params", "batch_stats"}) from a BasicSR VGGStyleDiscriminator file."""
    sd = load_state_dict(path)
    if model is None:
        model = VGGStyleDiscriminator(**vgg_discriminator_config_from_state_dict(sd))
    return model, vgg_discriminator_variables_from_basicsr(sd, model)
