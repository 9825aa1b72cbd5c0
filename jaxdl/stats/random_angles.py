"""The angle between two independent random (isotropic) vectors in n dimensions. SPEC: BAS-11.

By isotropy take unit vectors and fix y = e₁, so cos θ = x₁; the surface measure of the sphere
S^{n−1} at polar angle θ is ∝ sin^{n−2} θ, hence on [0, π]

    p(θ) = Γ(n/2) / (√π Γ((n−1)/2)) · sin^{n−2} θ,

uniform for n = 2, sin θ / 2 for n = 3. Then (1 − cos θ)/2 = sin²(θ/2) ~ Beta((n−1)/2, (n−1)/2),
which gives the CDF; E θ = π/2 by symmetry and Var θ = ψ₁(n/2)/2 (ψ₁ the trigamma function;
π²/12 for n = 2), which is 1/n + O(1/n²): the angles concentrate at π/2, θ ≈ N(π/2, 1/n).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, polygamma, xlogy


def _check_dim(n) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"the dimension n must be an int >= 2, got {n!r}")
    return n


def angle_logpdf(theta: jax.Array, n: int) -> jax.Array:
    """log p(θ) on [0, π] (−inf outside), in log space so that large n does not overflow."""
    n = _check_dim(n)
    theta = jnp.asarray(theta, jnp.result_type(theta, jnp.float32))
    log_norm = math.lgamma(n / 2) - math.lgamma((n - 1) / 2) - 0.5 * math.log(math.pi)  # float64
    inside = (theta >= 0) & (theta <= jnp.pi)
    sin = jnp.clip(jnp.sin(theta), 0.0, None)
    return jnp.where(inside, log_norm + xlogy(n - 2, sin), -jnp.inf)


def angle_pdf(theta: jax.Array, n: int) -> jax.Array:
    """p(θ) = Γ(n/2)/(√π Γ((n−1)/2)) sin^{n−2} θ on [0, π], 0 outside."""
    return jnp.exp(angle_logpdf(theta, n))


def angle_cdf(theta: jax.Array, n: int) -> jax.Array:
    """P(Θ ≤ θ) = I_{sin²(θ/2)}((n−1)/2, (n−1)/2), the regularized incomplete beta function.

    In float32 the absolute error grows with n (about 2e-4 at n = 1000, from betainc's float32
    prefactor); float64 θ under `jax.enable_x64` is exact to about 1e-12."""
    n = _check_dim(n)
    theta = jnp.clip(jnp.asarray(theta, jnp.result_type(theta, jnp.float32)), 0.0, jnp.pi)
    a = (n - 1) / 2
    return betainc(a, a, jnp.sin(theta / 2) ** 2)


def angle_mean(n: int) -> float:
    """E θ = π/2 for every n (p is symmetric about π/2)."""
    _check_dim(n)
    return math.pi / 2


def angle_variance(n: int) -> jax.Array:
    """Var θ = ψ₁(n/2)/2 = 2 Σ_{j = n, n+2, ...} 1/j², which is 1/n + O(1/n²)."""
    return polygamma(1, _check_dim(n) / 2) / 2


def sample_angles(key: jax.Array, n: int, num: int, dtype=jnp.float32) -> jax.Array:
    """`num` angles between pairs of independent N(0, I_n) vectors, (num,) in [0, π].

    θ = 2·atan2(|u − v|, |u + v|) for the normalized vectors u, v: accurate near 0 and π too,
    where arccos(u·v) loses digits."""
    n = _check_dim(n)
    if not isinstance(num, int) or isinstance(num, bool) or num < 1:
        raise ValueError(f"num must be an int >= 1, got {num!r}")
    x, y = jax.random.normal(key, (2, num, n), dtype)
    u = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    v = y / jnp.linalg.norm(y, axis=-1, keepdims=True)
    return 2 * jnp.arctan2(jnp.linalg.norm(u - v, axis=-1), jnp.linalg.norm(u + v, axis=-1))
