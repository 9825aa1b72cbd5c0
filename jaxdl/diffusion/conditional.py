"""Conditional paired diffusion for restoration: ε_θ(concat[x_t, x̃], t), trained with L_simple and
sampled with the deterministic DDIM update.

Seed 003:839-850; Song et al. 2021 (DDIM, σ = 0), Ho et al. 2020 (loss). SPEC: DIF-5. NHWC; the
degraded image x̃ is never noised; the network sees 2·C channels (6 for RGB), noisy sample first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.diffusion.forward import check_images, extract, to_rank
from jaxdl.diffusion.losses import diffusion_loss
from jaxdl.diffusion.samplers import EpsFn, ddim_timesteps
from jaxdl.diffusion.schedule import Schedule

CondEpsFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def check_pair(x_t: Any, cond: Any) -> None:
    """x_t and x̃ both NHWC with the same batch, height, width and channels."""
    if jnp.ndim(x_t) != 4 or jnp.shape(x_t) != jnp.shape(cond):
        raise ValueError(
            "x_t and the condition x̃ must both be NHWC with the same shape, got "
            f"{jnp.shape(x_t)} and {jnp.shape(cond)}"
        )


def concat_condition(x_t: jax.Array, cond: jax.Array) -> jax.Array:
    """concat([x_t, x̃], axis=-1): (N, H, W, C) twice -> (N, H, W, 2C). SPEC: DIF-5."""
    check_pair(x_t, cond)
    return jnp.concatenate([x_t, cond.astype(x_t.dtype)], axis=-1)


class CondEps(nn.Module):
    """ε_θ(x_t, x̃, t) = net(concat[x_t, x̃], t, **kw); `net` has 2C inputs, C outputs. DIF-5."""

    net: nn.Module

    @nn.compact
    def __call__(self, x_t: jax.Array, cond: jax.Array, t: jax.Array, **kwargs: Any) -> jax.Array:
        out = self.net(concat_condition(x_t, cond), t, **kwargs)
        if out.shape != x_t.shape:
            raise ValueError(f"net output {out.shape} must match x_t {x_t.shape} (C channels)")
        return out


def conditional_eps_fn(cond_eps_fn: CondEpsFn, cond: jax.Array) -> EpsFn:
    """Bind x̃: `eps_fn(x_t, t) = cond_eps_fn(x_t, cond, t)`, for the generic losses/samplers."""
    return lambda x_t, t: cond_eps_fn(x_t, cond, t)


def conditional_loss(
    schedule: Schedule,
    cond_eps_fn: CondEpsFn,
    x0: jax.Array,
    cond: jax.Array,
    key: jax.Array,
    *,
    prediction: str = "eps",
    loss_type: str = "mse",
) -> jax.Array:
    """DIF-2's L_simple with ε_θ(x_t, x̃, t); x_0 (clean) and x̃ (degraded) NHWC in [-1, 1]."""
    check_pair(x0, cond)
    check_images(cond, "cond")
    return diffusion_loss(
        schedule,
        conditional_eps_fn(cond_eps_fn, cond),
        x0,
        key,
        prediction=prediction,
        loss_type=loss_type,
    )


def conditional_ddim_update(
    schedule: Schedule,
    eps: jax.Array,
    t: Any,
    t_prev: Any,
    x_t: jax.Array,
    *,
    clip_x0: bool = False,
) -> jax.Array:
    """x_{t-1} = √ᾱ_{t-1}·(x_t - √(1-ᾱ_t)·ε)/√ᾱ_t + √(1-ᾱ_{t-1})·ε (Song et al. 2021, σ = 0).

    `t_prev < 0` means ᾱ_{t-1} = 1 (the step after τ_1 returns x̂_0). No clipping by default
    (SPEC: DIF-5); `clip_x0` clips x̂_0 to [-1, 1] and keeps ε, as `ddim_step(clip_x0=True)`.
    """
    nd = x_t.ndim
    a_t = extract(schedule.alphas_cumprod, t, nd)
    t_prev = jnp.asarray(t_prev)
    a_prev = jnp.where(
        to_rank(t_prev >= 0, nd), extract(schedule.alphas_cumprod, jnp.maximum(t_prev, 0), nd), 1.0
    )
    x0_hat = (x_t - jnp.sqrt(1.0 - a_t) * eps) / jnp.sqrt(a_t)
    if clip_x0:
        x0_hat = jnp.clip(x0_hat, -1.0, 1.0)
    return jnp.sqrt(a_prev) * x0_hat + jnp.sqrt(1.0 - a_prev) * eps


def sample_conditional(
    cond_eps_fn: CondEpsFn,
    schedule: Schedule,
    cond: jax.Array,
    key: jax.Array,
    *,
    num_steps: int = 50,
    x_T: jax.Array | None = None,
    return_trajectory: bool = False,
    clip_x0: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Restore x̃ from x_T ~ N(0, I) with `num_steps` DDIM (σ = 0) steps of
    `conditional_ddim_update`, one ε call each; output clipped to [-1, 1]. SPEC: DIF-5.

    Timesteps as `ddim_timesteps(T, num_steps)` ("leading"); `cond_eps_fn(x_t, x̃, t)`;
    `clip_x0` as in `conditional_ddim_update`.
    """
    check_images(cond, "cond")
    if cond.ndim != 4:
        raise ValueError(f"cond must be NHWC, got shape {cond.shape}")
    ts, t_prevs = ddim_timesteps(schedule.num_timesteps, num_steps)
    x = jax.random.normal(key, cond.shape) if x_T is None else x_T
    check_pair(x, cond)
    b = cond.shape[0]

    def body(x: jax.Array, tt: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, Any]:
        t = jnp.full((b,), tt[0], jnp.int32)
        eps = cond_eps_fn(x, cond, t)
        x = conditional_ddim_update(schedule, eps, t, tt[1], x, clip_x0=clip_x0)
        return x, (x if return_trajectory else None)

    x, traj = jax.lax.scan(body, x, (jnp.asarray(ts), jnp.asarray(t_prevs)))
    out = jnp.clip(x, -1.0, 1.0)
    return (out, traj) if return_trajectory else out
