"""RMSprop (Hinton, Coursera lecture 6e), torch `RMSprop` semantics by default. SPEC: OPT-4.

S ← ρS + (1−ρ)g², θ ← θ − η·g/(√S + ε); torch defaults ρ ("alpha") = 0.99, ε = 1e-8.
`eps_in_sqrt=True` gives the ε-inside-the-root form (OPT-4) θ ← θ − η·g/√(S + ε), which is also
optax's default; optax `rmsprop` also defaults to decay = 0.9 (torch 0.99).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_nonnegative, check_unit_interval
from jaxdl.optim.sgd import ScalarOrSchedule, scale_by_learning_rate


class RmspropState(NamedTuple):
    """EWMA of squared gradients S, dtype of the parameters."""

    nu: optax.Updates


def scale_by_rmsprop(
    decay: float = 0.99, eps: float = 1e-8, eps_in_sqrt: bool = False
) -> optax.GradientTransformation:
    """S ← ρS + (1−ρ)g²; emits g/(√S + ε), or g/√(S + ε) with `eps_in_sqrt`."""
    check_unit_interval("decay", decay)
    check_nonnegative("eps", eps)

    def init_fn(params):
        return RmspropState(jax.tree.map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        nu = jax.tree.map(lambda g, s: (1 - decay) * (g * g) + decay * s, updates, state.nu)
        if eps_in_sqrt:
            updates = jax.tree.map(lambda g, s: g * jax.lax.rsqrt(s + eps), updates, nu)
        else:
            updates = jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps), updates, nu)
        return updates, RmspropState(nu)

    return optax.GradientTransformation(init_fn, update_fn)


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.99,
    eps: float = 1e-8,
    eps_in_sqrt: bool = False,
) -> optax.GradientTransformation:
    """RMSprop; defaults = torch (ε outside the root).

    `eps_in_sqrt=True` gives the ε-inside-root (optax) form, OPT-4.
    """
    return optax.chain(
        scale_by_rmsprop(decay, eps, eps_in_sqrt), scale_by_learning_rate(learning_rate)
    )
