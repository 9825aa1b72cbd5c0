"""Integrated Gradients (Sundararajan, Taly, Yan 2017, arXiv:1703.01365). SPEC: BAS-8.

IG_i(x) = (x_i − x′_i) ∫₀¹ ∂F(x′ + α(x − x′))/∂x_i dα for a baseline x′ (default 0). The
integral is a quadrature over α: the paper's right Riemann sum (1/m) Σ_{k=1..m} g(k/m), the left
and midpoint sums, the trapezoid rule, or m-point Gauss–Legendre. Completeness (the paper's
Proposition 1): Σ_i IG_i = F(x) − F(x′); its relative error measures the quadrature's accuracy.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.explain.chunked import chunked_weighted_sum
from jaxdl.explain.saliency import Scores, explained_output, input_gradients

METHODS = ("left", "right", "midpoint", "trapezoid", "gauss_legendre")


class IntegratedGradients(NamedTuple):
    """attributions: x's shape; output_diff: (N,) F(x) − F(x′); completeness_error: (N,)
    |Σ_i attributions_i − output_diff| / |output_diff|."""

    attributions: jax.Array
    output_diff: jax.Array
    completeness_error: jax.Array


def path_nodes(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """`steps` quadrature nodes α_k in [0, 1] and weights w_k (float64) with Σ_k w_k g(α_k) ≈
    ∫₀¹ g(α) dα; every method costs `steps` gradients (the trapezoid rule: steps − 1 intervals,
    as in Captum)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    k = np.arange(steps, dtype=np.float64)
    uniform = np.full(steps, 1.0 / steps)
    if method == "left":
        return k / steps, uniform
    if method == "right":
        return (k + 1) / steps, uniform
    if method == "midpoint":
        return (k + 0.5) / steps, uniform
    if method == "trapezoid":
        if steps < 2:
            raise ValueError(f"the trapezoid rule needs steps >= 2 (both ends), got {steps}")
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, steps), weights
    if method == "gauss_legendre":
        t, w = np.polynomial.legendre.leggauss(steps)
        return (t + 1) / 2, w / 2
    raise ValueError(f"unknown integration method {method!r}; valid methods: {', '.join(METHODS)}")


def integrated_gradients(
    f: Scores,
    x: jax.Array,
    baseline: jax.Array | None = None,
    steps: int = 50,
    method: str = "right",
    target: int | jax.Array | None = None,
    chunk_size: int = 32,
) -> IntegratedGradients:
    """Integrated Gradients of a batch x (N, ...) along the straight path from `baseline`.

    f: batch -> scores (N,), or class scores (N, C) with `target` (int or (N,) ints) choosing the
    class (`jaxdl.explain.saliency`); examples must not interact inside f. baseline: x's shape,
    None for zeros. method: one of `METHODS` (`path_nodes`). The gradients are taken
    `chunk_size` path points at a time (vmapped) and summed in a scan. jit-able with f,
    `steps`, `method` and `chunk_size` static.
    """
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError("x must be a batch (N, ...) with a leading example axis, got a scalar")
    baseline = jnp.zeros_like(x) if baseline is None else jnp.asarray(baseline, x.dtype)
    if baseline.shape != x.shape:
        raise ValueError(
            f"baseline shape {baseline.shape} differs from x shape {x.shape}: give one baseline "
            "per example (x's shape), or None for zeros"
        )
    alphas, weights = path_nodes(method, steps)
    delta = x - baseline

    def path_gradient(alpha):
        return input_gradients(f, baseline + alpha * delta, target)

    mean_gradient = chunked_weighted_sum(
        path_gradient, jnp.asarray(alphas, x.dtype), jnp.asarray(weights, x.dtype), chunk_size
    )
    attributions = delta * mean_gradient
    diff = explained_output(f, x, target) - explained_output(f, baseline, target)
    total = jnp.sum(attributions.reshape(x.shape[0], -1), axis=1)
    tiny = jnp.finfo(diff.dtype).tiny
    error = jnp.abs(total - diff) / jnp.maximum(jnp.abs(diff), tiny)
    return IntegratedGradients(attributions, diff, error)
