"""Real-ESRGAN's U-Net SN discriminator: BasicSR/Real-ESRGAN checkpoints → flax variables.

SPEC: RES-4, GAN-7. PyTorch's `spectral_norm` stores `weight_orig` (the raw weight), `weight_u`
(out,) and `weight_v` (in·kh·kw,); in eval mode it uses weight_orig / σ with σ = uᵀ W v from
the stored vectors. These become the kernel and `batch_stats` u, v (v reordered to flax's
(kh, kw, in) flattening) and σ recomputed the same way, so `train=False` reproduces PyTorch's
eval forward. The generator checkpoint `RealESRGAN_x4plus.pth` is an RRDBNet: convert it with
`jaxdl.convert.basicsr`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxdl.convert.loading import key_errors, load_state_dict, to_numpy, torch_to_flax
from jaxdl.models.unet_discriminator_sn import UNetDiscriminatorSN

_PLAIN = ("conv0", "conv9")
_SN = tuple(f"conv{i}" for i in range(1, 9))
_SN_LEAF = "layer_instance/kernel"


def _expected_keys() -> list[str]:
    keys = [f"{c}.{leaf}" for c in _PLAIN for leaf in ("weight", "bias")]
    return keys + [f"{c}.weight_{leaf}" for c in _SN for leaf in ("orig", "u", "v")]


def unet_discriminator_from_torch(
    state_dict: Mapping[str, Any],
) -> tuple[UNetDiscriminatorSN, dict[str, Any]]:
    """(model, {"params", "batch_stats"}) from a `UNetDiscriminatorSN` state dict (a `module.`
    prefix is dropped). Missing or unexpected keys raise, listing them."""
    sd = {str(k).removeprefix("module."): to_numpy(v) for k, v in state_dict.items()}
    errors = key_errors(_expected_keys(), sd)
    if errors:
        raise ValueError("not a UNetDiscriminatorSN state dict: " + "; ".join(errors))
    params: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    for c in _PLAIN:
        w, b = sd[f"{c}.weight"], sd[f"{c}.bias"]
        params[c] = {"kernel": torch_to_flax(w).astype(np.float32), "bias": b.astype(np.float32)}
    for c in _SN:
        w = sd[f"{c}.weight_orig"].astype(np.float32)
        u, v = sd[f"{c}.weight_u"].astype(np.float32), sd[f"{c}.weight_v"].astype(np.float32)
        out, cin, kh, kw = w.shape
        if u.shape != (out,) or v.shape != (cin * kh * kw,):
            raise ValueError(
                f"{c}: weight_u/weight_v must have shapes ({out},)/({cin * kh * kw},), "
                f"got {u.shape}/{v.shape}"
            )
        sigma = np.float32(u @ (w.reshape(out, -1) @ v))
        params[c] = {"layer_instance": {"kernel": torch_to_flax(w)}}
        stats[c] = {
            f"{_SN_LEAF}/u": u,
            f"{_SN_LEAF}/v": v.reshape(cin, kh, kw).transpose(1, 2, 0).reshape(-1),
            f"{_SN_LEAF}/sigma": sigma,
        }
    model = UNetDiscriminatorSN(num_feat=sd["conv0.weight"].shape[0])
    return model, {"params": params, "batch_stats": stats}


def load_unet_discriminator(path: str | Path) -> tuple[UNetDiscriminatorSN, dict[str, Any]]:
    """Load e.g. `RealESRGAN_x4plus_netD.pth` (BasicSR's {"params": ...} wrapper is unwrapped;
    torch files with `weights_only=True`)."""
    return unet_discriminator_from_torch(load_state_dict(path))
