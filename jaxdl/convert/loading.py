"""Load PyTorch-side checkpoints as {name: numpy array} without unpickling arbitrary objects.

`.safetensors` files are read with `safetensors.numpy`; `.bin` / `.pt` / `.pth` files with
`torch.load(..., weights_only=True)` (tensors and plain containers only). Both packages are
imported lazily: jaxdl does not need them unless you load such a file. SPEC: DIF-6.
"""

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

_TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
_WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
_WRAPPERS = ("params_ema", "params", "state_dict")  # BasicSR (EMA first), generic trainers


def to_numpy(value: Any) -> np.ndarray:
    """numpy array from a numpy array or a torch tensor (bfloat16 is widened to float32)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach"):  # a torch tensor, without importing torch
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def torch_to_flax(w: np.ndarray) -> np.ndarray:
    """PyTorch layout -> flax: conv (out, in, kh, kw) -> (kh, kw, in, out); Linear (out, in) ->
    Dense (in, out); vectors unchanged."""
    if w.ndim == 4:
        return np.transpose(w, (2, 3, 1, 0))
    return w.T if w.ndim == 2 else w


def listing(names: list[str], limit: int = 20) -> str:
    """Sorted, comma-separated names for error messages, cut after `limit`."""
    more = f" ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(sorted(names)[:limit]) + more


def key_errors(expected: Iterable[str], found: Iterable[str]) -> list[str]:
    """Messages naming the expected keys a state dict lacks and the keys it has in excess."""
    expected, found = list(expected), list(found)
    want, have = set(expected), set(found)
    missing = [k for k in expected if k not in have]
    unexpected = [k for k in found if k not in want]
    errors = []
    if missing:
        errors.append(f"missing keys ({len(missing)}): {listing(missing)}")
    if unexpected:
        errors.append(f"unexpected keys ({len(unexpected)}): {listing(unexpected)}")
    return errors


def find_weights_file(folder: str | Path) -> Path:
    """The diffusers weights file in `folder`: the .safetensors one if present, else the .bin."""
    for name in _WEIGHT_NAMES:
        if (Path(folder) / name).exists():
            return Path(folder) / name
    raise FileNotFoundError(f"none of {_WEIGHT_NAMES} in {folder}")


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """{name: numpy array} from a .safetensors, a torch .bin/.pt/.pth file, or a diffusers folder.

    Torch files load with `weights_only=True`, which refuses pickled code; a checkpoint that
    wraps its weights as {"params_ema" | "params" | "state_dict": {...}} is unwrapped (the first
    present in that order: BasicSR saves both params and their EMA).
    """
    path = Path(path)
    if path.is_dir():
        path = find_weights_file(path)
    if path.suffix == ".safetensors":
        try:
            from safetensors.numpy import load_file
        except ImportError as e:
            raise ImportError("reading .safetensors needs `pip install safetensors`") from e
        return dict(load_file(str(path)))
    if path.suffix in _TORCH_SUFFIXES:
        try:
            import torch
        except ImportError as e:
            raise ImportError(
                f"reading {path.suffix} files needs PyTorch; or convert the "
                "checkpoint to .safetensors"
            ) from e
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
        wrapper = next((w for w in _WRAPPERS if isinstance(sd, Mapping) and w in sd), None)
        if wrapper is not None and isinstance(sd[wrapper], Mapping):
            sd = sd[wrapper]
        if not isinstance(sd, Mapping):
            raise ValueError(f"{path} holds a {type(sd).__name__}, not a state dict")
        return {str(k): to_numpy(v) for k, v in sd.items()}
    raise ValueError(
        f"unknown checkpoint format {path.suffix!r} for {path}: expected "
        f".safetensors or one of {_TORCH_SUFFIXES}"
    )
