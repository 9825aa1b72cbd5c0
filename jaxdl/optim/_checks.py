"""Argument checks shared by the optimizers: clear errors for out-of-range hyperparameters."""

from __future__ import annotations

import math
from typing import Any

import jax


def _concrete(value: Any) -> float | None:
    """`float(value)`, or None when it is traced (e.g. under `optax.inject_hyperparams`)."""
    try:
        return float(value)
    except jax.errors.ConcretizationTypeError:
        return None
    except (TypeError, ValueError) as e:
        raise ValueError(f"expected a real number, got {value!r}") from e


def check_learning_rate(learning_rate: Any) -> None:
    """A learning rate is a finite float >= 0 or an optax schedule (a callable of the step)."""
    if callable(learning_rate):
        return
    v = _concrete(learning_rate)
    if v is not None and not (math.isfinite(v) and v >= 0.0):
        raise ValueError(
            f"learning_rate must be a finite float >= 0 or an optax schedule, got {learning_rate!r}"
        )


def check_unit_interval(name: str, value: Any, *, closed: bool = False) -> None:
    """`value` in [0, 1) (or [0, 1] with `closed`)."""
    v = _concrete(value)
    if v is None:
        return
    ok = 0.0 <= v <= 1.0 if closed else 0.0 <= v < 1.0
    if not ok:
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


def check_nonnegative(name: str, value: Any) -> None:
    """`value` a finite float >= 0."""
    v = _concrete(value)
    if v is not None and not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"{name} must be a finite float >= 0, got {value!r}")


def check_positive(name: str, value: Any) -> None:
    """`value` a finite float > 0."""
    v = _concrete(value)
    if v is not None and not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be a finite float > 0, got {value!r}")
