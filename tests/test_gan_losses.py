"""GAN losses and gradient penalties against PyTorch re-expressions and closed forms.

SPEC: GAN-1 (minimax, D* and JSD), GAN-3 (WGAN, WGAN-GP), GAN-5 (LSGAN), GAN-6 (R1), RES-3 (RaGAN).
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jaxdl import gan

# "rbg" keys compile several times faster than threefry on CPU.
key = functools.partial(jax.random.key, impl="rbg")
RNG = np.random.default_rng(0)
# Logits of a PatchGAN-like map, some large enough that a naive log(sigmoid) would overflow.
REAL = RNG.normal(size=(4, 3, 3, 1)).astype(np.float32) * np.float32(4.0)
FAKE = RNG.normal(size=(4, 3, 3, 1)).astype(np.float32) * np.float32(4.0)
REAL[0, 0, 0, 0], FAKE[0, 0, 0, 0] = 60.0, -60.0


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _mse(x, target: float):
    return F.mse_loss(x, torch.full_like(x, target))


# name -> (D loss, G loss) written independently in PyTorch, both of (real, fake).
TORCH = {
    "minimax": (lambda r, f: _bce(r, 1.0) + _bce(f, 0.0), lambda r, f: -_bce(f, 0.0)),
    "nonsaturating": (lambda r, f: _bce(r, 1.0) + _bce(f, 0.0), lambda r, f: _bce(f, 1.0)),
    "wasserstein": (lambda r, f: f.mean() - r.mean(), lambda r, f: -f.mean()),
    "least_squares": (
        lambda r, f: 0.5 * (_mse(r, 1.0) + _mse(f, 0.0)),
        lambda r, f: 0.5 * _mse(f, 1.0),
    ),
    "hinge": (lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda r, f: -f.mean()),
    "relativistic_average": (
        lambda r, f: _bce(r - f.mean(), 1.0) + _bce(f - r.mean(), 0.0),
        lambda r, f: _bce(r - f.mean(), 0.0) + _bce(f - r.mean(), 1.0),
    ),
}


def test_registry_names():
    assert set(gan.LOSSES) == set(TORCH)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_losses_match_torch(name):
    d_loss, g_loss = gan.get_losses(name)
    d_ref, g_ref = TORCH[name]
    r, f = torch.from_numpy(REAL), torch.from_numpy(FAKE)
    for ours, ref in ((d_loss, d_ref), (g_loss, g_ref)):
        value = ours(jnp.asarray(REAL), jnp.asarray(FAKE))
        chex.assert_shape(value, ())
        assert np.isfinite(value)
        np.testing.assert_allclose(value, ref(r, f).item(), rtol=1e-5, atol=1e-5)


def test_direct_signatures_and_scale():
    r, f = jnp.asarray(REAL), jnp.asarray(FAKE)
    tf = torch.from_numpy(FAKE)
    np.testing.assert_allclose(gan.g_nonsaturating(f), _bce(tf, 1.0).item(), rtol=1e-5)
    np.testing.assert_allclose(gan.g_minimax(f), -_bce(tf, 0.0).item(), rtol=1e-5)
    np.testing.assert_allclose(gan.g_wasserstein(f), -tf.mean().item(), rtol=1e-5)
    # CycleGAN: G loss MSE(D(G(x)), 1) without the ½; D loss (MSE(real,1) + MSE(fake,0)) / 2.
    np.testing.assert_allclose(gan.g_least_squares(f, scale=1.0), _mse(tf, 1.0).item(), rtol=1e-5)
    np.testing.assert_allclose(
        gan.d_least_squares(r, f, scale=1.0),
        2 * gan.d_least_squares(r, f),
        rtol=1e-6,
    )


def test_hinge_by_hand():
    real, fake = jnp.array([2.0, 0.5, -1.0]), jnp.array([-2.0, 0.0, 1.5])
    # relu(1 - real) = [0, .5, 2], relu(1 + fake) = [0, 1, 2.5]
    np.testing.assert_allclose(gan.d_hinge(real, fake), 2.5 / 3 + 3.5 / 3, rtol=1e-6)
    np.testing.assert_allclose(gan.g_hinge(fake), 0.5 / 3, rtol=1e-6)


def test_relativistic_average_by_hand():
    real, fake = jnp.array([1.0, 3.0]), jnp.array([0.0, -2.0])  # means 2 and -1
    # D: real - E fake = [2, 4], fake - E real = [-2, -4]: both terms are mean softplus(-[2, 4]).
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    np.testing.assert_allclose(gan.d_relativistic_average(real, fake), sp(-2) + sp(-4), rtol=1e-6)
    np.testing.assert_allclose(gan.g_relativistic_average(real, fake), sp(2) + sp(4), rtol=1e-6)


def test_get_losses_unknown_lists_names():
    with pytest.raises(ValueError, match="nope") as err:
        gan.get_losses("nope")
    for name in TORCH:
        assert name in str(err.value)


def _gauss(x, mu, sd):
    return np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def _jsd(p, q, dx):
    m = 0.5 * (p + q)
    kl = lambda a: np.sum(np.where(a > 0, a * np.log(np.where(a > 0, a, 1) / m), 0)) * dx  # noqa: E731
    return 0.5 * kl(p) + 0.5 * kl(q)


def test_minimax_optimum_is_jsd():
    x, dx = np.linspace(-12, 12, 24001, retstep=True)
    p_d, p_g = _gauss(x, 0.0, 1.0), _gauss(x, 1.5, 0.8)
    log_ratio = np.log(p_d) - np.log(p_g)  # logit(D*) with D* = p_d / (p_d + p_g)
    v_star = gan.minimax_value(jnp.asarray(log_ratio, jnp.float32), p_d, p_g, dx)
    np.testing.assert_allclose(v_star, 2 * _jsd(p_d, p_g, dx) - math.log(4), atol=2e-4)
    for shift in (-0.5, 0.3):  # D* maximises V(., G)
        assert gan.minimax_value(jnp.asarray(log_ratio + shift), p_d, p_g, dx) < v_star - 1e-3
    # The loss is −V: d_minimax on the grid (as both samples) equals −V with unit densities.
    n = len(x)
    ones = np.ones(n, np.float32)
    np.testing.assert_allclose(
        gan.d_minimax(jnp.asarray(log_ratio), jnp.asarray(log_ratio)),
        -gan.minimax_value(jnp.asarray(log_ratio), ones, ones, 1.0 / n),
        rtol=1e-5,
    )


def test_minimax_disjoint_supports_give_log2():
    x, dx = np.linspace(-4, 4, 8001, retstep=True)
    p_d = np.where((x > -3) & (x < -1), 0.5, 0.0)
    p_g = np.where((x > 1) & (x < 3), 0.5, 0.0)
    logits = np.where(p_d > 0, np.inf, np.where(p_g > 0, -np.inf, 0.0))
    v = float(gan.minimax_value(jnp.asarray(logits, jnp.float32), p_d, p_g, dx))
    assert math.isfinite(v)
    np.testing.assert_allclose((v + math.log(4)) / 2, math.log(2), atol=1e-6)  # JSD = log 2


def _linear_critic(w):
    return lambda x: x.reshape(x.shape[0], -1) @ w.reshape(-1)


# Jitted once per critic: eager grad-of-penalty compiles every small op separately (slow on CPU).
_gp = jax.jit(gan.gradient_penalty, static_argnums=0, static_argnames="weight")
_r1 = jax.jit(gan.real_gradient_penalty, static_argnums=(0, 2))


def _normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5])
def test_gradient_penalty_linear_critic(scale):
    w = scale * _normal(0, (4, 4, 3)) / 7.0
    real, fake = _normal(1, (5, 4, 4, 3)), _normal(2, (5, 4, 4, 3))
    gp = _gp(_linear_critic(w), real, fake, key(3), weight=10.0)
    # The norm is over all non-batch axes: λ(‖w‖ − 1)² whatever the interpolates.
    np.testing.assert_allclose(gp, 10.0 * (jnp.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_per_example_interpolates():
    real, fake = _normal(1, (6, 3, 2)), _normal(2, (6, 3, 2))
    rng = key(7)
    x_hat = np.asarray(jax.jit(gan.interpolates)(real, fake, rng))
    eps = (x_hat - np.asarray(fake)) / np.asarray(real - fake)
    np.testing.assert_allclose(eps, np.broadcast_to(eps[:, :1, :1], eps.shape), atol=1e-4)
    assert np.all((eps >= 0) & (eps <= 1)) and np.std(eps[:, 0, 0]) > 0.05
    # f(x) = ½‖x‖² per example: ∇ = x̂, so GP = λ·mean((‖x̂_i‖ − 1)²) with the same ε.
    norms = np.linalg.norm(x_hat.reshape(6, -1), axis=1)
    np.testing.assert_allclose(
        _gp(_half_sq_norm, real, fake, rng, weight=3.0), 3.0 * np.mean((norms - 1) ** 2), rtol=1e-5
    )


def _half_sq_norm(x):
    return 0.5 * jnp.sum(jnp.square(x), axis=(1, 2))


def test_gradient_penalty_zero_gradient_is_finite():
    # A critic c·0·Σx has ∇_x = 0: GP = λ, and d GP / dc must stay finite (a plain sqrt gives NaN).
    real = jnp.ones((2, 3))

    def penalty(c):
        return gan.gradient_penalty(lambda x: c * 0.0 * jnp.sum(x, axis=1), real, -real, key(0))

    value, grad = jax.jit(jax.value_and_grad(penalty))(1.0)
    np.testing.assert_allclose(value, 10.0)
    assert np.isfinite(grad)


def test_real_gradient_penalty():
    w = jnp.array([[0.5, -2.0], [1.0, 0.0]])
    real = _normal(1, (3, 2, 2))
    np.testing.assert_allclose(_r1(_linear_critic(w), real, 4.0), 2.0 * jnp.sum(w**2), rtol=1e-6)
    np.testing.assert_allclose(
        _r1(_half_sq_norm, real, 4.0), 2.0 * jnp.mean(jnp.sum(real**2, axis=(1, 2))), rtol=1e-5
    )
