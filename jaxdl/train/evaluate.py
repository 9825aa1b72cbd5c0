"""Evaluators for `fit`: a streaming metric run over a finite dataset on the device mesh.

One way to accumulate over batches: a metric state (e.g. `jaxdl.metrics.streaming`'s
`ConfusionState`, or a dict of sums) is updated batch by batch inside one jitted function and
computed once at the end. `MeanEvaluator` is the common case: per-batch sums divided by a count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxdl.train.sharding import make_mesh, put_batch

# update_fn(metric_state, params, state, batch) -> metric_state
UpdateFn = Callable[[Any, Any, Any, dict], Any]
# metric_fn(params, state, batch) -> dict of per-batch *sums*, including "count".
MetricFn = Callable[[Any, Any, dict], dict[str, jax.Array]]


def _default_params(state: Any) -> Any:
    return state.params


class StreamingEvaluator:
    """`init_fn(params, state, first_batch) -> metric state` (e.g. `lambda *_:
    streaming.init(10)`), jitted `update_fn` per batch, `compute_fn(metric state) -> dict`.

    `data` is re-iterated on each call (e.g. `jaxdl.data.eval_batches(..., pad=True)`, whose
    `mask` marks real rows). Batches are sharded over the `data` mesh axis, so the accumulated
    state is global across devices and hosts. `params(state)` picks what to evaluate (default
    `state.params`). Yields `(prefix + name, value)` for scalars and `prefix + name/i` for the
    entries of vectors (e.g. per-class IoU).
    """

    def __init__(
        self,
        init_fn: Callable[..., Any],
        update_fn: UpdateFn,
        compute_fn: Callable[[Any], dict],
        data: Iterable[dict],
        *,
        prefix: str = "eval/",
        params: Callable[[Any], Any] = _default_params,
    ):
        self.init_fn, self.compute_fn = init_fn, compute_fn
        self.data, self.prefix, self.params = data, prefix, params
        self.mesh = make_mesh()
        self._update = jax.jit(update_fn)

    def _place(self, tree: Any) -> Any:
        devices = set(self.mesh.devices.flat)
        replicated = NamedSharding(self.mesh, P())

        def place(x):
            if isinstance(x, jax.Array) and x.sharding.device_set == devices:
                return x
            return jax.device_put(x, replicated)

        return jax.tree.map(place, tree)

    def __call__(self, state: Any) -> Iterator[tuple[str, float]]:
        params, state = self._place(self.params(state)), self._place(state)
        metric_state, batches = None, 0
        for batch in self.data:
            batch = put_batch(batch, self.mesh)
            if metric_state is None:
                metric_state = self._place(self.init_fn(params, state, batch))
            metric_state = self._update(metric_state, params, state, batch)
            batches += 1
        if not batches:
            raise ValueError("evaluation data yielded no batches")
        for name, value in jax.device_get(self.compute_fn(metric_state)).items():
            value = np.asarray(value)
            if value.ndim == 0:
                yield self.prefix + name, float(value)
            else:
                for i, v in enumerate(value.reshape(-1)):
                    yield f"{self.prefix}{name}/{i}", float(v)


class MeanEvaluator(StreamingEvaluator):
    """Averages `metric_fn(params, state, batch) -> {name: per-batch sum, "count": n}` over the
    data: yields `(prefix + name, total / count)`. `use_ema` evaluates `state.ema_params`."""

    def __init__(
        self,
        metric_fn: MetricFn,
        data: Iterable[dict],
        *,
        prefix: str = "eval/",
        use_ema: bool = False,
        params: Callable[[Any], Any] | None = None,
    ):
        if params is None:
            params = (lambda s: s.ema_params) if use_ema else _default_params

        def init(p, s, batch):
            shapes = jax.eval_shape(metric_fn, p, s, batch)
            if "count" not in shapes:
                raise ValueError("MeanEvaluator's metric_fn must return a 'count' entry")
            return jax.tree.map(lambda x: jnp.zeros(x.shape, jnp.float32), shapes)

        def update(sums, p, s, batch):
            return jax.tree.map(
                lambda a, b: a + b.astype(jnp.float32), sums, metric_fn(p, s, batch)
            )

        def compute(sums):
            count = sums["count"]
            if float(count) == 0:
                raise ValueError("evaluation data yielded no examples")
            return {k: v / count for k, v in sums.items() if k != "count"}

        super().__init__(init, update, compute, data, prefix=prefix, params=params)
