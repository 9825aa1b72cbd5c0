"""Mode-collapse metrics: VEEGAN/PacGAN's scores on 2-D mixtures and on stacked MNIST.

Srivastava et al. 2017 (VEEGAN, arXiv:1705.07761), Lin et al. 2018 (PacGAN, arXiv:1712.04086).
Host-side numpy (float64); inputs may be numpy or jax arrays. SPEC: GAN-4.
"""

from __future__ import annotations

import numpy as np


def _kl_to_uniform(counts: np.ndarray) -> float:
    """KL(q‖u) = Σ q_k log(K q_k), q = counts / Σ counts, u uniform over K = len(counts)."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    q = counts[counts > 0] / total
    return float(np.sum(q * np.log(len(counts) * q)))


def nearest_modes(samples, centers) -> tuple[np.ndarray, np.ndarray]:
    """(index (N,) of each sample's nearest centre, Euclidean distance (N,) to it)."""
    x = np.asarray(samples, np.float64)
    c = np.asarray(centers, np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples (N, D) and centers (K, D) expected, got {x.shape}, {c.shape}")
    sq = np.sum((x[:, None, :] - c[None, :, :]) ** 2, axis=-1)
    idx = np.argmin(sq, axis=1)
    return idx, np.sqrt(sq[np.arange(len(x)), idx])


def mode_metrics(samples, centers, sigma: float, threshold: float = 3.0) -> dict:
    """Mode coverage, sample quality and reverse KL of 2-D samples against a Gaussian mixture.

    A sample is high quality when within `threshold`·σ (Euclidean) of its nearest centre; a
    mode is covered when it is the nearest centre of at least one high-quality sample. For a
    true 2-D sample the high-quality rate is 1 − exp(−threshold²/2) ≈ 0.989 at 3σ, not 0.997.

    reverse_kl is KL(q‖p) with q the distribution of the *high-quality* samples over modes
    (low-quality samples are left out, as in PacGAN's evaluation code) and p uniform over all
    K modes: 0 for a perfect generator, log(K/k) for one spreading evenly over k modes, NaN when
    no sample is high quality. Returns {"modes_covered": int, "high_quality": float (fraction
    of all samples), "reverse_kl": float (nats)}.
    """
    idx, dist = nearest_modes(samples, centers)
    good = dist <= threshold * sigma
    counts = np.bincount(idx[good], minlength=len(centers))
    return {
        "modes_covered": int(np.count_nonzero(counts)),
        "high_quality": float(good.mean()) if len(good) else float("nan"),
        "reverse_kl": _kl_to_uniform(counts),
    }


def stacked_mnist_modes(labels3, num_classes: int = 10) -> dict:
    """Modes of stacked MNIST from per-channel classifier labels (N, 3): PacGAN's protocol.

    The mode is 100·l₀ + 10·l₁ + l₂ (1,000 modes for 10 classes). Returns {"modes_covered":
    int (modes with at least one sample), "kl_to_uniform": float KL(q‖uniform over 1,000)},
    q the empirical mode distribution of all N samples.
    """
    labels = np.asarray(labels3)
    if labels.ndim != 2 or labels.shape[1] != 3:
        raise ValueError(f"labels3 must be (N, 3), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}), got {labels.min()}..{labels.max()}"
        )
    modes = (labels[:, 0] * num_classes + labels[:, 1]) * num_classes + labels[:, 2]
    counts = np.bincount(modes.astype(np.int64), minlength=num_classes**3)
    return {
        "modes_covered": int(np.count_nonzero(counts)),
        "kl_to_uniform": _kl_to_uniform(counts),
    }
