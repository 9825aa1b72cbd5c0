"""Sinusoidal embeddings: diffusion timesteps (DDPM) and Transformer positions.

SPEC: SEQ-3 ([std] PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)), DIF rows
(DDPM timestep embedding). Vaswani et al. 2017 (arXiv:1706.03762); Ho et al. 2020
(arXiv:2006.11239, `get_timestep_embedding` in the official TF code).
"""

import math

import jax
import jax.numpy as jnp


def timestep_embedding(
    timesteps: jax.Array,
    dim: int,
    flip_sin_to_cos: bool = False,
    downscale_freq_shift: float = 1.0,
    scale: float = 1.0,
    max_period: float = 10000.0,
) -> jax.Array:
    """DDPM/diffusers timestep embedding: (N,) -> (N, dim), first half sin, second half cos.

    freq_k = exp(-ln(max_period) * k / (dim // 2 - downscale_freq_shift)), k < dim // 2, and
    emb = [sin(scale * t * freq), cos(scale * t * freq)]; `flip_sin_to_cos=True` puts cos first;
    odd `dim` is zero-padded on the right. Equals
    `diffusers.models.embeddings.get_timestep_embedding` with the same arguments. DDPM's official
    code (and diffusers `google/ddpm-cifar10-32`) use `flip_sin_to_cos=False`,
    `downscale_freq_shift=1`; guided-diffusion / Stable Diffusion use True and 0.
    Timesteps may be fractional.
    """
    if timesteps.ndim != 1:
        raise ValueError(f"timesteps must be 1-D (N,), got shape {timesteps.shape}")
    half = dim // 2
    if half == 0 or half - downscale_freq_shift == 0:
        raise ValueError(f"dim={dim} too small for downscale_freq_shift={downscale_freq_shift}")
    exponent = -math.log(max_period) * jnp.arange(half, dtype=jnp.float32)
    freqs = jnp.exp(exponent / (half - downscale_freq_shift))
    args = scale * (timesteps.astype(jnp.float32)[:, None] * freqs[None, :])
    sin, cos = jnp.sin(args), jnp.cos(args)
    emb = jnp.concatenate([cos, sin] if flip_sin_to_cos else [sin, cos], axis=-1)
    if dim % 2:
        emb = jnp.pad(emb, ((0, 0), (0, 1)))
    return emb


def sinusoidal_position_embedding(length: int, dim: int, max_period: float = 10000.0) -> jax.Array:
    """Transformer positional encoding (length, dim), sin on even and cos on odd features.

    PE[p, 2i] = sin(p / max_period^(2i/dim)), PE[p, 2i+1] = cos(p / max_period^(2i/dim)).
    SPEC: SEQ-3. Added to token embeddings of shape (B, length, dim).
    """
    if dim % 2:
        raise ValueError(f"dim must be even for interleaved sin/cos, got {dim}")
    pos = jnp.arange(length, dtype=jnp.float32)[:, None]
    inv = jnp.exp(-math.log(max_period) * jnp.arange(0, dim, 2, dtype=jnp.float32) / dim)
    args = pos * inv[None, :]
    return jnp.stack([jnp.sin(args), jnp.cos(args)], axis=-1).reshape(length, dim)
