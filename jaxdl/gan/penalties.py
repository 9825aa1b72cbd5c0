"""Gradient penalties on the critic: WGAN-GP's two-sided penalty and the real-data (R1) penalty.

`critic_fn(x) -> outputs` maps a batch (B, ...) to per-example outputs ((B,) or (B, 1), ...);
the gradient of their sum w.r.t. x is then the per-example input gradient, so the critic must
not mix examples (no BatchNorm in the critic, as WGAN-GP prescribes). SPEC: GAN-3, GAN-6.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

CriticFn = Callable[[jax.Array], jax.Array]


def _input_grads(critic_fn: CriticFn, x: jax.Array) -> jax.Array:
    """∇_x f(x) per example, shape of x, from the gradient of Σ_batch f."""
    return jax.grad(lambda v: jnp.sum(critic_fn(v)))(x)


def _sq_norms(grads: jax.Array) -> jax.Array:
    """‖g‖² per example: the sum over all non-batch axes, shape (B,)."""
    return jnp.sum(jnp.square(grads).reshape(grads.shape[0], -1), axis=-1)


def _safe_sqrt(sq: jax.Array) -> jax.Array:
    # Exact sqrt, but a finite (zero) derivative at ‖g‖ = 0, where the plain sqrt's is inf.
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def interpolates(real: jax.Array, fake: jax.Array, rng: jax.Array) -> jax.Array:
    """x̂ = εx + (1 − ε)x̃, one ε ~ U[0, 1] per example (WGAN-GP, Alg. 1). SPEC: GAN-3."""
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {real.shape}, {fake.shape}")
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = jax.random.uniform(rng, eps_shape, dtype=real.dtype)
    return eps * real + (1.0 - eps) * fake


def gradient_penalty(
    critic_fn: CriticFn, real: jax.Array, fake: jax.Array, rng: jax.Array, weight: float = 10.0
) -> jax.Array:
    """λ·E[(‖∇_x̂ f(x̂)‖₂ − 1)²] at random interpolates x̂ of real and fake: WGAN-GP.

    Gulrajani et al. 2017 (arXiv:1704.00028), eq. 3, λ = `weight` = 10. The norm is over all
    non-batch axes. Add it to `d_wasserstein`; gradients flow into the critic's params through
    `critic_fn` (and into `fake` unless it is stop-gradient'ed). SPEC: GAN-3.
    """
    x_hat = interpolates(real, fake, rng)
    norms = _safe_sqrt(_sq_norms(_input_grads(critic_fn, x_hat)))
    return weight * jnp.mean(jnp.square(norms - 1.0))


def real_gradient_penalty(critic_fn: CriticFn, real: jax.Array, weight: float) -> jax.Array:
    """weight/2 · E‖∇_x f(x)‖² on real data: the R1 penalty (Mescheder et al. 2018,
    arXiv:1801.04406).

    As used for the energy function of the maximum-entropy generator (Kumar et al. 2019,
    arXiv:1901.08508). SPEC: GAN-6.
    """
    return 0.5 * weight * jnp.mean(_sq_norms(_input_grads(critic_fn, real)))
