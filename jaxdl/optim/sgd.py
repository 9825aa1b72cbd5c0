"""Plain SGD and the learning-rate scaling shared by every jaxdl optimizer.

SGD / mini-batch SGD / BGD differ only in the batch behind g: θ ← θ − η·g (Robbins & Monro
1951; OPT-1). torch `SGD(lr)` with momentum 0.
SPEC: OPT-1.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_learning_rate

ScalarOrSchedule = float | jax.Array | optax.Schedule


class ScaleByLearningRateState(NamedTuple):
    """Step counter (int32 scalar) that feeds a learning-rate schedule."""

    count: jax.Array


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    """u ← −η_t·u, with η_t = learning_rate(count) for a schedule (count = 0 on the first step).

    The factor is cast to each leaf's dtype, so bf16 updates stay bf16. A constant rate keeps no
    state (`optax.EmptyState`); a schedule keeps a `ScaleByLearningRateState` step counter.
    """
    check_learning_rate(learning_rate)

    def init_fn(params):
        del params
        if callable(learning_rate):
            return ScaleByLearningRateState(count=jnp.zeros([], jnp.int32))
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        if callable(learning_rate):
            lr = learning_rate(state.count)
            state = ScaleByLearningRateState(count=optax.safe_increment(state.count))
        else:
            lr = learning_rate
        updates = jax.tree.map(lambda u: jnp.asarray(-lr, u.dtype) * u, updates)
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


def sgd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    """SGD: θ ← θ − η·g. Equals torch `SGD(lr)` and `optax.sgd(lr)`. SPEC: OPT-1."""
    return scale_by_learning_rate(learning_rate)
