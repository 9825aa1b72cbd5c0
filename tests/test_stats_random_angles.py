"""Angle between random vectors (SPEC BAS-11): the closed-form density, CDF, mean and variance
against float64 SciPy quadrature of p(θ) ∝ sin^{n−2} θ written here, and against Monte-Carlo
angles (Kolmogorov–Smirnov at a fixed seed)."""

import json
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from jaxdl.stats import (
    angle_cdf,
    angle_logpdf,
    angle_mean,
    angle_pdf,
    angle_variance,
    sample_angles,
)

DIMS = (2, 3, 10, 1000)


def ref_pdf(theta, n):
    """float64 re-expression: sin^{n−2} θ over its integral ∫₀^π sin^{n−2} = B(1/2, (n−1)/2)."""
    log_z = special.betaln(0.5, (n - 1) / 2)
    with np.errstate(divide="ignore"):
        return np.exp((n - 2) * np.log(np.sin(theta)) - log_z) if n > 2 else 1 / math.pi


def ref_cdf(theta, n):
    return integrate.quad(ref_pdf, 0, theta, args=(n,), points=[math.pi / 2], epsabs=1e-12)[0]


def ref_cdf_on_grid(n, points=200001):
    """The same integral for many θ at once: cumulative Simpson on a fine float64 grid."""
    grid = np.linspace(0, math.pi, points)
    pdf = np.broadcast_to(ref_pdf(grid, n), grid.shape)
    cdf = integrate.cumulative_simpson(pdf, x=grid, initial=0.0)
    return lambda t: np.interp(t, grid, cdf)


@pytest.mark.parametrize("n", DIMS)
def test_pdf_and_cdf_match_quadrature(n):
    theta = np.linspace(0.05, math.pi - 0.05, 9)
    want_pdf = np.array([ref_pdf(t, n) for t in theta])
    chex.assert_trees_all_close(
        np.asarray(angle_pdf(jnp.asarray(theta, jnp.float32), n), np.float64),
        want_pdf,
        rtol=2e-4 if n == 1000 else 1e-5,  # sin^998 amplifies float32 rounding of θ
        atol=1e-7,
    )
    want_cdf = np.array([ref_cdf(t, n) for t in theta])
    got_cdf = np.asarray(angle_cdf(jnp.asarray(theta, jnp.float32), n), np.float64)
    chex.assert_trees_all_close(got_cdf, want_cdf, atol=5e-4 if n == 1000 else 2e-5)
    with jax.enable_x64(True):  # float64: betainc's float32 prefactor error is gone
        chex.assert_trees_all_close(np.asarray(angle_cdf(theta, n)), want_cdf, atol=1e-9)
    grid = np.linspace(0, math.pi, 20001)
    total = integrate.simpson(np.asarray(angle_pdf(jnp.asarray(grid, jnp.float32), n)), x=grid)
    assert total == pytest.approx(1.0, abs=1e-5)


def test_special_cases_and_support():
    theta = jnp.linspace(0.0, math.pi, 7)
    chex.assert_trees_all_close(angle_pdf(theta, 2), jnp.full(7, 1 / math.pi), atol=1e-7)
    chex.assert_trees_all_close(angle_pdf(theta, 3), jnp.sin(theta) / 2, atol=1e-7)
    chex.assert_trees_all_close(angle_cdf(theta, 2), theta / math.pi, atol=1e-6)
    chex.assert_trees_all_close(angle_cdf(theta, 3), (1 - jnp.cos(theta)) / 2, atol=1e-6)
    outside = jnp.array([-0.1, math.pi + 0.1])
    assert np.all(np.asarray(angle_pdf(outside, 10)) == 0)
    assert np.all(np.isneginf(np.asarray(angle_logpdf(outside, 10))))
    chex.assert_trees_all_close(angle_cdf(outside, 10), jnp.array([0.0, 1.0]), atol=1e-7)


@pytest.mark.parametrize("n", DIMS)
def test_mean_and_variance_match_quadrature(n):
    mean = integrate.quad(lambda t: t * ref_pdf(t, n), 0, math.pi, points=[math.pi / 2])[0]
    var = integrate.quad(
        lambda t: (t - math.pi / 2) ** 2 * ref_pdf(t, n), 0, math.pi, points=[math.pi / 2]
    )[0]
    assert angle_mean(n) == pytest.approx(mean, abs=1e-9)
    assert float(angle_variance(n)) == pytest.approx(var, rel=1e-5)


def test_variance_tends_to_one_over_n():
    ns = np.array([10, 100, 1000, 10000])
    scaled = np.array([float(angle_variance(int(n))) for n in ns]) * ns
    assert np.all(np.diff(np.abs(scaled - 1)) < 0)  # n·Var θ → 1 monotonically
    assert abs(scaled[-1] - 1) < 2e-4


@pytest.mark.parametrize("n", DIMS)
def test_monte_carlo_angles_follow_the_density(n):
    num = 5000 if n == 1000 else 20000
    theta = np.asarray(sample_angles(jax.random.PRNGKey(7), n, num), np.float64)
    assert theta.shape == (num,) and theta.min() >= 0 and theta.max() <= math.pi
    ks = stats.kstest(theta, ref_cdf_on_grid(n))
    assert ks.pvalue > 0.01, ks
    var = angle_variance(n)
    se = math.sqrt(var / num)
    assert abs(theta.mean() - math.pi / 2) < 4 * se
    # sample variance: se of s² ≈ s²·sqrt((κ − 1)/num), κ ≤ 3 here (the uniform's 1.8 for n = 2)
    assert theta.var() == pytest.approx(float(var), rel=4 * math.sqrt(2 / num))


def test_ks_detects_a_wrong_dimension():
    """The check can fail: angles in 10 dimensions are not the 12-dimensional law."""
    theta = np.asarray(sample_angles(jax.random.PRNGKey(7), 10, 20000), np.float64)
    cdf = lambda t: np.asarray(angle_cdf(jnp.asarray(t, jnp.float32), 12), np.float64)  # noqa: E731
    assert stats.kstest(theta, cdf).pvalue < 1e-6


def test_cdf_keeps_its_digits_near_zero():
    """sin²(θ/2) rather than (1 − cos θ)/2, which is 0 in float32 for θ < 3e-4."""
    theta = jnp.array([1e-4, 1e-3], jnp.float32)
    want = np.sin(np.array([1e-4, 1e-3]) / 2) ** 2  # n = 3: P(Θ ≤ θ) = (1 − cos θ)/2
    chex.assert_trees_all_close(np.asarray(angle_cdf(theta, 3), np.float64), want, rtol=1e-4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: angle_pdf(1.0, 1), "n must be an int >= 2, got 1"),
        (lambda: angle_cdf(1.0, 2.5), "n must be an int >= 2, got 2.5"),
        (lambda: angle_variance(True), "n must be an int >= 2"),
        (lambda: sample_angles(jax.random.PRNGKey(0), 3, 0), "num must be an int >= 1, got 0"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_random_angles_script(tmp_path):
    from experiments import random_angles

    rows = random_angles.main(
        ["--workdir", str(tmp_path), "--config.num_samples=2000", "--config.dims=(2, 50)"]
    )
    assert [r["n"] for r in rows] == [2, 50]
    for r in rows:
        assert abs(r["mean"] - math.pi / 2) < 5 * math.sqrt(r["variance_closed_form"] / 2000)
        assert r["ks_pvalue"] > 1e-3
    assert (tmp_path / "angles.png").stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text()) == rows
