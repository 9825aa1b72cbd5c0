"""Additive white Gaussian noise for denoising (SPEC RES-1; DIF-5).

Images are float in [0, 1]; σ is given on the 0-255 scale, as denoising papers quote it, and
added as σ/255 (the standard protocol; the SUNet code used MATLAB's imnoise with variance
(σ/256)² and stored uint8, which we do not copy). Noisy images are not clipped.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def check_sigma(sigma: float) -> float:
    """σ on the 0-255 scale must lie in (0, 255]."""
    if not 0.0 < float(sigma) <= 255.0:
        raise ValueError(f"noise sigma must be in (0, 255] (0-255 scale), got {sigma}")
    return float(sigma)


def add_noise(images: jax.Array, sigma: jax.Array | float, key: jax.Array) -> jax.Array:
    """images (N, H, W, C) in [0, 1] + σ/255 · N(0, I); σ a scalar or per image (N,)."""
    sigma = jnp.asarray(sigma, images.dtype)
    if sigma.ndim == 1:
        sigma = sigma[:, None, None, None]
    return images + sigma / 255.0 * jax.random.normal(key, images.shape, images.dtype)


def blind_sigmas(key: jax.Array, n: int, low: float, high: float) -> jax.Array:
    """Per-image σ = round(U[low, high]) (SUNet's blind training range is [5, 50])."""
    if not 0.0 < low <= high <= 255.0:
        raise ValueError(f"need 0 < low <= high <= 255, got low={low}, high={high}")
    return jnp.round(jax.random.uniform(key, (n,), minval=low, maxval=high))


def noisy_numpy(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """One (H, W, C) float image in [0, 1] + σ/255 · N(0, I) from a NumPy seed (evaluation)."""
    noise = np.random.default_rng(seed).standard_normal(image.shape).astype(np.float32)
    return image.astype(np.float32) + check_sigma(sigma) / 255.0 * noise
