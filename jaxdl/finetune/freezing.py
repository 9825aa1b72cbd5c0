"""Freezing by schedule: the optimizer side and the gradient side. SPEC: BAS-10, OPT-8.

`unfreeze_schedule(tx, schedule)` gives each group of a `jaxdl.finetune.schedules` schedule its
own copy of `tx`, held at its initial state (and its parameters' updates at exactly zero) until
the group's start step: an unfrozen group starts as with a freshly created optimizer, as when a
Keras model is recompiled after `trainable = True`, so Adam's bias correction starts over
instead of meeting near-zero moments. The optimizer state has the same structure in every phase,
so one run can be checkpointed and resumed across phases. `stop_frozen_gradients` cuts the
gradient to the frozen groups inside the loss, so their weight gradients (and, below the lowest
trainable block, the whole backward pass) are not computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl import optim
from jaxdl.finetune.schedules import Schedule, check_schedule


class StartAtState(NamedTuple):
    count: jax.Array  # updates seen so far (int32)
    inner: Any  # the wrapped transformation's state, held at init until `start`


def start_at(tx: optax.GradientTransformation, start: int) -> optax.GradientTransformation:
    """`tx` switched on at update number `start`: zero updates and `tx`'s state held at its
    initial value before, then `tx` as if created at that step."""

    def init_fn(params):
        return StartAtState(jnp.zeros([], jnp.int32), tx.init(params))

    def update_fn(updates, state, params=None):
        def run(_):
            return tx.update(updates, state.inner, params)

        def hold(_):
            return jax.tree.map(jnp.zeros_like, updates), state.inner

        updates, inner = jax.lax.cond(state.count >= start, run, hold, None)
        return updates, StartAtState(optax.safe_int32_increment(state.count), inner)

    return optax.GradientTransformation(init_fn, update_fn)


def unfreeze_schedule(
    tx: optax.GradientTransformation, schedule: Schedule
) -> optax.GradientTransformation:
    """`tx` per group of `schedule` (`(regex, start_step or None)`, first match wins), started at
    the group's step; `None` never updates the group and keeps no state for it.

    Every parameter must match a rule and every rule a parameter (ValueError naming it). Chain
    an LR multiplier or schedule outside (`jaxdl.optim.lr_multipliers`) to keep it global.
    """
    rules = []
    for pattern, start in check_schedule(schedule):
        if start is None:
            rules.append((pattern, optax.set_to_zero()))
        else:
            rules.append((pattern, tx if start == 0 else start_at(tx, start)))
    return optim.per_param(rules)


def stop_frozen_gradients(params: Any, frozen: Sequence[str]) -> Any:
    """`params` with `jax.lax.stop_gradient` on the leaves whose path matches a `frozen` regex
    (each must match one: ValueError naming it). Use inside the loss."""
    if not frozen:
        return params
    mask = optim.match_rules(params, [(p, True) for p in frozen], default=False)
    return jax.tree.map(lambda x, m: jax.lax.stop_gradient(x) if m else x, params, mask)
