"""Probability facts used in the notes, as checked functions. SPEC: BAS-11 (random angles)."""

from jaxdl.stats.random_angles import (
    angle_cdf,
    angle_logpdf,
    angle_mean,
    angle_pdf,
    angle_variance,
    sample_angles,
)

__all__ = [
    "angle_cdf",
    "angle_logpdf",
    "angle_mean",
    "angle_pdf",
    "angle_variance",
    "sample_angles",
]
