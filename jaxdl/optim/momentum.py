"""SGD with momentum in three equivalent-up-to-scaling forms. SPEC: OPT-2.

- form="torch" (default; torch `SGD(lr, momentum=β, dampening=0, nesterov)`, Polyak/Sutskever):
  b ← βb + g, θ ← θ − η·b (nesterov: θ ← θ − η·(g + βb)).
- form="velocity" (Sutskever et al. 2013; OPT-2): v ← βv − ηg, θ ← θ + v. Here v = −η·b
  exactly while η is constant; after a learning-rate change the old η stays inside v, whereas
  torch applies the new η to the whole buffer.
- form="ema" (Ng's deep-learning course; OPT-2): V ← βV + (1−β)g, θ ← θ − αV. Here
  V = (1−β)·b, so it equals the torch form with lr = α(1−β). (torch's `dampening=β` is not the
  same thing: torch leaves the first step undamped, b₁ = g, while V₁ = (1−β)g.)
All buffers start at zero (OPT-2).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_learning_rate, check_unit_interval
from jaxdl.optim.sgd import ScalarOrSchedule, scale_by_learning_rate

Form = Literal["torch", "velocity", "ema"]


class MomentumState(NamedTuple):
    """Momentum buffer (b, V) with the dtype of the parameters."""

    trace: optax.Updates


class VelocityState(NamedTuple):
    """Step counter for the schedule and the velocity v (which already includes −η)."""

    count: jax.Array
    velocity: optax.Updates


def scale_by_momentum(beta: float = 0.9, nesterov: bool = False) -> optax.GradientTransformation:
    """torch momentum buffer: b ← g + βb; emits b (or g + βb with nesterov)."""
    check_unit_interval("beta", beta)

    def init_fn(params):
        return MomentumState(trace=jax.tree.map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        trace = jax.tree.map(lambda g, b: g + beta * b, updates, state.trace)
        out = jax.tree.map(lambda g, b: g + beta * b, updates, trace) if nesterov else trace
        return out, MomentumState(trace=trace)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_ema_momentum(beta: float = 0.9) -> optax.GradientTransformation:
    """EMA-form momentum (OPT-2): V ← βV + (1−β)g; emits V (a biased EWMA of the gradients)."""
    check_unit_interval("beta", beta)

    def init_fn(params):
        return MomentumState(trace=jax.tree.map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        trace = jax.tree.map(lambda g, v: (1 - beta) * g + beta * v, updates, state.trace)
        return trace, MomentumState(trace=trace)

    return optax.GradientTransformation(init_fn, update_fn)


def velocity_momentum(
    learning_rate: ScalarOrSchedule, beta: float = 0.9
) -> optax.GradientTransformation:
    """Velocity-form momentum (OPT-2): v ← βv − η_t·g; emits v (the rate lives inside the state)."""
    check_learning_rate(learning_rate)
    check_unit_interval("beta", beta)

    def init_fn(params):
        return VelocityState(
            count=jnp.zeros([], jnp.int32), velocity=jax.tree.map(jnp.zeros_like, params)
        )

    def update_fn(updates, state, params=None):
        del params
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        velocity = jax.tree.map(
            lambda g, v: beta * v - jnp.asarray(lr, g.dtype) * g, updates, state.velocity
        )
        return velocity, VelocityState(optax.safe_increment(state.count), velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def momentum(
    learning_rate: ScalarOrSchedule,
    beta: float = 0.9,
    nesterov: bool = False,
    form: Form = "torch",
) -> optax.GradientTransformation:
    """SGD with momentum (torch `SGD(lr, momentum=beta, nesterov=...)` by default). SPEC: OPT-2.

    `form` picks the torch, "velocity" (Sutskever et al. 2013) or "ema" update (OPT-2); the module
    docstring has the mappings; nesterov is defined for the torch form only. Equals
    `optax.sgd(lr, momentum=beta, nesterov=...)` for form="torch".
    """
    if form == "torch":
        return optax.chain(scale_by_momentum(beta, nesterov), scale_by_learning_rate(learning_rate))
    if nesterov:
        raise ValueError(f"nesterov=True is only defined for form='torch', got form={form!r}")
    if form == "ema":
        return optax.chain(scale_by_ema_momentum(beta), scale_by_learning_rate(learning_rate))
    if form == "velocity":
        return velocity_momentum(learning_rate, beta)
    raise ValueError(f"form must be 'torch', 'velocity' or 'ema', got {form!r}")
