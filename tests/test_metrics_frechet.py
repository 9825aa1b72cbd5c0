"""Fréchet distance (`jaxdl.metrics.generative.frechet`) vs closed forms (commuting and general
covariances), pytorch-fid's fallbacks (eps·I retry, imaginary parts), statistics and the
pluggable feature extractor.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import linalg

from jaxdl.metrics import generative as gm


def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _psd_sqrt(s):
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_commuting_covariances_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    a, b = rng.uniform(0.1, 2, 6), rng.uniform(0.1, 2, 6)
    want = np.sum((mu1 - mu2) ** 2) + np.sum(a + b - 2 * np.sqrt(a * b))
    assert gm.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-12)
    # Same eigenbasis, not diagonal: still ‖Δμ‖² + tr(S1 + S2 - 2·√(S1 S2)).
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    s1, s2 = (q * a) @ q.T, (q * b) @ q.T
    assert gm.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-10)
    # 1-D: (μ1 - μ2)² + (σ1 - σ2)²
    assert gm.frechet_distance(0.5, 4.0, -0.5, 1.0) == pytest.approx(1.0 + 1.0, rel=1e-12)


def test_general_covariances_match_symmetric_form():
    """tr √(S1 S2) = tr √(S1^½ S2 S1^½) (similar matrices), computed here with eigh."""
    rng = np.random.default_rng(1)
    s1, s2 = _spd(rng, 8), _spd(rng, 8)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    r = _psd_sqrt(s1)
    want = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * _psd_sqrt(r @ s2 @ r))
    got = gm.frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(got, float)
    assert got == pytest.approx(want, rel=1e-10)
    assert gm.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-10)


def test_statistics_and_pluggable_features():
    rng = np.random.default_rng(2)
    f1, f2 = rng.standard_normal((50, 4)), rng.standard_normal((40, 4)) + 0.3
    mu, sigma = gm.feature_statistics(f1)
    np.testing.assert_allclose(mu, f1.mean(0), rtol=1e-14)
    np.testing.assert_allclose(sigma, np.cov(f1, rowvar=False), rtol=1e-14)
    want = gm.frechet_distance(*gm.feature_statistics(f1), *gm.feature_statistics(f2))
    assert gm.frechet_distance_from_features(f1, f2) == want
    # Images -> features by any function, in batches that do not divide n.
    x1, x2 = rng.uniform(-1, 1, (10, 4, 4, 3)), rng.uniform(-1, 1, (7, 4, 4, 3))
    proj = rng.standard_normal((3, 5))

    def feature_fn(x):
        return jnp.mean(jnp.asarray(x, jnp.float32), axis=(1, 2)) @ proj

    direct = gm.frechet_distance_from_features(feature_fn(x1), feature_fn(x2))
    batched = gm.frechet_distance_from_images(feature_fn, x1, x2, batch_size=3)
    assert batched == pytest.approx(direct, rel=1e-6)
    feats = gm.extract_features(feature_fn, x1, batch_size=4)
    assert feats.shape == (10, 5) and feats.dtype == np.float64


def test_singular_and_complex_fallbacks(monkeypatch):
    # Fewer samples than dimensions: rank-deficient covariances still give a finite distance.
    rng = np.random.default_rng(3)
    f = rng.standard_normal((5, 12))
    d = gm.frechet_distance_from_features(f, f + 1.0)
    assert np.isfinite(d) and d == pytest.approx(12.0, abs=1e-4)
    # A non-finite sqrtm is retried on (S1 + eps·I)(S2 + eps·I), as in pytorch-fid.
    calls, real_sqrtm = [], linalg.sqrtm

    def flaky_sqrtm(a):
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(linalg, "sqrtm", flaky_sqrtm)
    s = np.diag([1.0, 0.0])
    got = gm.frechet_distance(np.zeros(2), s, np.zeros(2), s, eps=1e-6)
    np.testing.assert_allclose(calls[1], (s + 1e-6 * np.eye(2)) @ (s + 1e-6 * np.eye(2)))
    assert got == pytest.approx(0.0, abs=1e-5)
    # Imaginary parts: small ones are dropped, large ones raise.
    monkeypatch.setattr(linalg, "sqrtm", lambda a: real_sqrtm(a) + 1e-6j)
    assert gm.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2)) == pytest.approx(0)
    monkeypatch.setattr(linalg, "sqrtm", lambda a: real_sqrtm(a) + 0.5j)
    with pytest.raises(ValueError, match="imaginary component 0.5"):
        gm.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"mu1 and mu2 must have the same shape"):
        gm.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match=r"sigma2 must have shape \(2, 2\)"):
        gm.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match=r"features must have shape \(n >= 2, d\)"):
        gm.feature_statistics(np.zeros((1, 4)))
