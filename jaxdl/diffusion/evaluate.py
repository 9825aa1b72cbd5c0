"""Scoring generated images with a classifier: Fréchet distance on its features, confidence,
and class coverage (for MNIST: the trained `experiments.mnist_classifier`). SPEC: DIF-6."""

from __future__ import annotations

import numpy as np

from jaxdl.diffusion.frechet import frechet_distance_from_features


def classifier_report(
    sample_logits: np.ndarray,
    sample_features: np.ndarray,
    real_features: np.ndarray,
    *,
    confidence: float = 0.9,
) -> dict[str, float]:
    """Fréchet distance between sample and real features (float64), the share of samples whose
    top softmax probability is >= `confidence`, and how many classes appear among the samples'
    confident predictions."""
    logits = np.asarray(sample_logits, np.float64)
    if logits.ndim != 2 or len(logits) != len(sample_features):
        raise ValueError(
            f"expected logits (N, classes) matching {len(sample_features)} feature rows, "
            f"got {logits.shape}"
        )
    z = logits - logits.max(-1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    top = probs.max(-1)
    confident = top >= confidence
    classes = np.unique(probs.argmax(-1)[confident])
    return {
        "frechet_distance": frechet_distance_from_features(sample_features, real_features),
        "confident_share": float(confident.mean()),
        "classes_present": int(len(classes)),
        "num_samples": int(len(logits)),
    }
