"""pytorch-fid InceptionV3 state dict -> `jaxdl.models.inception.FIDInceptionV3` variables.

SPEC: DIF-6 (FID / Inception Score of DDPM on CIFAR-10). The weights are pytorch-fid's port of
TensorFlow's 2015-12-05 Inception graph (`pt_inception-2015-12-05-6726825d.pth`, see
`FID_WEIGHTS_URL`); jaxdl ships none. Names: `Mixed_5b.branch1x1.conv.weight` <->
params/Mixed_5b/branch1x1/conv/kernel; `*.bn.weight|bias` <-> params `scale|bias`;
`*.bn.running_mean|running_var` <-> batch_stats `mean|var`; `fc.weight|bias` <-> fc kernel|bias.
Layouts: conv (out, in, kh, kw) -> (kh, kw, in, out); Linear (out, in) -> (in, out).
How to get and load the file: docs/fid_inception.md.
"""

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict

from jaxdl.convert.loading import key_errors, load_state_dict, to_numpy, torch_to_flax
from jaxdl.models.inception import FIDInceptionV3

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
# BatchNorm's step counter: present in state dicts of newer torch, carries no weights.
_IGNORED_SUFFIX = ".num_batches_tracked"
_LEAF = {
    ("params", "kernel"): "weight",
    ("params", "scale"): "weight",
    ("params", "bias"): "bias",
    ("batch_stats", "mean"): "running_mean",
    ("batch_stats", "var"): "running_var",
}


@cache
def _expected() -> dict[tuple[str, ...], tuple[int, ...]]:
    """{(collection, *module path, leaf): flax shape} of FIDInceptionV3 (input size is free)."""
    x = jax.ShapeDtypeStruct((1, 75, 75, 3), jnp.float32)
    shapes = jax.eval_shape(FIDInceptionV3().init, jax.random.key(0), x)
    return {path: tuple(s.shape) for path, s in flatten_dict(shapes).items()}


def _torch_name(path: tuple[str, ...]) -> str:
    """('params', 'Mixed_5b', 'branch1x1', 'conv', 'kernel') -> 'Mixed_5b.branch1x1.conv.weight'."""
    collection, *modules, leaf = path
    return ".".join([*modules, _LEAF[collection, leaf]])


def _torch_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    if len(shape) == 4:
        return (shape[3], shape[2], shape[0], shape[1])
    return shape[::-1] if len(shape) == 2 else shape


def inception_params_from_torch(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """pytorch-fid `fid_inception_v3()` state dict (numpy arrays or torch tensors) -> variables.

    Returns {"params": ..., "batch_stats": ...} of float32 numpy arrays, for
    `FIDInceptionV3().apply(variables, x)`. `*.num_batches_tracked` entries are ignored. Missing
    or unexpected keys and shape mismatches raise a ValueError that lists them (torch layout).
    """
    names = {_torch_name(path): path for path in _expected()}
    keys = [str(k) for k in state_dict if not str(k).endswith(_IGNORED_SUFFIX)]
    flat, mismatched = {}, []
    for name, path in names.items():
        if name not in state_dict:
            continue
        w = np.asarray(to_numpy(state_dict[name]), np.float32)
        want = _torch_shape(_expected()[path])
        if w.shape != want:
            mismatched.append(f"{name}: expected {want}, got {w.shape}")
            continue
        flat[path] = torch_to_flax(w)
    errors = key_errors(names, keys)
    if mismatched:
        errors.append(f"shape mismatches ({len(mismatched)}): " + "; ".join(mismatched[:20]))
    if errors:
        hint = ""
        if any(k.startswith("blocks.") for k in keys):
            hint = (
                " (keys 'blocks.*' are pytorch_fid.InceptionV3's wrapper, which drops fc: use "
                "the released Inception3 state dict instead)"
            )
        raise ValueError(
            "state dict is not pytorch-fid's FID InceptionV3 (fid_inception_v3, "
            f"{FID_WEIGHTS_URL}){hint}: " + " | ".join(errors)
        )
    return unflatten_dict(flat)


def load_inception(path: str | Path) -> dict[str, Any]:
    """FIDInceptionV3 variables from pytorch-fid's weights as `.safetensors` or torch `.pth`/`.pt`.

    Torch files are read with `torch.load(..., weights_only=True)` and need PyTorch installed
    (`pip install torch`), or convert them to .safetensors once (docs/fid_inception.md).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no Inception weights file at {path}: jaxdl ships none. Download pytorch-fid's "
            f"FID Inception weights from {FID_WEIGHTS_URL} (see docs/fid_inception.md)"
        )
    return inception_params_from_torch(load_state_dict(path))
