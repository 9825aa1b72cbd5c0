"""`torch.nn.Transformer` state dict -> `jaxdl.models.transformer` params. SPEC: SEQ-3.

torch's `nn.Transformer(d_model, nhead, ...)` holds `encoder.layers.{i}` and
`decoder.layers.{i}` (`self_attn.in_proj_weight` (3D, D) = query/key/value stacked,
`self_attn.out_proj`, decoder `multihead_attn`, `linear1`, `linear2`, `norm1..3`) and the final
`encoder.norm` / `decoder.norm`, which it has for both norm placements (so the jaxdl model needs
`final_norm=True`). Linear weights (out, in) become Dense kernels (in, out).
"""

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jaxdl.convert.loading import listing, to_numpy
from jaxdl.models.transformer import Transformer

_QKV = ("query", "key", "value")
_TORCH_MODULE = {"cross_attn": "multihead_attn"}


def _torch_name(path: tuple[str, ...]) -> tuple[str, int | None]:
    """jaxdl param path -> (torch name, q/k/v chunk index or None)."""
    stack, *rest = path  # "encoder" | "decoder"
    parts, chunk = [stack], None
    if rest[0].startswith("layers_"):
        parts += ["layers", rest[0].removeprefix("layers_")]
        rest = rest[1:]
    module, *sub = rest
    parts.append(_TORCH_MODULE.get(module, module))
    leaf = sub[-1]
    if module.endswith("attn"):
        if sub[0] in _QKV:
            chunk = _QKV.index(sub[0])
            return ".".join(parts + [f"in_proj_{'weight' if leaf == 'kernel' else 'bias'}"]), chunk
        parts.append("out_proj")
    parts.append({"kernel": "weight", "scale": "weight"}.get(leaf, leaf))
    return ".".join(parts), chunk


def transformer_params_from_torch(
    state_dict: Mapping[str, Any], model: Transformer, prefix: str = ""
) -> dict:
    """{"encoder": ..., "decoder": ...} params for `model`'s stacks from a torch state dict.

    Put them into a `Transformer`'s params (its embeddings are not part of `nn.Transformer`) or
    apply `TransformerEncoder`/`TransformerDecoder` with them directly. `prefix` strips a
    leading name such as "transformer.". Missing or unexpected keys and shape mismatches (for
    example a different layer count, width or feed-forward size) raise a ValueError naming them.
    """
    sd = {
        k.removeprefix(prefix): to_numpy(v) for k, v in state_dict.items() if k.startswith(prefix)
    }
    src = jnp.zeros((1, 2), jnp.int32)
    shapes = jax.eval_shape(model.init, jax.random.key(0), src, src)["params"]
    expected = {
        path: leaf.shape
        for path, leaf in traverse_util.flatten_dict(
            {k: shapes[k] for k in ("encoder", "decoder")}
        ).items()
    }
    names = {path: _torch_name(path) for path in expected}
    used = {name for name, _ in names.values()}
    missing = sorted(used - sd.keys())
    unexpected = sorted(sd.keys() - used)
    if missing or unexpected:
        raise ValueError(
            "torch.nn.Transformer state dict does not match the model "
            f"({model.num_encoder_layers}+{model.num_decoder_layers} layers, final_norm="
            f"{model.final_norm if model.final_norm is not None else model.norm_first}): "
            f"missing {listing(missing) or 'none'}; unexpected {listing(unexpected) or 'none'}"
        )
    flat, wrong = {}, []
    for path, shape in expected.items():
        name, chunk = names[path]
        w = sd[name]
        if chunk is not None:
            w = np.split(w, 3, axis=0)[chunk]
        w = w.T if w.ndim == 2 else w
        if w.shape != shape:
            wrong.append(f"{name} gives {w.shape} for {'/'.join(path)}, model expects {shape}")
        flat[path] = np.asarray(w, np.float32)
    if wrong:
        raise ValueError("shape mismatch: " + "; ".join(wrong))
    return traverse_util.unflatten_dict(flat)
