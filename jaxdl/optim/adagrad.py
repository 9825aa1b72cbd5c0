"""AdaGrad (Duchi et al., 2011), torch `Adagrad` semantics. SPEC: OPT-3.

G ← G + g², θ ← θ − η·g/(√G + ε); defaults ε = 1e-10, G₀ = 0 as torch (lr_decay = 0). The
effective step η/(√G + ε) only shrinks.
optax `adagrad` differs: ε inside the root, g/√(G + ε), with ε = 1e-7 and G₀ = 0.1 by default
(and a zero update where G = 0).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_nonnegative
from jaxdl.optim.sgd import ScalarOrSchedule, scale_by_learning_rate


class AdagradState(NamedTuple):
    """Running sum of squared gradients G, dtype of the parameters."""

    sum_of_squares: optax.Updates


def scale_by_adagrad(
    eps: float = 1e-10, initial_accumulator_value: float = 0.0
) -> optax.GradientTransformation:
    """G ← G + g²; emits g/(√G + ε)."""
    check_nonnegative("eps", eps)
    check_nonnegative("initial_accumulator_value", initial_accumulator_value)

    def init_fn(params):
        return AdagradState(
            jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params)
        )

    def update_fn(updates, state, params=None):
        del params
        sums = jax.tree.map(lambda g, s: s + g * g, updates, state.sum_of_squares)
        updates = jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps), updates, sums)
        return updates, AdagradState(sums)

    return optax.GradientTransformation(init_fn, update_fn)


def adagrad(
    learning_rate: ScalarOrSchedule, eps: float = 1e-10, initial_accumulator_value: float = 0.0
) -> optax.GradientTransformation:
    """AdaGrad with torch defaults (ε outside the root). SPEC: OPT-3."""
    return optax.chain(
        scale_by_adagrad(eps, initial_accumulator_value), scale_by_learning_rate(learning_rate)
    )
