"""Noise schedules for DDPM: the β_t and every derived array of the official DDPM code.

Ho et al. 2020 (linear β), Nichol & Dhariwal 2021 (cosine ᾱ). SPEC: DIF-1. Arrays are computed in
float64 NumPy, then stored in `dtype`. Index t = 0..T-1 (the paper's t = 1..T), ᾱ_{-1} := 1.
"""

from __future__ import annotations

import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

SCHEDULES = ("linear", "cosine")


@flax.struct.dataclass
class Schedule:
    """The arrays of a T-step noise schedule, each of shape (T,). SPEC: DIF-1, DIF-3.

    Names follow `GaussianDiffusion` of the official DDPM code (Ho et al. 2020):
    `posterior_*` describe q(x_{t-1} | x_t, x_0) = N(coef1·x_0 + coef2·x_t, posterior_variance);
    `posterior_log_variance_clipped` replaces the 0 at t = 0 by the value at t = 1.
    """

    betas: jax.Array
    alphas_cumprod: jax.Array
    alphas_cumprod_prev: jax.Array
    sqrt_alphas_cumprod: jax.Array
    sqrt_one_minus_alphas_cumprod: jax.Array
    posterior_variance: jax.Array
    posterior_log_variance_clipped: jax.Array
    posterior_mean_coef1: jax.Array
    posterior_mean_coef2: jax.Array

    @property
    def num_timesteps(self) -> int:
        """T, the number of diffusion steps (static: the arrays' length)."""
        return int(self.betas.shape[0])


def linear_betas(
    num_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02
) -> np.ndarray:
    """β = linspace(beta_start, beta_end, T) in float64 (Ho et al. 2020, SPEC DIF-1)."""
    return np.linspace(beta_start, beta_end, num_timesteps, dtype=np.float64)


def cosine_betas(num_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """β_t = min(1 - f(t+1)/f(t), max_beta), f(t) = cos²(π/2·(t/T + s)/(1 + s)) (float64).

    Nichol & Dhariwal 2021, eq. 17; the same as diffusers' `squaredcos_cap_v2`. SPEC: DIF-1.
    """
    t = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
    f = np.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], max_beta)


def schedule_from_betas(betas: Any, dtype: Any = jnp.float32) -> Schedule:
    """All `Schedule` arrays from β (computed in float64, then cast to `dtype`). SPEC: DIF-1."""
    b = np.asarray(betas, dtype=np.float64)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"betas must be a non-empty 1-D array, got shape {b.shape}")
    if not np.all((b > 0) & (b < 1)):
        raise ValueError(f"betas must lie in (0, 1), got min {b.min()} and max {b.max()}")
    ac = np.cumprod(1.0 - b)
    ac_prev = np.append(1.0, ac[:-1])
    post_var = b * (1.0 - ac_prev) / (1.0 - ac)
    log_var = np.log(np.append(post_var[1], post_var[1:])) if b.size > 1 else np.log(b)
    arrays = dict(
        betas=b,
        alphas_cumprod=ac,
        alphas_cumprod_prev=ac_prev,
        sqrt_alphas_cumprod=np.sqrt(ac),
        sqrt_one_minus_alphas_cumprod=np.sqrt(1.0 - ac),
        posterior_variance=post_var,
        posterior_log_variance_clipped=log_var,
        posterior_mean_coef1=b * np.sqrt(ac_prev) / (1.0 - ac),
        posterior_mean_coef2=(1.0 - ac_prev) * np.sqrt(1.0 - b) / (1.0 - ac),
    )
    return Schedule(**{k: jnp.asarray(v, dtype=dtype) for k, v in arrays.items()})


def make_schedule(
    name: str, num_timesteps: int = 1000, *, dtype: Any = jnp.float32, **kw: float
) -> Schedule:
    """A `Schedule` by name: `linear` (beta_start=1e-4, beta_end=0.02) or `cosine` (s=0.008,
    max_beta=0.999). SPEC: DIF-1.

    Equal to diffusers' `DDPMScheduler(beta_schedule="linear" | "squaredcos_cap_v2")` arrays.
    """
    if not isinstance(num_timesteps, int | np.integer) or num_timesteps < 1:
        raise ValueError(f"num_timesteps must be an int >= 1, got {num_timesteps!r}")
    if name == "linear":
        betas = linear_betas(int(num_timesteps), **kw)
    elif name == "cosine":
        betas = cosine_betas(int(num_timesteps), **kw)
    else:
        raise ValueError(f"unknown schedule {name!r}; expected one of {SCHEDULES}")
    return schedule_from_betas(betas, dtype=dtype)
