"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), torch semantics. SPEC: OPT-5.

m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (t ≥ 1),
θ ← θ − η·m̂/(√v̂ + ε); β₁ 0.9, β₂ 0.999, ε 1e-8 (Kingma & Ba 2015, arXiv:1412.6980; OPT-5).
The denominator uses the bias-corrected √v̂; β₂ = 0.999 > β₁ = 0.9.
AdamW adds the decoupled decay θ ← θ − η·λ·θ (torch `AdamW`, λ = 1e-2; optax `adamw` defaults to
λ = 1e-4). SPEC: OPT-7.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_nonnegative, check_unit_interval
from jaxdl.optim.sgd import ScalarOrSchedule, scale_by_learning_rate
from jaxdl.optim.weight_decay import MaskSpec, add_decayed_weights


class AdamState(NamedTuple):
    """Step count t and the two moments m, v (dtype of the parameters)."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, bias_correction: bool = True
) -> optax.GradientTransformation:
    """Emits m̂/(√v̂ + ε) (or m/(√v + ε) without bias correction)."""
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    check_nonnegative("eps", eps)

    def init_fn(params):
        return AdamState(
            count=jnp.zeros([], jnp.int32),
            mu=jax.tree.map(jnp.zeros_like, params),
            nu=jax.tree.map(jnp.zeros_like, params),
        )

    def update_fn(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, updates, state.mu)
        nu = jax.tree.map(lambda g, v: (1 - b2) * (g * g) + b2 * v, updates, state.nu)
        count = optax.safe_increment(state.count)
        if bias_correction:
            # 1 − βᵗ in float32 (in bf16 it would round to 0 early on), then cast per leaf.
            c1, c2 = 1 - b1**count, 1 - b2**count
            updates = jax.tree.map(
                lambda m, v: (m / c1.astype(m.dtype)) / (jnp.sqrt(v / c2.astype(v.dtype)) + eps),
                mu,
                nu,
            )
        else:
            updates = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), mu, nu)
        return updates, AdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    bias_correction: bool = True,
) -> optax.GradientTransformation:
    """Adam with torch defaults; equals `optax.adam` and torch `Adam`. SPEC: OPT-5."""
    return optax.chain(
        scale_by_adam(b1, b2, eps, bias_correction), scale_by_learning_rate(learning_rate)
    )


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    mask: MaskSpec = None,
) -> optax.GradientTransformation:
    """AdamW: θ ← θ − η·(m̂/(√v̂ + ε) + λθ), torch `AdamW` (λ 1e-2, all parameters by default).

    `mask` selects the decayed parameters (see `weight_decay.add_decayed_weights`). Equals
    `optax.adamw(lr, weight_decay=λ)` (whose default λ is 1e-4). SPEC: OPT-5, OPT-7.
    """
    return optax.chain(
        scale_by_adam(b1, b2, eps),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
