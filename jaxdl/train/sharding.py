"""Device mesh, regex sharding rules on parameter paths, and batch placement.

Default: a 1-D mesh with a `data` axis; batches are sharded over it and parameters replicated.
`rules` shard parameters FSDP-style: a list of `(regex, spec)` pairs matched with `re.search`
against "/"-joined state paths (e.g. `params/Dense_0/kernel`, which also matches the optimizer
moments at `opt_state/0/mu/Dense_0/kernel`). `spec` is a tuple with one mesh-axis name or None
per array dimension, or the string "fsdp": shard the largest dimension divisible by the `data`
axis size (replicate the array if none is). The first matching rule wins; unmatched arrays are
replicated. Anchor: big_vision `sharding.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.optim.rules import path_str

DATA = "data"
Rule = tuple[str, Any]


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over all (global) devices with axis name `data`."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (DATA,))


def _spec_for(shape: tuple[int, ...], spec: Any, mesh: Mesh, path: str) -> P:
    if spec == "fsdp":
        size = mesh.shape[DATA]
        dims = sorted(range(len(shape)), key=lambda d: -shape[d])
        for d in dims:
            if shape[d] % size == 0 and shape[d] >= size:
                axes = [None] * len(shape)
                axes[d] = DATA
                return P(*axes)
        return P()
    spec = tuple(spec)
    if len(spec) != len(shape):
        raise ValueError(
            f"sharding rule for '{path}' gives spec {spec} with {len(spec)} dims, "
            f"but the array has shape {shape}"
        )
    for dim, axis in zip(shape, spec, strict=True):
        if axis is not None and dim % mesh.shape[axis]:
            raise ValueError(
                f"sharding rule for '{path}': dimension {dim} of shape {shape} is not divisible "
                f"by mesh axis '{axis}' of size {mesh.shape[axis]}"
            )
    return P(*spec)


def tree_shardings(abstract_tree: Any, mesh: Mesh, rules: Sequence[Rule] = ()) -> Any:
    """NamedShardings for every array in `abstract_tree` (e.g. from `jax.eval_shape`)."""
    compiled = [(re.compile(pattern), spec) for pattern, spec in rules]
    used = [False] * len(compiled)

    def leaf_sharding(keypath, leaf):
        path = path_str(keypath)
        shape = tuple(getattr(leaf, "shape", ()))
        if shape:
            for i, (regex, spec) in enumerate(compiled):
                if regex.search(path):
                    used[i] = True
                    return NamedSharding(mesh, _spec_for(shape, spec, mesh, path))
        return NamedSharding(mesh, P())

    out = jax.tree_util.tree_map_with_path(leaf_sharding, abstract_tree)
    unused = [rules[i][0] for i, u in enumerate(used) if not u]
    if unused:
        paths = [path_str(kp) for kp, _ in jax.tree_util.tree_flatten_with_path(abstract_tree)[0]]
        raise ValueError(
            f"sharding rules {unused} match no array; some available paths: {paths[:12]}"
        )
    return out


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA))


def put_batch(local_batch: Any, mesh: Mesh) -> Any:
    """This process's rows of the global batch -> global arrays sharded over `data`.

    Processes hold consecutive row blocks in process order (see `jaxdl.data.make_pipeline`).
    """
    sharding = batch_sharding(mesh)

    def put(x):
        x = np.asarray(x)
        if x.ndim == 0:
            raise ValueError("batch leaves need a leading batch dimension, got a scalar")
        return jax.make_array_from_process_local_data(sharding, x)

    return jax.tree.map(put, local_batch)
