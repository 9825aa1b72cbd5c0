"""Generative-model metrics shared by GANs and diffusion: Fréchet distance, FID and Inception
Score with pytorch-fid's InceptionV3, and the classifier-based score for digit datasets.

Heusel et al. 2017 (FID, arXiv:1706.08500); Salimans et al. 2016 (Inception Score,
arXiv:1606.03498). SPEC: DIF-6. See docs/fid_inception.md.
"""

from jaxdl.metrics.generative.classifier import (
    CLASSIFIER_DATASETS,
    ClassifierScorer,
    classifier_features,
    classifier_report,
    real_images_for,
)
from jaxdl.metrics.generative.frechet import (
    extract_features,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    frechet_distance_from_images,
)
from jaxdl.metrics.generative.inception import (
    fid_stats,
    inception_features,
    inception_report,
    inception_score,
    load_fid_stats,
    save_fid_stats,
)

__all__ = [
    "CLASSIFIER_DATASETS",
    "ClassifierScorer",
    "classifier_features",
    "classifier_report",
    "extract_features",
    "feature_statistics",
    "fid_stats",
    "frechet_distance",
    "frechet_distance_from_features",
    "frechet_distance_from_images",
    "inception_features",
    "inception_report",
    "inception_score",
    "load_fid_stats",
    "real_images_for",
    "save_fid_stats",
]
