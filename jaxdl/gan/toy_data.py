"""2-D Gaussian mixtures for mode-collapse experiments: the ring of 8 and the grid of 25.

VEEGAN (Srivastava et al. 2017, arXiv:1705.07761) and PacGAN (Lin et al. 2018,
arXiv:1712.04086): equal weights, isotropic σ. "ring": 8 modes at angles 2πk/8, k = 0..7, on
the unit circle, σ = 0.01. "grid": 25 modes at {−4, −2, 0, 2, 4}², σ = 0.05. Score samples
with `jaxdl.gan.mode_metrics`. SPEC: GAN-4.
"""

from __future__ import annotations

import functools

import grain
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.data.pipeline import make_pipeline
from jaxdl.data.validate import RecordSpec

MIXTURES = ("ring", "grid")


def ring_centers(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
    """(num_modes, 2) float32 points evenly spaced on a circle, the first at (radius, 0)."""
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)).astype(np.float32)


def grid_centers(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> np.ndarray:
    """(len(values)², 2) float32 grid points, row-major: (v_i, v_j) at index i·len + j."""
    xs, ys = np.meshgrid(np.asarray(values), np.asarray(values), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=-1).astype(np.float32)


def mixture(name: str) -> tuple[np.ndarray, float]:
    """(centers (K, 2) float32, σ) of the mixture `name` ("ring" or "grid")."""
    if name == "ring":
        return ring_centers(), 0.01
    if name == "grid":
        return grid_centers(), 0.05
    raise ValueError(f"unknown mixture {name!r}; valid names: {', '.join(MIXTURES)}")


def sample_mixture(rng: jax.Array, name: str, n: int) -> jax.Array:
    """n samples (n, 2) float32: a mode uniformly at random, plus σ·N(0, I); name, n static."""
    centers, sigma = mixture(name)
    k_mode, k_noise = jax.random.split(rng)
    modes = jax.random.randint(k_mode, (n,), 0, len(centers))
    return jnp.asarray(centers)[modes] + sigma * jax.random.normal(k_noise, (n, 2), jnp.float32)


def sample_mixture_np(rng: np.random.Generator, name: str, n: int) -> np.ndarray:
    """numpy version of `sample_mixture`: (n, 2) float32 from a `np.random.Generator`."""
    centers, sigma = mixture(name)
    modes = rng.integers(0, len(centers), size=n)
    return (centers[modes] + sigma * rng.standard_normal((n, 2))).astype(np.float32)


@functools.cache
def _points(name: str, size: int, seed: int) -> np.ndarray:
    points = sample_mixture_np(np.random.default_rng(seed), name, size)
    points.setflags(write=False)
    return points


class MixtureSource:
    """Random-access source of `size` pre-drawn points of mixture `name` (fixed by `seed`).

    Records are `{"x": float32 (2,)}`; use with `jaxdl.data.make_pipeline` (shuffled, repeated,
    checkpointable), as `mixture_batches` does. 1,000,000 points take 8 MB.
    """

    def __init__(self, name: str, size: int = 1_000_000, seed: int = 0):
        mixture(name)  # validates the name
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        self.name, self.seed = name, seed
        self.points = _points(name, size, seed)
        self.spec = RecordSpec(x=((2,), np.float32))

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {"x": self.points[index]}

    def __repr__(self) -> str:
        return f"MixtureSource({self.name!r}, size={len(self)}, seed={self.seed})"


def mixture_batches(
    name: str, batch_size: int, seed: int = 0, *, size: int = 1_000_000, **pipeline_kwargs
) -> grain.IterDataset:
    """Endless shuffled batches `{"x": float32 (B, 2)}` of a `MixtureSource(name, size, seed)`.

    `batch_size` is global (each process gets its share); `iter(...)` has grain's
    `get_state`/`set_state`. Other keywords go to `jaxdl.data.make_pipeline`.
    """
    source = MixtureSource(name, size, seed)
    return make_pipeline(source, global_batch_size=batch_size, seed=seed, **pipeline_kwargs)


class MixtureStream:
    """Endless batches `{"x": float32 (B, 2)}` drawn on the fly, about 100× cheaper per batch
    than the record-by-record grain pipeline of `mixture_batches` (what a 2-D toy GAN needs).

    Batch i is drawn from `default_rng([seed, i, process_index])`: reproducible and resumable
    (`get_state`/`set_state` hold i, so `fit` checkpoints the position). `batch_size` is global;
    each of P processes draws its B / P rows with its own key. `scale` > 0 divides every point
    (e.g. 4 puts the grid's centres in [−1, 1]²; a generator trained on it is scaled back).
    """

    def __init__(self, name: str, batch_size: int, seed: int = 0, scale: float = 1.0):
        mixture(name)  # validates the name
        count = jax.process_count()
        if batch_size % count:
            raise ValueError(f"batch_size {batch_size} is not divisible by {count} processes")
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.name, self.local, self.seed, self.index = name, batch_size // count, seed, 0
        self.scale = float(scale)

    def __iter__(self) -> MixtureStream:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.index, jax.process_index()])
        self.index += 1
        x = sample_mixture_np(rng, self.name, self.local)
        return {"x": x if self.scale == 1.0 else (x / np.float32(self.scale)).astype(np.float32)}

    def get_state(self) -> dict:
        return {"index": self.index}

    def set_state(self, state: dict) -> None:
        self.index = int(state["index"])
