"""Inception Score vs an independent float64 reference and closed cases, FID statistics files,
and `inception_report` end to end on a random FIDInceptionV3 (SPEC DIF-6)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.traverse_util import flatten_dict, unflatten_dict

from jaxdl.metrics.generative.inception import (
    fid_stats,
    inception_features,
    inception_report,
    inception_score,
    load_fid_stats,
    save_fid_stats,
)
from jaxdl.models.inception import FIDInceptionV3


def _reference_is(logits, splits):
    """Salimans et al. 2016 as OpenAI's inception_score.py: softmax, per-split KL, exp."""
    logits = np.asarray(logits, np.float64)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    n, scores = len(probs), []
    for k in range(splits):
        part = probs[k * n // splits : (k + 1) * n // splits]
        py = part.mean(0)
        scores.append(np.exp(np.mean([np.sum(p * (np.log(p) - np.log(py))) for p in part])))
    return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("n, classes, splits", [(100, 1008, 10), (37, 5, 4), (8, 3, 1)])
def test_inception_score_matches_reference(n, classes, splits):
    logits = np.random.default_rng(n).normal(0, 3, (n, classes))
    got = inception_score(logits, splits)
    np.testing.assert_allclose(got, _reference_is(logits, splits), rtol=1e-10, atol=1e-12)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(inception_score(probs, splits, from_logits=False), got, rtol=1e-10)


def test_inception_score_known_cases():
    # every sample predicts the same distribution -> KL 0 -> IS 1, std 0
    same = np.tile(np.random.default_rng(0).normal(size=7), (40, 1))
    assert inception_score(same, splits=4) == pytest.approx((1.0, 0.0), abs=1e-12)
    # confident one-hot predictions spread evenly over K classes in every split -> IS = K
    k, splits = 6, 10
    onehot = np.eye(k)[np.arange(k * splits * 3) % k]
    mean, std = inception_score(onehot, splits, from_logits=False)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    # logits with a huge margin behave like one-hot (stable log-softmax, no NaN)
    mean, _ = inception_score(1e4 * onehot, splits)
    assert mean == pytest.approx(k, rel=1e-9)


def test_inception_score_errors():
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.zeros((5, 10)), splits=10)
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        inception_score(np.zeros(10), splits=1)
    with pytest.raises(ValueError, match="summing to 1"):
        inception_score(np.full((4, 3), 0.5), splits=2, from_logits=False)


def test_fid_stats_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    mu, a = rng.normal(size=5), rng.normal(size=(5, 5))
    path = tmp_path / "stats.npz"
    save_fid_stats(path, mu.astype(np.float32), a @ a.T)
    got_mu, got_sigma = load_fid_stats(path)
    chex.assert_type([got_mu, got_sigma], np.float64)
    chex.assert_trees_all_close((got_mu, got_sigma), (mu.astype(np.float32), a @ a.T))
    with pytest.raises(FileNotFoundError, match="mu.*sigma"):
        load_fid_stats(tmp_path / "absent.npz")
    np.savez(tmp_path / "m.npz", mean=mu, sigma=a)
    with pytest.raises(KeyError, match=r"\['mu'\].*'mean'"):
        load_fid_stats(tmp_path / "m.npz")
    np.savez(tmp_path / "s.npz", mu=mu, sigma=a[:4])
    with pytest.raises(ValueError, match=r"\(5,\) and \(4, 5\)"):
        load_fid_stats(tmp_path / "s.npz")


@pytest.fixture(scope="module")
def random_variables():
    """Random FIDInceptionV3 variables from the shapes (He-scaled convs, jittered BN)."""
    shapes = jax.eval_shape(
        FIDInceptionV3().init, jax.random.key(0), jax.ShapeDtypeStruct((1, 75, 75, 3), jnp.float32)
    )
    rng, flat = np.random.default_rng(0), {}
    for path, s in flatten_dict(shapes).items():
        if path[-1] == "kernel":
            fan_in = int(np.prod(s.shape[:-1]))
            flat[path] = rng.normal(0, np.sqrt(2 / fan_in), s.shape).astype(np.float32)
        elif path[-1] in ("scale", "var"):
            flat[path] = rng.uniform(0.8, 1.2, s.shape).astype(np.float32)
        else:  # bias, mean
            flat[path] = rng.normal(0, 0.05, s.shape).astype(np.float32)
    return unflatten_dict(flat)


def test_inception_report_end_to_end(random_variables, tmp_path, monkeypatch):
    import jaxdl.metrics.generative.inception as ie

    rng = np.random.default_rng(1)
    samples = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    real = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    feats, logits = inception_features(random_variables, real, batch_size=4)  # pads last batch
    chex.assert_shape([feats, logits], [(6, 2048), (6, 1008)])
    chex.assert_type([feats, logits], np.float64)
    chex.assert_tree_all_finite((feats, logits))
    assert feats.std(0).mean() > 1e-3  # random images give different features
    tail, _ = inception_features(random_variables, real[2:], batch_size=4)  # unpadded batch
    np.testing.assert_allclose(feats[4:], tail[2:], rtol=1e-4, atol=1e-5)
    sample_feats, sample_logits = inception_features(random_variables, samples, batch_size=4)

    # scipy's sqrtm of a 2048x2048 matrix takes ~30 s on 2 cores; frechet_distance itself is
    # tested in test_metrics_frechet.py. Here: the right statistics reach it, its value is
    # reported.
    calls = []

    def spy(mu1, sigma1, mu2, sigma2):
        calls.append((mu1, sigma1, mu2, sigma2))
        return 12.5

    monkeypatch.setattr(ie, "frechet_distance", spy)
    mu, sigma = fid_stats(random_variables, real, batch_size=4)
    chex.assert_trees_all_close((mu, sigma), (feats.mean(0), np.cov(feats, rowvar=False)))
    save_fid_stats(tmp_path / "real.npz", mu, sigma)
    report = inception_report(
        random_variables, samples, real_stats=tmp_path / "real.npz", batch_size=4, splits=4
    )
    assert set(report) == {"fid", "inception_score", "inception_score_std", "num_samples"}
    assert report["num_samples"] == 4
    want_stats = (sample_feats.mean(0), np.cov(sample_feats, rowvar=False), mu, sigma)
    chex.assert_shape(calls[0], [(2048,), (2048, 2048), (2048,), (2048, 2048)])
    chex.assert_trees_all_close(calls[0], want_stats, rtol=1e-6, atol=1e-9)
    assert report["fid"] == 12.5
    # IS uses the logits without the fc bias (OpenAI's code, torch-fidelity `logits_unbiased`)
    unbiased = sample_logits - np.asarray(random_variables["params"]["fc"]["bias"], np.float64)
    want_is = inception_score(unbiased, splits=4)
    np.testing.assert_allclose(
        (report["inception_score"], report["inception_score_std"]), want_is, rtol=1e-4
    )
    assert np.isfinite(report["inception_score"]) and report["inception_score"] >= 1.0

    same = inception_report(
        random_variables, samples, real_images=real, real_stats=None, batch_size=4, splits=4
    )
    chex.assert_trees_all_close(calls[1], want_stats, rtol=1e-6, atol=1e-9)
    assert same == report
    pair = inception_report(
        random_variables, samples, real_stats=(mu, sigma), batch_size=4, splits=4
    )
    chex.assert_trees_all_close(calls[2], want_stats, rtol=1e-6, atol=1e-9)
    assert pair == report
    with pytest.raises(ValueError, match="exactly one"):
        inception_report(random_variables, samples)
    with pytest.raises(ValueError, match=r"\[0, 1\].*\(x \+ 1\) / 2"):
        inception_features(random_variables, np.full((2, 8, 8, 3), -0.5, np.float32))
