"""Parallel backends: `jit` over a device mesh (default) and `pmap` (replicated state).

Both compile the same pure step and give the same numbers for the same global batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.train import sharding as shd


class JitBackend:
    """`jax.jit` with explicit shardings: batch over `data`, params replicated or rule-sharded."""

    name = "jit"
    axis_name = None

    def __init__(self, rules: Sequence[shd.Rule] = (), mesh: jax.sharding.Mesh | None = None):
        self.mesh = mesh or shd.make_mesh()
        self.rules = tuple(rules)
        self.num_devices = self.mesh.size
        self.state_shardings = None

    def init_state(self, init_state_fn: Callable[[], Any]) -> Any:
        """Shape-first init: eval_shape, infer shardings from rules, jit with out_shardings."""
        if self.state_shardings is None:  # `abstract_state` may have inferred them already
            self.abstract_state(init_state_fn)
        return jax.jit(init_state_fn, out_shardings=self.state_shardings)()

    def abstract_state(self, init_state_fn: Callable[[], Any]) -> Any:
        abstract = jax.eval_shape(init_state_fn)
        self.state_shardings = shd.tree_shardings(abstract, self.mesh, self.rules)
        return jax.tree.map(
            lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
            abstract,
            self.state_shardings,
        )

    def compile_step(self, step_fn: Callable) -> Callable:
        replicated = NamedSharding(self.mesh, P())
        return jax.jit(
            step_fn,
            in_shardings=(self.state_shardings, shd.batch_sharding(self.mesh)),
            out_shardings=(self.state_shardings, replicated),
            donate_argnums=0,
        )

    def put_batch(self, local_batch: Any) -> Any:
        return shd.put_batch(local_batch, self.mesh)

    def to_checkpoint(self, state: Any) -> Any:
        return state

    def from_checkpoint(self, state: Any) -> Any:
        return state

    def metrics_to_host(self, metrics: Any) -> dict[str, float]:
        return {k: np.asarray(v) for k, v in jax.device_get(metrics).items()}


class PmapBackend:
    """`jax.pmap` over this process's devices: state replicated, gradients `pmean`-ed."""

    name = "pmap"
    axis_name = shd.DATA

    def __init__(self):
        self.devices = jax.local_devices()
        self.num_devices = len(self.devices)
        self._stacked = NamedSharding(jax.sharding.Mesh(np.asarray(self.devices), ("d",)), P("d"))
        self._host_sharding = jax.sharding.SingleDeviceSharding(self.devices[0])

    def _replicate(self, state: Any) -> Any:
        n = self.num_devices
        return jax.device_put(
            jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))), state), self._stacked
        )

    def init_state(self, init_state_fn: Callable[[], Any]) -> Any:
        return self._replicate(jax.jit(init_state_fn)())

    def abstract_state(self, init_state_fn: Callable[[], Any]) -> Any:
        return jax.tree.map(
            lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=self._host_sharding),
            jax.eval_shape(init_state_fn),
        )

    def compile_step(self, step_fn: Callable) -> Callable:
        return jax.pmap(step_fn, axis_name=self.axis_name, donate_argnums=0)

    def put_batch(self, local_batch: Any) -> Any:
        n = self.num_devices

        def split(x):
            x = np.asarray(x)
            if x.shape[0] % n:
                raise ValueError(
                    f"per-process batch {x.shape[0]} is not divisible by the {n} local devices"
                )
            return x.reshape(n, x.shape[0] // n, *x.shape[1:])

        return jax.device_put(jax.tree.map(split, local_batch), self._stacked)

    def to_checkpoint(self, state: Any) -> Any:
        return jax.tree.map(lambda x: x[0], state)

    def from_checkpoint(self, state: Any) -> Any:
        return self._replicate(state)

    def metrics_to_host(self, metrics: Any) -> dict[str, float]:
        return {k: np.asarray(v[0]) for k, v in jax.device_get(metrics).items()}


def make_backend(parallel: str, rules: Sequence[shd.Rule] = ()) -> JitBackend | PmapBackend:
    if parallel == "jit":
        return JitBackend(rules)
    if parallel == "pmap":
        if rules:
            raise ValueError("config.sharding rules need parallel='jit'; pmap replicates params")
        return PmapBackend()
    raise ValueError(f"config.parallel must be 'jit' or 'pmap', got {parallel!r}")
