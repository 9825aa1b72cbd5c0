"""`ClassifierScorer` (real statistics once, report as `classifier_report`), batched classifier
features, and `real_images_for` picking the held-out real set by dataset name (SPEC DIF-6)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data
from jaxdl.metrics.generative import (
    CLASSIFIER_DATASETS,
    ClassifierScorer,
    classifier_features,
    classifier_report,
    frechet_distance_from_features,
    real_images_for,
)

_RNG = np.random.default_rng(0)
_W = _RNG.normal(0, 1.5, (64, 10)).astype(np.float32)  # 8x8x1 images -> 10 logits
_P = _RNG.normal(0, 0.3, (64, 6)).astype(np.float32)  # -> 6 features


class CountingFeatures:
    """A jitted images -> (logits, features) that records the batches it is called with."""

    def __init__(self):
        self.batches = []

        @jax.jit
        @chex.assert_max_traces(n=1)  # padded last batches: one compilation
        def fn(x):
            flat = x.reshape(x.shape[0], -1)
            return flat @ _W, jnp.tanh(flat @ _P)

        self._fn = fn

    def __call__(self, images):
        self.batches.append(np.array(images))
        return self._fn(images)


def _direct(images):
    """The same map in float64 NumPy, unbatched: the scorer's outputs must match it."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    return flat @ _W.astype(np.float64), np.tanh(flat @ _P.astype(np.float64))


def _images(seed, n):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)


def test_real_statistics_are_computed_once():
    chex.clear_trace_counter()
    real, samples = _images(1, 23), _images(2, 15)
    fn = CountingFeatures()
    scorer = ClassifierScorer(fn, real, batch_size=10)
    assert len(fn.batches) == 3  # 10 + 10 + 3 (padded to 10) real images
    chex.assert_shape(fn.batches, (10, 8, 8, 1))
    np.testing.assert_array_equal(np.concatenate(fn.batches)[:23], real)
    assert scorer.num_real == 23
    mu, sigma = scorer.real_stats
    real_feats = _direct(real)[1]
    chex.assert_type([mu, sigma], np.float64)
    chex.assert_trees_all_close(
        (mu, sigma), (real_feats.mean(0), np.cov(real_feats, rowvar=False)), rtol=1e-5, atol=1e-6
    )
    for k in range(2):  # each scoring call sees only the samples: 10 + 5 (padded)
        scorer(samples)
        assert len(fn.batches) == 3 + 2 * (k + 1)
        np.testing.assert_array_equal(np.concatenate(fn.batches[-2:])[:15], samples)
        np.testing.assert_array_equal(fn.batches[-1][5:], 0)  # padding, dropped from the report


def test_report_equals_classifier_report():
    real, samples = _images(3, 40), 3.0 * _images(4, 50)  # scaled: mixed confidences
    fn = CountingFeatures()
    scorer = ClassifierScorer(fn, real, batch_size=16)
    report = scorer(samples)
    logits, feats = classifier_features(fn, samples, batch_size=16)
    _, real_feats = classifier_features(fn, real, batch_size=16)
    assert report == classifier_report(logits, feats, real_feats)
    assert set(report) == {"frechet_distance", "confident_share", "classes_present", "num_samples"}
    # Against the unbatched float64 map, computed here without the library's report.
    want_logits, want_feats = _direct(samples)
    chex.assert_trees_all_close((logits, feats), (want_logits, want_feats), rtol=1e-4, atol=1e-4)
    p = np.exp(want_logits - want_logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    confident = p.max(1) >= 0.9
    assert 0 < confident.mean() < 1  # the check below would not see a wrong threshold otherwise
    assert report["confident_share"] == pytest.approx(confident.mean())
    assert report["classes_present"] == len(np.unique(p.argmax(1)[confident]))
    assert report["num_samples"] == 50
    want_fd = frechet_distance_from_features(want_feats, _direct(real)[1])
    assert report["frechet_distance"] == pytest.approx(want_fd, rel=1e-4)
    # Real features given directly: same statistics, same report.
    assert ClassifierScorer(fn, real_features=real_feats, batch_size=16)(samples) == report
    # `confidence` reaches the report.
    loose = ClassifierScorer(fn, real, batch_size=16, confidence=0.5)(samples)
    assert loose == classifier_report(logits, feats, real_feats, confidence=0.5)
    assert loose["confident_share"] > report["confident_share"]


def test_scorer_and_report_errors():
    fn = CountingFeatures()
    with pytest.raises(ValueError, match="exactly one"):
        ClassifierScorer(fn)
    with pytest.raises(ValueError, match="exactly one"):
        ClassifierScorer(fn, _images(0, 4), real_features=np.zeros((4, 6)))
    with pytest.raises(ValueError, match="batch_size"):
        ClassifierScorer(fn, _images(0, 4), batch_size=0)
    with pytest.raises(ValueError, match=r"logits \(N, classes\) matching 5"):
        classifier_report(np.zeros((4, 10)), np.zeros((5, 6)), np.zeros((8, 6)))


def test_real_images_for_embedded_sets():
    digits = real_images_for("digits")
    want = data.digits("test")
    chex.assert_shape(digits, (len(want), 8, 8, 1))
    chex.assert_type(digits, np.uint8)
    np.testing.assert_array_equal(digits, want.images)
    mnist5k = real_images_for("mnist5k")
    np.testing.assert_array_equal(mnist5k, data.mnist5k("test").images)
    chex.assert_shape(mnist5k, (1000, 28, 28, 1))
    # As the DDPM samples are shaped: padded to 32x32, in [-1, 1].
    x = real_images_for("digits", [data.PadTo(32), data.ScaleToSymmetric()])
    chex.assert_shape(x, (len(want), 32, 32, 1))
    chex.assert_type(x, np.float32)
    np.testing.assert_allclose(x[:, 12:20, 12:20], want.images / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(x[:, :12], -1.0)


@pytest.mark.parametrize("name", ["mnist", "tfds:mnist"])
def test_real_images_for_tfds_mnist(name, monkeypatch):
    fake = data.ArraySource(
        np.full((3, 28, 28, 1), 7, np.uint8), np.arange(3), num_classes=10, name="fake"
    )
    calls = []

    def get_source(*args, **kwargs):
        calls.append((args, kwargs))
        return fake

    monkeypatch.setattr(data, "get_source", get_source)
    got = real_images_for(name, data_dir="/some/dir")
    assert calls == [(("tfds:mnist", "test"), {"data_dir": "/some/dir"})]
    np.testing.assert_array_equal(got, fake.images)


def test_real_images_for_unknown_dataset():
    assert set(CLASSIFIER_DATASETS) == {"mnist5k", "digits", "mnist", "tfds:mnist"}
    with pytest.raises(ValueError, match=r"'cifar10'.*mnist5k, digits, mnist, tfds:mnist"):
        real_images_for("cifar10")


def test_from_dataset_uses_the_named_real_set():
    fn = CountingFeatures()
    scorer = ClassifierScorer.from_dataset(fn, "digits", [data.ScaleToSymmetric()], batch_size=64)
    real = data.digits("test").images / 127.5 - 1
    assert scorer.num_real == len(real)
    real_feats = _direct(real)[1]
    chex.assert_trees_all_close(
        scorer.real_stats,
        (real_feats.mean(0), np.cov(real_feats, rowvar=False)),
        rtol=1e-4,
        atol=1e-6,
    )
