"""The train state: everything a run needs to continue exactly where it stopped."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
    """step, params, optimizer state, RNG key, optional EMA params and mutable collections.

    `rng` is a raw uint32 key (`jax.random.key_data` layout) so checkpoints stay plain arrays;
    the step draws its randomness as `fold_in(rng, step)`. `ema_params` is None without EMA;
    `mutable` holds non-parameter collections such as BatchNorm's `batch_stats` ({} if none).
    """

    step: jax.Array
    params: Any
    opt_state: Any
    rng: jax.Array
    ema_params: Any = None
    mutable: Any = flax.struct.field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        params: Any,
        tx: optax.GradientTransformation,
        rng: jax.Array,
        mutable: Any = None,
        ema: bool = False,
    ) -> TrainState:
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            opt_state=tx.init(params),
            rng=rng,
            ema_params=jax.tree.map(jnp.copy, params) if ema else None,
            mutable=mutable if mutable is not None else {},
        )


def split_variables(variables: Any) -> tuple[Any, dict]:
    """Splits Flax `variables` into (params, other collections); plain param trees pass through."""
    if isinstance(variables, dict) and "params" in variables:
        rest = {k: v for k, v in variables.items() if k != "params"}
        return variables["params"], rest
    return variables, {}
