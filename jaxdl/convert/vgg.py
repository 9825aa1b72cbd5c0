"""VGG16/VGG19 weights for `jaxdl.models.vgg_features.VGGFeatures`. SPEC: RES-2, RES-3.

Two layouts are read:

- torchvision's (`vgg19-dcbb9e9d.pth`, `vgg16-397923af.pth`): `features.N.weight/bias` where
  N is the layer's index in `vgg{depth}().features` (`vgg_layer_names(depth)[N]`); the
  `classifier.*` keys are not used by a feature extractor and are dropped.
- ESRGAN's MINCNet (`VGG16minc_53.pth`): `conv11.weight` ... `conv53.bias` (conv{b}{i}).

Convs deeper than the model's deepest requested layer are not part of the model and are
dropped; every other key must be present with the right shape (missing/unexpected keys and
shape mismatches raise one ValueError naming them), and a VGG16 file for a VGG19 model (or the
reverse) is reported as such.
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

from jaxdl.convert.loading import key_errors, load_state_dict, to_numpy, torch_to_flax
from jaxdl.models.vgg_features import VGG_BLOCKS, VGGFeatures, vgg_layer_names

_MINC = re.compile(r"conv(\d)(\d)\.(weight|bias)")
_TORCHVISION = re.compile(r"features\.(\d+)\.(weight|bias)")


def _to_layer_names(sd: Mapping[str, Any], depth: int) -> dict[str, np.ndarray]:
    """{`conv{b}_{i}.weight|bias`: array} from either layout (classifier.* dropped)."""
    names = vgg_layer_names(depth)
    out = {}
    for key, value in sd.items():
        key = str(key).removeprefix("module.")
        if key.startswith("classifier."):
            continue
        if m := _TORCHVISION.fullmatch(key):
            index = int(m[1])
            layer = names[index] if index < len(names) else f"features.{index}"
            key = f"{layer}.{m[2]}"
        elif m := _MINC.fullmatch(key):
            key = f"conv{m[1]}_{m[2]}.{m[3]}"
        out[key] = to_numpy(value)
    return out


def vgg_params_from_torch(state_dict: Mapping[str, Any], model: VGGFeatures) -> dict:
    """torchvision-layout or MINCNet VGG state dict → params for `model` (a `VGGFeatures`)."""
    convs = sum(
        1
        for k, v in state_dict.items()
        if not str(k).startswith("classifier.") and str(k).endswith(".weight") and v.ndim == 4
    )
    depth = {sum(VGG_BLOCKS[d]): d for d in VGG_BLOCKS}.get(convs)
    if depth is not None and depth != model.depth:
        raise ValueError(
            f"the state dict holds a VGG{depth} ({convs} convs), the model is "
            f"VGG{model.depth}: build VGGFeatures(depth={depth}, ...)"
        )
    sd = _to_layer_names(state_dict, model.depth)
    x = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
    expected = flatten_dict(jax.eval_shape(model.init, jax.random.key(0), x)["params"])
    wanted = {
        f"{layer}.{'weight' if leaf == 'kernel' else leaf}": (layer, leaf)
        for layer, leaf in expected
    }
    names = vgg_layer_names(model.depth)
    last = max(names.index(layer) for layer, _ in expected)
    deeper = {k for k in sd if k.split(".")[0] in names[last + 1 :]}
    errors = key_errors(wanted, [k for k in sd if k not in deeper])
    flat, mismatched = {}, []
    for name, path in wanted.items():
        if name not in sd:
            continue
        w = torch_to_flax(np.asarray(sd[name], np.float32))
        if w.shape != expected[path].shape:
            mismatched.append(
                f"{name}: checkpoint {sd[name].shape}, expected {expected[path].shape}"
            )
        flat[path] = w
    if mismatched:
        errors.append(f"shape mismatches ({len(mismatched)}): " + "; ".join(mismatched[:10]))
    if errors:
        raise ValueError(
            f"VGG{model.depth} state dict does not match the model: " + " | ".join(errors)
        )
    return unflatten_dict(flat)


def load_vgg(path: str | Path, model: VGGFeatures) -> dict:
    """Params for `model` from a torchvision VGG or MINCNet file (.pth with weights_only=True,
    or .safetensors)."""
    return vgg_params_from_torch(load_state_dict(path), model)
