"""The denoising training loss: Ho et al.'s L_simple (ε-prediction) with x_0 and v options.

Ho et al. 2020 (L_simple, eq. 14), Salimans & Ho 2022 (v). SPEC: DIF-2. Three separable pieces:
`sample_timesteps` (t ~ U{0..T-1}), `denoising_loss` (given t and ε, per example) and
`diffusion_loss` (draws t and ε, returns the mean), plus `make_loss_fn` for the train engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl.diffusion.forward import (
    PREDICTIONS,
    check_images,
    check_same_shape,
    check_timesteps,
    q_sample,
    velocity,
)
from jaxdl.diffusion.schedule import Schedule

ApplyFn = Callable[[jax.Array, jax.Array], jax.Array]
LOSS_TYPES = ("mse", "l1")


def sample_timesteps(key: jax.Array, batch: int, num_timesteps: int) -> jax.Array:
    """t ~ U{0, ..., T-1}, int32 of shape (batch,). SPEC: DIF-2."""
    return jax.random.randint(key, (batch,), 0, num_timesteps, dtype=jnp.int32)


def prediction_target(
    schedule: Schedule, x0: jax.Array, noise: jax.Array, t: Any, prediction: str = "eps"
) -> jax.Array:
    """The regression target: ε, x_0 or v = √ᾱ_t·ε - √(1-ᾱ_t)·x_0. SPEC: DIF-2."""
    if prediction == "eps":
        return noise
    if prediction == "x0":
        return x0
    if prediction == "v":
        return velocity(schedule, x0, noise, t)
    raise ValueError(f"unknown prediction {prediction!r}; expected one of {PREDICTIONS}")


def denoising_loss(
    schedule: Schedule,
    apply_fn: ApplyFn,
    x0: jax.Array,
    t: jax.Array,
    noise: jax.Array,
    *,
    prediction: str = "eps",
    loss_type: str = "mse",
) -> jax.Array:
    """Per-example loss (batch,): mean over pixels of ‖target - apply_fn(x_t, t)‖². SPEC: DIF-2.

    x_t = q_sample(x0, t, noise); with `prediction="eps"` this is L_simple (Ho et al. 2020).
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"unknown loss_type {loss_type!r}; expected one of {LOSS_TYPES}")
    check_timesteps(t, schedule.num_timesteps, x0.shape[0])
    if jnp.ndim(t) != 1:
        raise ValueError(f"t must have shape ({x0.shape[0]},) (the batch), got {jnp.shape(t)}")
    target = prediction_target(schedule, x0, noise, t, prediction)
    x_t = q_sample(schedule, x0, t, noise)
    out = apply_fn(x_t, t)
    check_same_shape(out, x0, "apply_fn(x_t, t) and x0")
    err = out.astype(jnp.float32) - target.astype(jnp.float32)
    per_pixel = jnp.square(err) if loss_type == "mse" else jnp.abs(err)
    return per_pixel.reshape(per_pixel.shape[0], -1).mean(axis=1)


def diffusion_loss(
    schedule: Schedule,
    apply_fn: ApplyFn,
    x0: jax.Array,
    key: jax.Array,
    *,
    prediction: str = "eps",
    loss_type: str = "mse",
) -> jax.Array:
    """Mean loss with t ~ U{0..T-1} and ε ~ N(0, I) drawn from `key` (L_simple). SPEC: DIF-2.

    `apply_fn(x_t, t) -> output` (same shape as x0); x0 batch-first in [-1, 1].
    """
    check_images(x0, "x0")
    t_key, n_key = jax.random.split(key)
    t = sample_timesteps(t_key, x0.shape[0], schedule.num_timesteps)
    noise = jax.random.normal(n_key, x0.shape, x0.dtype)
    return denoising_loss(
        schedule, apply_fn, x0, t, noise, prediction=prediction, loss_type=loss_type
    ).mean()


def make_loss_fn(
    schedule: Schedule,
    model_apply: Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array],
    *,
    image_key: str = "image",
    prediction: str = "eps",
    loss_type: str = "mse",
) -> Callable[[Any, dict, jax.Array], tuple[jax.Array, dict]]:
    """`loss_fn(params, batch, rng) -> (loss, {})` for `jaxdl.train`. SPEC: DIF-2.

    `model_apply(params, x_t, t, rng)` runs the network (rng e.g. for dropout);
    `batch[image_key]` holds x_0 in [-1, 1].
    """

    def loss_fn(params: Any, batch: dict, rng: jax.Array) -> tuple[jax.Array, dict]:
        loss_rng, model_rng = jax.random.split(rng)

        def apply_fn(x_t: jax.Array, t: jax.Array) -> jax.Array:
            return model_apply(params, x_t, t, model_rng)

        loss = diffusion_loss(
            schedule,
            apply_fn,
            batch[image_key],
            loss_rng,
            prediction=prediction,
            loss_type=loss_type,
        )
        return loss, {}

    return loss_fn
