"""Scoring generated images with a classifier: Fréchet distance on its features, confidence and
class coverage. SPEC: DIF-6 (the MNIST stand-in for FID/IS).

On digit datasets a trained classifier (e.g. `experiments.mnist_classifier`) takes the place of
InceptionV3: the Fréchet distance of FID (Heusel et al. 2017, arXiv:1706.08500) on its penultimate
features against a held-out real set, the share of samples it classifies confidently, and how
many classes those confident predictions cover (the two sides of the Inception Score, Salimans et
al. 2016, arXiv:1606.03498). `ClassifierScorer` computes the real set's statistics once;
`real_images_for(dataset)` picks that set from the dataset name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jaxdl.metrics.generative.frechet import feature_statistics, frechet_distance

# images -> (logits (n, classes), features (n, d)), e.g. a jitted
# `lambda x: clf.apply({"params": p}, x, return_features=True)`.
FeaturesFn = Callable[[Any], tuple[Any, Any]]

# Dataset name -> (source name for `jaxdl.data.get_source`, held-out split).
REAL_SETS: dict[str, tuple[str, str]] = {
    "mnist5k": ("mnist5k", "test"),
    "digits": ("digits", "test"),
    "mnist": ("tfds:mnist", "test"),
    "tfds:mnist": ("tfds:mnist", "test"),
}
CLASSIFIER_DATASETS = tuple(REAL_SETS)


def _checked_logits(logits: Any, features: Any) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or len(logits) != len(features):
        raise ValueError(
            f"expected logits (N, classes) matching {len(features)} feature rows, "
            f"got {logits.shape}"
        )
    return logits


def _report(
    logits: Any, features: Any, real_stats: tuple[np.ndarray, np.ndarray], confidence: float
) -> dict[str, float]:
    logits = _checked_logits(logits, features)
    z = logits - logits.max(-1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    confident = probs.max(-1) >= confidence
    classes = np.unique(probs.argmax(-1)[confident])
    return {
        "frechet_distance": frechet_distance(*feature_statistics(features), *real_stats),
        "confident_share": float(confident.mean()),
        "classes_present": int(len(classes)),
        "num_samples": int(len(logits)),
    }


def classifier_report(
    sample_logits: np.ndarray,
    sample_features: np.ndarray,
    real_features: np.ndarray,
    *,
    confidence: float = 0.9,
) -> dict[str, float]:
    """Fréchet distance between sample and real features (float64), the share of samples whose
    top softmax probability is >= `confidence`, and how many classes appear among the samples'
    confident predictions. Returns {"frechet_distance", "confident_share", "classes_present",
    "num_samples"}."""
    _checked_logits(sample_logits, sample_features)  # before the real side's statistics
    return _report(sample_logits, sample_features, feature_statistics(real_features), confidence)


def classifier_features(
    features_fn: FeaturesFn, images: Any, batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """(logits (N, classes), features (N, d)) as float64, from `features_fn` over `images`.

    Runs in batches of `min(batch_size, N)`; the last batch is padded with zeros (and the padding
    dropped), so a jitted `features_fn` compiles once per batch size.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images = np.asarray(images)
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"expected a batch of N >= 1 images, got shape {images.shape}")
    n = len(images)
    batch_size = min(batch_size, n)
    outputs = []  # device arrays: batches are dispatched without waiting for each other
    for i in range(0, n, batch_size):
        batch = images[i : i + batch_size]
        if len(batch) < batch_size:
            pad = np.zeros((batch_size - len(batch), *batch.shape[1:]), batch.dtype)
            batch = np.concatenate([batch, pad])
        outputs.append(features_fn(batch))
    logits = np.concatenate([np.asarray(lg, np.float64) for lg, _ in outputs])[:n]
    feats = np.concatenate([np.asarray(f, np.float64).reshape(batch_size, -1) for _, f in outputs])
    return logits, feats[:n]


def real_images_for(
    dataset: str, transforms: Sequence[Any] | None = None, *, data_dir: str | None = None
) -> np.ndarray:
    """The held-out real images a classifier scorer compares samples with, by dataset name.

    "mnist5k" -> `jaxdl.data.mnist5k("test")` (1,000), "digits" -> `jaxdl.data.digits("test")`
    (360), "mnist" / "tfds:mnist" -> the TFDS mnist test split (10,000; `data_dir` as in
    `jaxdl.data.get_source`). `transforms` (e.g. `[PadTo(32), ScaleToSymmetric()]`, as the
    samples are shaped) are applied to each record in order, with a fixed rng; without them the
    images are uint8 (N, H, W, C). Unknown names raise a ValueError listing the supported ones.
    """
    from jaxdl import data

    if dataset not in REAL_SETS:
        raise ValueError(
            f"no classifier reference set for dataset {dataset!r}; supported: "
            f"{', '.join(CLASSIFIER_DATASETS)} (RGB sets such as cifar10 are scored with FID/IS: "
            "jaxdl.metrics.generative.inception_report)"
        )
    name, split = REAL_SETS[dataset]
    if name == "mnist5k":
        src = data.mnist5k(split)
    elif name == "digits":
        src = data.digits(split)
    else:
        src = data.get_source(name, split, data_dir=data_dir)
    compose = data.Compose(*transforms) if transforms else None
    rng = np.random.default_rng(0)
    records = (src[i] for i in range(len(src)))
    return np.stack([(compose(r, rng) if compose else r)["image"] for r in records])


class ClassifierScorer:
    """Scores samples with a classifier against real data whose statistics are computed once.

    `features_fn(images) -> (logits, features)`, ideally jitted. Give the real side as
    `real_images` (run through `features_fn` in batches of `batch_size` here, at construction)
    or as `real_features` (N, d). `scorer(samples)` runs `features_fn` on the samples only and
    returns `classifier_report`'s dict (same keys, same numbers). SPEC: DIF-6.
    """

    def __init__(
        self,
        features_fn: FeaturesFn,
        real_images: Any = None,
        *,
        real_features: Any = None,
        batch_size: int = 500,
        confidence: float = 0.9,
    ):
        if (real_images is None) == (real_features is None):
            raise ValueError("give exactly one of real_images and real_features")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.features_fn, self.batch_size, self.confidence = features_fn, batch_size, confidence
        if real_images is not None:
            real_features = classifier_features(features_fn, real_images, batch_size)[1]
        self.real_stats = feature_statistics(real_features)  # (mu (d,), sigma (d, d)) float64
        self.num_real = int(len(real_features))

    @classmethod
    def from_dataset(
        cls,
        features_fn: FeaturesFn,
        dataset: str,
        transforms: Sequence[Any] | None = None,
        *,
        data_dir: str | None = None,
        batch_size: int = 500,
        confidence: float = 0.9,
    ) -> ClassifierScorer:
        """The scorer whose real set is `real_images_for(dataset, transforms, data_dir=...)`."""
        real = real_images_for(dataset, transforms, data_dir=data_dir)
        return cls(features_fn, real, batch_size=batch_size, confidence=confidence)

    def __call__(self, samples: Any) -> dict[str, float]:
        """{"frechet_distance", "confident_share", "classes_present", "num_samples"}."""
        logits, features = classifier_features(self.features_fn, samples, self.batch_size)
        return _report(logits, features, self.real_stats, self.confidence)
