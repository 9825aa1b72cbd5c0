"""Forward process q(x_t | x_0), posterior q(x_{t-1} | x_t, x_0) and the ε / x_0 / v conversions.

Ho et al. 2020 (eqs. 4, 6, 7), Salimans & Ho 2022 (v). SPEC: DIF-1, DIF-2, DIF-3. Arrays are
batch-first (NHWC images); `t` is an int array of shape (batch,) or a scalar, 0 <= t < T.
Checks raise eagerly on concrete values and check only shapes/dtypes under `jit`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.diffusion.schedule import Schedule

PREDICTIONS = ("eps", "x0", "v")


def is_concrete(x: Any) -> bool:
    """True when `x` has a value now (not a tracer inside `jit`/`vmap`/`grad`)."""
    return not isinstance(x, jax.core.Tracer)


def check_timesteps(t: Any, num_timesteps: int, batch: int | None = None, name: str = "t") -> None:
    """`t` an integer scalar or (batch,) array with values in [0, T) when concrete."""
    t_arr = t if hasattr(t, "dtype") else np.asarray(t)
    if not jnp.issubdtype(t_arr.dtype, jnp.integer):
        raise TypeError(f"{name} must hold integer timesteps, got dtype {t_arr.dtype}")
    if t_arr.ndim > 1 or (batch is not None and t_arr.ndim == 1 and t_arr.shape[0] != batch):
        raise ValueError(
            f"{name} must be a scalar or have shape ({batch},) (the batch), got {t_arr.shape}"
        )
    if is_concrete(t_arr):
        v = np.asarray(t_arr)
        if v.size and (v.min() < 0 or v.max() >= num_timesteps):
            raise ValueError(
                f"{name} must lie in [0, {num_timesteps}), got values in [{v.min()}, {v.max()}]"
            )


def check_images(x: Any, name: str = "x0", *, low: float = -1.0, high: float = 1.0) -> None:
    """`x` a floating batch-first array (ndim >= 2) with values in [low, high] when concrete."""
    if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
        raise TypeError(f"{name} must be a floating array in [{low}, {high}], got {x.dtype}")
    if jnp.ndim(x) < 2:
        raise ValueError(f"{name} must be batch-first with ndim >= 2, got shape {jnp.shape(x)}")
    if is_concrete(x):
        v = np.asarray(x)
        lo, hi = float(v.min()), float(v.max())
        if lo < low - 1e-4 or hi > high + 1e-4:
            raise ValueError(
                f"{name} must lie in [{low}, {high}] (diffusion data are scaled to [-1, 1]), "
                f"got values in [{lo:.4g}, {hi:.4g}]"
            )


def check_same_shape(a: Any, b: Any, names: str) -> None:
    """Raise naming both shapes when they differ."""
    if jnp.shape(a) != jnp.shape(b):
        raise ValueError(f"{names} must have the same shape, got {jnp.shape(a)} and {jnp.shape(b)}")


def to_rank(v: Any, ndim: int) -> jax.Array:
    """A scalar or per-example (batch,) array shaped to broadcast against rank-`ndim` arrays."""
    v = jnp.asarray(v)
    return v.reshape(v.shape + (1,) * (ndim - 1)) if v.ndim == 1 else v


def extract(arr: jax.Array, t: Any, ndim: int) -> jax.Array:
    """`arr[t]` shaped to broadcast against a batch-first array of rank `ndim`."""
    return to_rank(jnp.take(arr, jnp.asarray(t)), ndim)


def q_sample(schedule: Schedule, x0: jax.Array, t: Any, noise: jax.Array) -> jax.Array:
    """x_t = √ᾱ_t·x_0 + √(1-ᾱ_t)·ε, a draw of q(x_t | x_0) (Ho et al. 2020 eq. 4). SPEC: DIF-1."""
    check_images(x0, "x0")
    check_same_shape(x0, noise, "x0 and noise")
    check_timesteps(t, schedule.num_timesteps, x0.shape[0])
    return (
        extract(schedule.sqrt_alphas_cumprod, t, x0.ndim) * x0
        + extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0.ndim) * noise
    )


def q_posterior(
    schedule: Schedule, x0: jax.Array, x_t: jax.Array, t: Any
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Mean, variance β̃_t and clipped log-variance of q(x_{t-1} | x_t, x_0) (Ho eq. 7). DIF-3."""
    check_same_shape(x0, x_t, "x0 and x_t")
    check_timesteps(t, schedule.num_timesteps, x_t.shape[0])
    mean = (
        extract(schedule.posterior_mean_coef1, t, x_t.ndim) * x0
        + extract(schedule.posterior_mean_coef2, t, x_t.ndim) * x_t
    )
    var = extract(schedule.posterior_variance, t, x_t.ndim)
    log_var = extract(schedule.posterior_log_variance_clipped, t, x_t.ndim)
    return mean, var, log_var


def velocity(schedule: Schedule, x0: jax.Array, noise: jax.Array, t: Any) -> jax.Array:
    """v = √ᾱ_t·ε - √(1-ᾱ_t)·x_0, the v-prediction target (Salimans & Ho 2022). SPEC: DIF-2."""
    return (
        extract(schedule.sqrt_alphas_cumprod, t, x0.ndim) * noise
        - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x0.ndim) * x0
    )


def predict_x0_from_eps(schedule: Schedule, x_t: jax.Array, t: Any, eps: jax.Array) -> jax.Array:
    """x̂_0 = (x_t - √(1-ᾱ_t)·ε̂)/√ᾱ_t. SPEC: DIF-2."""
    return (x_t - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.ndim) * eps) / extract(
        schedule.sqrt_alphas_cumprod, t, x_t.ndim
    )


def predict_eps_from_x0(schedule: Schedule, x_t: jax.Array, t: Any, x0: jax.Array) -> jax.Array:
    """ε̂ = (x_t - √ᾱ_t·x̂_0)/√(1-ᾱ_t). SPEC: DIF-2."""
    return (x_t - extract(schedule.sqrt_alphas_cumprod, t, x_t.ndim) * x0) / extract(
        schedule.sqrt_one_minus_alphas_cumprod, t, x_t.ndim
    )


def split_prediction(
    schedule: Schedule, output: jax.Array, x_t: jax.Array, t: Any, prediction: str = "eps"
) -> tuple[jax.Array, jax.Array]:
    """(x̂_0, ε̂) from a network output that predicts `prediction` ("eps", "x0" or "v"). DIF-2."""
    check_same_shape(output, x_t, "the network output and x_t")
    a = extract(schedule.sqrt_alphas_cumprod, t, x_t.ndim)
    s = extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.ndim)
    if prediction == "eps":
        return (x_t - s * output) / a, output
    if prediction == "x0":
        return output, (x_t - a * output) / s
    if prediction == "v":
        return a * x_t - s * output, s * x_t + a * output
    raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")
