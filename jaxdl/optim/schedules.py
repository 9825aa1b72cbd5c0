"""Learning-rate schedules as `optax.Schedule`s (step → rate, step counted from 0). SPEC: OPT-6.

- `linear_warmup(base, T_w, then)`: base·(t+1)/T_w for t < T_w, then `then(t − T_w)` (constant
  base by default). Warm-up: Goyal et al. 2017, arXiv:1706.02677 (a large early rate over-fits
  the first mini-batches); Post-LN Transformers need it, Pre-LN ones do not (Xiong et al. 2020).
- `poly(base, T)`: base·(1 − t/T)^power, power 0.9 as DeepLab (Chen et al. 2017,
  arXiv:1606.00915; OPT-6).
- `cosine(base, T)`: end + (base − end)·½(1 + cos(π·t/T)) (Loshchilov & Hutter 2017).
- `multistep(base, boundaries, factor)`: base·factorⁿ, n = #boundaries ≤ t (torch `MultiStepLR`).
  ESRGAN (Wang et al. 2018; OPT-6): PSNR stage `step_decay(2e-4, every=200_000)`, GAN stage
  `multistep(1e-4, (50_000, 100_000, 200_000, 300_000))`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import optax

from jaxdl.optim._checks import check_learning_rate, check_nonnegative, check_positive


def _check_steps(name: str, value: int, *, allow_zero: bool = False) -> None:
    if not isinstance(value, int) or value < (0 if allow_zero else 1):
        bound = ">= 0" if allow_zero else ">= 1"
        raise ValueError(f"{name} must be an int {bound}, got {value!r}")


def constant(base: float) -> optax.Schedule:
    """base at every step."""
    check_learning_rate(base)
    return lambda step: jnp.full([], base, jnp.float32)


def linear_warmup(
    base: float, warmup_steps: int, then: optax.Schedule | None = None
) -> optax.Schedule:
    """base·(t+1)/T_w for t < T_w, then `then(t − T_w)` (default: constant base)."""
    check_learning_rate(base)
    _check_steps("warmup_steps", warmup_steps, allow_zero=True)
    after = constant(base) if then is None else then
    if warmup_steps == 0:
        return after

    def warmup(step):
        return base * (jnp.asarray(step, jnp.float32) + 1.0) / warmup_steps

    return optax.join_schedules([warmup, after], [warmup_steps])


def poly(base: float, max_steps: int, power: float = 0.9, end_value: float = 0.0) -> optax.Schedule:
    """end + (base − end)·(1 − min(t, T)/T)^power (OPT-6).

    end 0 gives DeepLab's base·(1 − t/T)^power.
    """
    check_learning_rate(base)
    check_learning_rate(end_value)
    _check_steps("max_steps", max_steps)
    check_positive("power", power)

    def schedule(step):
        # (T − min(t, T))/T is exactly 0 at t ≥ T, unlike 1 − t/T once XLA rewrites t/T as t·(1/T).
        t = jnp.minimum(jnp.asarray(step, jnp.float32), max_steps)
        remaining = (max_steps - t) / max_steps
        return end_value + (base - end_value) * remaining**power

    return schedule


def cosine(base: float, decay_steps: int, end_value: float = 0.0) -> optax.Schedule:
    """end + (base − end)·½(1 + cos(π·min(t, T)/T))."""
    check_learning_rate(base)
    check_learning_rate(end_value)
    _check_steps("decay_steps", decay_steps)

    def schedule(step):
        frac = jnp.minimum(jnp.asarray(step, jnp.float32), decay_steps) / decay_steps
        return end_value + (base - end_value) * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))

    return schedule


def warmup_cosine(
    base: float, warmup_steps: int, total_steps: int, end_value: float = 0.0
) -> optax.Schedule:
    """Linear warm-up to base over T_w steps, then cosine to `end_value` at `total_steps`."""
    _check_steps("total_steps - warmup_steps", total_steps - warmup_steps)
    return linear_warmup(base, warmup_steps, cosine(base, total_steps - warmup_steps, end_value))


def warmup_poly(
    base: float, warmup_steps: int, total_steps: int, power: float = 0.9
) -> optax.Schedule:
    """Linear warm-up to base over T_w steps, then poly decay to 0 at `total_steps`."""
    _check_steps("total_steps - warmup_steps", total_steps - warmup_steps)
    return linear_warmup(base, warmup_steps, poly(base, total_steps - warmup_steps, power))


def multistep(base: float, boundaries: Sequence[int], factor: float = 0.5) -> optax.Schedule:
    """base·factorⁿ with n the number of boundaries ≤ t (torch `MultiStepLR(milestones, gamma)`)."""
    check_learning_rate(base)
    check_nonnegative("factor", factor)
    bounds = [int(b) for b in boundaries]
    if any(b < 1 for b in bounds) or bounds != sorted(set(bounds)):
        raise ValueError(f"boundaries must be strictly increasing ints >= 1, got {boundaries!r}")
    table = jnp.asarray([base * factor**i for i in range(len(bounds) + 1)], jnp.float32)
    edges = jnp.asarray(bounds, jnp.int32)

    def schedule(step):
        n = jnp.sum(jnp.asarray(step, jnp.int32) >= edges)
        return table[n]

    return schedule


def step_decay(base: float, every: int, factor: float = 0.5) -> optax.Schedule:
    """base·factor^⌊t/every⌋ (torch `StepLR(step_size=every, gamma=factor)`)."""
    check_learning_rate(base)
    check_nonnegative("factor", factor)
    _check_steps("every", every)

    def schedule(step):
        n = jnp.asarray(step, jnp.int32) // every
        return base * jnp.asarray(factor, jnp.float32) ** n

    return schedule
