"""Toy 2-D mixtures (ring of 8, grid of 25) and VEEGAN/PacGAN mode metrics. SPEC: GAN-4."""

import functools
import itertools
import math

import chex
import jax
import numpy as np
import pytest

from jaxdl import gan

key = functools.partial(jax.random.key, impl="rbg")
RING, RING_SIGMA = gan.mixture("ring")
HQ_2D = 1 - math.exp(-4.5)  # P(‖N(0, I₂)‖ ≤ 3) = 0.98889


def test_ring_geometry():
    c = gan.ring_centers()
    chex.assert_shape(c, (8, 2))
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(c[0], [1.0, 0.0], atol=1e-7)
    # Evenly spaced, no repeated endpoint: 8 distinct angles 45° apart.
    angles = np.sort(np.mod(np.arctan2(c[:, 1], c[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), np.pi / 4, atol=1e-6)
    d = np.linalg.norm(c[:, None] - c[None], axis=-1) + 10 * np.eye(8)
    np.testing.assert_allclose(d.min(), 2 * math.sin(math.pi / 8), atol=1e-6)
    assert RING_SIGMA == 0.01


def test_grid_geometry():
    c, sigma = gan.mixture("grid")
    chex.assert_shape(c, (25, 2))
    assert sigma == 0.05
    assert {tuple(p) for p in c.tolist()} == set(itertools.product([-4, -2, 0, 2, 4], repeat=2))
    d = np.linalg.norm(c[:, None] - c[None], axis=-1) + 100 * np.eye(25)
    np.testing.assert_allclose(d.min(), 2.0)


def test_unknown_mixture():
    with pytest.raises(ValueError, match="ring, grid"):
        gan.mixture("spiral")


def test_mode_metrics_hand_made():
    # 3 points on modes 0, 2, 5 (one 2.9σ off its centre), 2 far from every mode.
    samples = np.stack(
        [RING[0], RING[2] + [0.0, 2.9 * RING_SIGMA], RING[5], [0.0, 0.0], [5.0, 5.0]]
    )
    m = gan.mode_metrics(samples, RING, RING_SIGMA)
    assert m["modes_covered"] == 3
    np.testing.assert_allclose(m["high_quality"], 0.6)
    np.testing.assert_allclose(m["reverse_kl"], math.log(8 / 3))
    # 3.1σ off is low quality: mode 2 is lost, and low-quality samples are not in the KL.
    samples[1] = RING[2] + [0.0, 3.1 * RING_SIGMA]
    m = gan.mode_metrics(samples, RING, RING_SIGMA)
    assert m["modes_covered"] == 2
    np.testing.assert_allclose(m["high_quality"], 0.4)
    np.testing.assert_allclose(m["reverse_kl"], math.log(4))


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_reverse_kl_uniform_over_k_modes(k):
    samples = np.repeat(RING[:k], 5, axis=0)
    m = gan.mode_metrics(samples, RING, RING_SIGMA)
    assert m["modes_covered"] == k
    np.testing.assert_allclose(m["reverse_kl"], math.log(8 / k), atol=1e-12)


def test_reverse_kl_uneven():
    samples = np.concatenate([np.repeat(RING[:1], 3, axis=0), RING[1:2]])  # q = (3/4, 1/4)
    expected = 0.75 * math.log(8 * 0.75) + 0.25 * math.log(8 * 0.25)
    np.testing.assert_allclose(gan.mode_metrics(samples, RING, RING_SIGMA)["reverse_kl"], expected)


def test_no_high_quality_sample():
    m = gan.mode_metrics(np.full((3, 2), 7.0), RING, RING_SIGMA)
    assert m["modes_covered"] == 0 and m["high_quality"] == 0.0 and math.isnan(m["reverse_kl"])


@pytest.mark.parametrize("name", gan.MIXTURES)
def test_true_samples_score_perfectly(name):
    centers, sigma = gan.mixture(name)
    n = 10_000
    for x in (
        np.asarray(jax.jit(gan.sample_mixture, static_argnums=(1, 2))(key(0), name, n)),
        gan.sample_mixture_np(np.random.default_rng(0), name, n),
    ):
        chex.assert_shape(x, (n, 2))
        assert x.dtype == np.float32
        m = gan.mode_metrics(x, centers, sigma)
        assert m["modes_covered"] == len(centers)
        # 2-D: 1 − e^{−4.5} within 3σ (binomial sd ≈ 0.001).
        np.testing.assert_allclose(m["high_quality"], HQ_2D, atol=0.005)
        assert m["reverse_kl"] < 0.01  # sampling noise only: ≈ (K − 1) / (2n)
        idx, dist = gan.nearest_modes(x, centers)
        np.testing.assert_allclose(np.sqrt(np.mean(dist**2) / 2), sigma, rtol=0.03)


def test_mixture_batches_resume():
    ds = gan.mixture_batches("grid", 16, seed=3, size=1000)
    it = iter(ds)
    first = next(it)
    assert set(first) == {"x"} and first["x"].shape == (16, 2) and first["x"].dtype == np.float32
    next(it)
    state = it.get_state()
    expected = next(it)
    resumed = iter(gan.mixture_batches("grid", 16, seed=3, size=1000))
    resumed.set_state(state)
    np.testing.assert_array_equal(next(resumed)["x"], expected["x"])
    centers, sigma = gan.mixture("grid")
    assert gan.mode_metrics(first["x"], centers, sigma)["modes_covered"] > 5
    # batch_size is global: process 1 of 2 gets rows 8..15 of the same batch.
    half = gan.mixture_batches("grid", 16, seed=3, size=1000, process_index=1, process_count=2)
    np.testing.assert_array_equal(next(iter(half))["x"], first["x"][8:])


def test_mixture_source_seeded():
    a, b = gan.MixtureSource("ring", 100, seed=1), gan.MixtureSource("ring", 100, seed=2)
    np.testing.assert_array_equal(a[5]["x"], gan.MixtureSource("ring", 100, seed=1)[5]["x"])
    assert len(a) == 100 and not np.array_equal(a.points, b.points)


def test_stacked_mnist_modes():
    all_modes = np.array(list(itertools.product(range(10), repeat=3)))
    m = gan.stacked_mnist_modes(all_modes)
    assert m["modes_covered"] == 1000
    np.testing.assert_allclose(m["kl_to_uniform"], 0.0, atol=1e-12)
    # Only the 10 modes (d, d, d), equally often: KL = log(1000 / 10).
    diag = np.repeat(np.arange(10)[:, None], 3, axis=1).repeat(4, axis=0)
    m = gan.stacked_mnist_modes(diag)
    assert m["modes_covered"] == 10
    np.testing.assert_allclose(m["kl_to_uniform"], math.log(100))
    # One mode only: KL = log 1000 even when high modes are never drawn.
    m = gan.stacked_mnist_modes(np.array([[0, 0, 1]] * 5))
    assert m["modes_covered"] == 1
    np.testing.assert_allclose(m["kl_to_uniform"], math.log(1000))
    # Channel order matters: (1, 2, 3) and (3, 2, 1) are different modes.
    assert gan.stacked_mnist_modes(np.array([[1, 2, 3], [3, 2, 1]]))["modes_covered"] == 2


def test_stacked_mnist_modes_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        gan.stacked_mnist_modes(np.zeros((4, 2), int))
    with pytest.raises(ValueError, match="0, 10"):
        gan.stacked_mnist_modes(np.array([[0, 10, 1]]))


def test_mixture_stream_is_reproducible_and_resumable():
    from jaxdl.gan import MixtureStream, mode_metrics, ring_centers

    a = MixtureStream("ring", 64, seed=3)
    first = [next(a)["x"] for _ in range(3)]
    b = MixtureStream("ring", 64, seed=3)
    next(b)
    state = b.get_state()
    c = MixtureStream("ring", 64, seed=3)
    c.set_state(state)
    np.testing.assert_array_equal(next(c)["x"], first[1])
    assert first[0].shape == (64, 2) and first[0].dtype == np.float32
    assert not np.array_equal(first[0], first[1])
    x = np.concatenate([next(a)["x"] for _ in range(50)])
    assert mode_metrics(x, ring_centers(), 0.01)["modes_covered"] == 8
    with pytest.raises(ValueError):
        MixtureStream("spiral", 64)


def test_mixture_stream_scale_divides_the_same_points():
    from jaxdl.gan import MixtureStream

    plain = next(MixtureStream("grid", 32, seed=1))["x"]
    scaled = next(MixtureStream("grid", 32, seed=1, scale=4.0))["x"]
    assert scaled.dtype == np.float32 and np.abs(scaled).max() < 1.2
    np.testing.assert_allclose(scaled * 4.0, plain, rtol=1e-6)
    with pytest.raises(ValueError, match="scale"):
        MixtureStream("grid", 32, scale=0.0)
