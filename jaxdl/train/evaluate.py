"""Evaluators for `fit`: average per-example metrics over a finite dataset on the device mesh."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.train.sharding import make_mesh, put_batch
from jaxdl.train.state import TrainState

# metric_fn(params, state, batch) -> dict of per-batch *sums*, including "count".
MetricFn = Callable[[Any, TrainState, dict], dict[str, jax.Array]]


class MeanEvaluator:
    """Runs `metric_fn` over every batch of `data` and yields `(prefix + name, sum / count)`.

    `data` is re-iterated on each call (e.g. `jaxdl.data.eval_batches(..., pad=True)`, whose
    `mask` marks real rows). Batches are sharded over the `data` mesh axis, so the sums are
    global across devices and hosts. `use_ema` evaluates `state.ema_params` when present.
    """

    def __init__(self, metric_fn: MetricFn, data: Iterable[dict], *, prefix: str = "eval/",
                 use_ema: bool = False):
        self.metric_fn = metric_fn
        self.data = data
        self.prefix = prefix
        self.use_ema = use_ema
        self.mesh = make_mesh()
        self._jitted = jax.jit(metric_fn)

    def _place(self, tree: Any) -> Any:
        devices = set(self.mesh.devices.flat)
        replicated = NamedSharding(self.mesh, P())

        def place(x):
            if isinstance(x, jax.Array) and x.sharding.device_set == devices:
                return x
            return jax.device_put(x, replicated)

        return jax.tree.map(place, tree)

    def __call__(self, state: TrainState) -> Iterator[tuple[str, float]]:
        params = state.ema_params if self.use_ema and state.ema_params is not None else state.params
        params, state = self._place(params), self._place(state)
        sums: dict[str, float] = {}
        for batch in self.data:
            out = jax.device_get(self._jitted(params, state, put_batch(batch, self.mesh)))
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(np.asarray(v))
        count = sums.pop("count", 0.0)
        if not count:
            raise ValueError("evaluation data yielded no examples")
        for k, v in sums.items():
            yield self.prefix + k, v / count
