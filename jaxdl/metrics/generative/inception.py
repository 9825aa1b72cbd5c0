"""FID and Inception Score with pytorch-fid's InceptionV3 (`jaxdl.models.inception`). SPEC: DIF-6.

FID (Heusel et al. 2017, arXiv:1706.08500): Fréchet distance
(`jaxdl.metrics.generative.frechet`) between Gaussians fitted to pool3 features, as pytorch-fid.
Inception Score (Salimans et al. 2016, arXiv:1606.03498): as the original OpenAI code (and
torch-fidelity): softmax over the 1008 logits pool3 @ fc.weight (no bias), then per split
exp(mean KL(p(y|x) || p(y))), and the mean and std over splits. DDPM on CIFAR-10 (Ho et al. 2020):
FID 3.17, IS 9.46 on 50k samples. Reference statistics are `.npz` files with `mu` and `sigma`
(pytorch-fid's `--save-stats` format). Weights and usage: docs/fid_inception.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxdl.metrics.generative.frechet import feature_statistics, frechet_distance
from jaxdl.models.inception import FIDInceptionV3, preprocess


@jax.jit
def _forward(variables: Any, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    return FIDInceptionV3().apply(variables, preprocess(images))


def inception_features(
    variables: Any, images: Any, batch_size: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """(pool3 (N, 2048), logits (N, 1008)) as float64, from (N, H, W, 3) images.

    images: uint8 in [0, 255] or float in [0, 1], any size (resized to 299 as pytorch-fid).
    Runs in jitted batches of `batch_size`; the last batch is padded, so one compilation.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"expected images (N >= 1, H, W, 3), got {images.shape}")
    if np.issubdtype(images.dtype, np.floating) and (images.min() < 0 or images.max() > 1):
        raise ValueError(
            f"float images must be in [0, 1], got [{images.min():.3g}, {images.max():.3g}]: "
            "map model samples in [-1, 1] with (x + 1) / 2, or pass uint8"
        )
    batch_size = min(batch_size, len(images))
    variables = jax.device_put(variables)  # once, not per batch
    outputs = []  # device arrays: batches are dispatched without waiting for each other
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size]
        if len(batch) < batch_size:
            pad = np.zeros((batch_size - len(batch), *batch.shape[1:]), batch.dtype)
            batch = np.concatenate([batch, pad])
        outputs.append(_forward(variables, batch))
    n = len(images)
    feats = np.concatenate([np.asarray(f, np.float64) for f, _ in outputs])[:n]
    logits = np.concatenate([np.asarray(lg, np.float64) for _, lg in outputs])[:n]
    return feats, logits


def inception_score(
    logits_or_probs: Any, splits: int = 10, *, from_logits: bool = True
) -> tuple[float, float]:
    """Inception Score (mean, std over `splits`) of (N, classes) logits or probabilities.

    Float64. Split i holds rows [i·N//splits, (i+1)·N//splits) in the given order (no shuffle,
    as the original code); its score is exp(mean_x KL(p(y|x) || p(y))) with p(y) the split's
    mean prediction; std is NumPy's (ddof=0). `from_logits=False` takes probabilities.
    """
    x = np.asarray(logits_or_probs, np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (N, classes) logits or probabilities, got shape {x.shape}")
    if splits < 1 or len(x) < splits:
        raise ValueError(f"need 1 <= splits <= N, got splits={splits} with N={len(x)}")
    if from_logits:
        z = x - x.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        p = np.exp(log_p)
    else:
        if (x < 0).any() or not np.allclose(x.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError("probabilities must be >= 0 with rows summing to 1 (or from_logits)")
        p = x
        with np.errstate(divide="ignore"):
            log_p = np.log(p)
    scores = []
    for i in range(splits):
        sl = slice(i * len(x) // splits, (i + 1) * len(x) // splits)
        part, log_part = p[sl], log_p[sl]
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 · log 0 terms count as 0
            log_py = np.log(part.mean(axis=0, keepdims=True))
            kl = np.where(part > 0, part * (log_part - log_py), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def save_fid_stats(path: str | Path, mu: Any, sigma: Any) -> None:
    """Write `mu` (d,) and `sigma` (d, d) as float64 to an `.npz` (pytorch-fid's format)."""
    mu, sigma = _check_stats(np.asarray(mu, np.float64), np.asarray(sigma, np.float64), path)
    with open(path, "wb") as f:  # an open file keeps the name as given (no ".npz" appended)
        np.savez(f, mu=mu, sigma=sigma)


def load_fid_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(mu (d,), sigma (d, d)) float64 from an `.npz` with keys `mu` and `sigma`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no FID statistics file at {path}: expected an .npz with keys 'mu' and 'sigma' "
            "(pytorch-fid --save-stats, or jaxdl.metrics.generative.save_fid_stats)"
        )
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in ("mu", "sigma") if k not in data.files]
        if missing:
            raise KeyError(
                f"{path} lacks key(s) {missing}: expected 'mu' and 'sigma', found {data.files}"
            )
        mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
    return _check_stats(mu, sigma, path)


def _check_stats(mu: np.ndarray, sigma: np.ndarray, where: Any) -> tuple[np.ndarray, np.ndarray]:
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"FID statistics ({where}) must be mu (d,) and sigma (d, d), "
            f"got {mu.shape} and {sigma.shape}"
        )
    return mu, sigma


def fid_stats(variables: Any, images: Any, batch_size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of the pool3 features of `images` (e.g. the 50k CIFAR-10 training images)."""
    return feature_statistics(inception_features(variables, images, batch_size)[0])


def inception_report(
    variables: Any,
    sample_images: Any,
    real_images: Any = None,
    real_stats: str | Path | tuple[Any, Any] | None = None,
    *,
    batch_size: int = 200,
    splits: int = 10,
) -> dict[str, float]:
    """FID of `sample_images` against the real data, and their Inception Score. SPEC: DIF-6.

    Images are (N, H, W, 3) uint8 (or float in [0, 1]). Give the real side as `real_images` or
    as `real_stats`: an `.npz` path (`load_fid_stats`) or a (mu, sigma) pair. Returns {"fid",
    "inception_score", "inception_score_std", "num_samples"}. The paper numbers use 50k samples.
    """
    if (real_images is None) == (real_stats is None):
        raise ValueError("give exactly one of real_images and real_stats")
    feats, _ = inception_features(variables, sample_images, batch_size)
    if real_images is not None:
        mu_r, sigma_r = fid_stats(variables, real_images, batch_size)
    elif isinstance(real_stats, str | Path):
        mu_r, sigma_r = load_fid_stats(real_stats)
    else:
        mu_r, sigma_r = (np.asarray(s, np.float64) for s in real_stats)
        _check_stats(mu_r, sigma_r, "real_stats")
    mu_s, sigma_s = feature_statistics(feats)
    kernel = np.asarray(variables["params"]["fc"]["kernel"], np.float64)
    is_mean, is_std = inception_score(feats @ kernel, splits)  # unbiased logits, as OpenAI's
    return {
        "fid": frechet_distance(mu_s, sigma_s, mu_r, sigma_r),
        "inception_score": is_mean,
        "inception_score_std": is_std,
        "num_samples": int(len(feats)),
    }
