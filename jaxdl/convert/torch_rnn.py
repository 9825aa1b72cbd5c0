"""`torch.nn.RNN/LSTM/GRU` state dicts -> `jaxdl.nn.recurrent.Recurrent` params. SPEC: SEQ-1.

PyTorch names `weight_ih_l{k}[_reverse]` (G·H, F_k), `weight_hh_l{k}[_reverse]` (G·H, H),
`bias_ih_l{k}[_reverse]`, `bias_hh_l{k}[_reverse]` (G·H,); they become `l{k}[_reverse]/ih|hh`
Dense kernels (transposed) and biases. Gate order is the same on both sides. Every key is
checked: missing ones (e.g. a checkpoint with fewer layers or `bias=False`), unexpected ones
(more layers, `proj_size`'s `weight_hr`) and shape mismatches raise a ValueError naming them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxdl.convert.loading import listing, to_numpy
from jaxdl.nn.recurrent import _GATES, Recurrent


def expected_shapes(model: Recurrent, input_size: int) -> dict[str, tuple[int, ...]]:
    """{PyTorch key: shape} for `model` reading `input_size` features."""
    g, h = _GATES[model.cell] * model.hidden, model.hidden
    suffixes = ("", "_reverse")[: model.directions]
    shapes = {}
    for k in range(model.num_layers):
        f = input_size if k == 0 else h * model.directions
        for s in suffixes:
            shapes[f"weight_ih_l{k}{s}"] = (g, f)
            shapes[f"weight_hh_l{k}{s}"] = (g, h)
            shapes[f"bias_ih_l{k}{s}"] = (g,)
            shapes[f"bias_hh_l{k}{s}"] = (g,)
    return shapes


def torch_rnn_params(
    state_dict: Mapping[str, Any], model: Recurrent, input_size: int, prefix: str = ""
) -> dict:
    """Flax params for `model` from a PyTorch recurrent module's `state_dict()` (tensors or
    numpy arrays). `prefix` selects a submodule's keys in a larger state dict, e.g. "encoder.rnn."
    (other keys are ignored then)."""
    sd = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    want = expected_shapes(model, input_size)
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    if missing or unexpected:
        layers = sorted({int(k.rsplit("_l", 1)[1].split("_")[0]) for k in sd if "_l" in k})
        raise ValueError(
            f"state dict does not fit Recurrent(cell={model.cell!r}, num_layers="
            f"{model.num_layers}, bidirectional={model.bidirectional}; the checkpoint has layers "
            f"{layers}): missing keys [{listing([prefix + k for k in missing])}], "
            f"unexpected keys [{listing([prefix + k for k in unexpected])}]"
        )
    params: dict[str, dict] = {}
    for key, shape in want.items():
        value = to_numpy(sd[key]).astype(np.float32)
        if value.shape != shape:
            raise ValueError(
                f"{prefix}{key}: shape {value.shape} in the checkpoint, the model expects {shape}"
            )
        kind, part, rest = key.split("_", 2)  # weight|bias, ih|hh, l{k}[_reverse]
        leaf = params.setdefault(rest, {}).setdefault(part, {})
        leaf["kernel" if kind == "weight" else "bias"] = value.T if kind == "weight" else value
    return params
