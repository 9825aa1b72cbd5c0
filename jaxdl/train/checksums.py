"""Per-array CRC32 checksums of a checkpointed state, so silent corruption is caught on restore.

Orbax detects a truncated file but not flipped bytes in an intact-looking one (values come back
wrong with no error). `fit` stores `tree_checksums(state)` next to every checkpoint and
`mismatches` names the arrays whose restored bytes differ.

Only arrays this process can read whole are checksummed (all arrays on one host, replicated
arrays on several); others are listed as unchecked, never as mismatches.
"""

from __future__ import annotations

import zlib
from typing import Any

import jax
import numpy as np

from jaxdl.optim.rules import path_str


def _crc(x: Any) -> str:
    a = np.ascontiguousarray(np.asarray(x))
    return f"{zlib.crc32(a.reshape(-1).view(np.uint8)):08x}:{a.dtype.name}:{list(a.shape)}"


def _readable(x: Any) -> bool:
    return not isinstance(x, jax.Array) or x.is_fully_addressable or x.is_fully_replicated


def tree_checksums(tree: Any) -> dict[str, str]:
    """'path' -> 'crc32:dtype:shape' for every array leaf this process can read whole."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    readable = [(path_str(p), x) for p, x in flat if _readable(x)]
    host = jax.device_get([x for _, x in readable])
    return {name: _crc(x) for (name, _), x in zip(readable, host, strict=True)}


def mismatches(tree: Any, expected: dict[str, str]) -> list[str]:
    """Paths of `tree` whose checksum differs from `expected` (paths absent there are skipped)."""
    got = tree_checksums(tree)
    return sorted(k for k, v in got.items() if k in expected and expected[k] != v)
