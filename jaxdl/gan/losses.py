"""GAN losses as pure functions of discriminator (critic) outputs; each returns a scalar mean.

Inputs are raw outputs ("logits" for the sigmoid-based losses), any shape, averaged over all
elements (a PatchGAN's (N, H, W, 1) map included). `LOSSES` / `get_losses` pick a pair by name.
SPEC: GAN-1, GAN-3, GAN-5, RES-3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


def _log_d(logits: jax.Array) -> jax.Array:  # log D = log σ(l)
    return jax.nn.log_sigmoid(logits)


def _log_one_minus_d(logits: jax.Array) -> jax.Array:  # log(1 − D) = log σ(−l)
    return jax.nn.log_sigmoid(-logits)


def d_minimax(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """−E[log D(x)] − E[log(1 − D(G(z)))], D = σ(logits): D's side of the minimax game.

    Goodfellow et al. 2014 (arXiv:1406.2661), eq. 1. SPEC: GAN-1.
    """
    return -jnp.mean(_log_d(real_logits)) - jnp.mean(_log_one_minus_d(fake_logits))


def g_minimax(fake_logits: jax.Array) -> jax.Array:
    """E[log(1 − D(G(z)))]: the saturating generator loss of eq. 1. SPEC: GAN-1."""
    return jnp.mean(_log_one_minus_d(fake_logits))


def g_nonsaturating(fake_logits: jax.Array) -> jax.Array:
    """−E[log D(G(z))]: the non-saturating generator loss (Goodfellow et al. 2014, sec. 3).

    The default generator loss. SPEC: GAN-1.
    """
    return -jnp.mean(_log_d(fake_logits))


def minimax_value(
    d_logits: jax.Array, p_data: jax.Array, p_gen: jax.Array, dx: float | jax.Array
) -> jax.Array:
    """V(D, G) = ∫ p_d log D + p_g log(1 − D) dx as a Riemann sum over grid points.

    Terms where a density is 0 count 0 (so ±inf logits are fine). With D* = p_d/(p_d + p_g)
    this is 2·JSD(p_d‖p_g) − log 4 (Goodfellow et al. 2014, Thm. 1). SPEC: GAN-1.
    """
    term_d = jnp.where(p_data > 0, p_data * _log_d(d_logits), 0.0)
    term_g = jnp.where(p_gen > 0, p_gen * _log_one_minus_d(d_logits), 0.0)
    return jnp.sum((term_d + term_g) * dx)


def d_wasserstein(real: jax.Array, fake: jax.Array) -> jax.Array:
    """E[f(G(z))] − E[f(x)]: the WGAN critic loss (no sigmoid, no log).

    Arjovsky et al. 2017 (arXiv:1701.07875), Alg. 1; −loss estimates W₁ when f is 1-Lipschitz.
    Enforce that with weight clipping (`jaxdl.optim.clip_weights(params, c)` after each update,
    or `d_constraint=` of `jaxdl.train.adversarial`) or `jaxdl.gan.gradient_penalty`. SPEC: GAN-3.
    """
    return jnp.mean(fake) - jnp.mean(real)


def g_wasserstein(fake: jax.Array) -> jax.Array:
    """−E[f(G(z))]: the WGAN generator loss. SPEC: GAN-3."""
    return -jnp.mean(fake)


def d_least_squares(real: jax.Array, fake: jax.Array, scale: float = 0.5) -> jax.Array:
    """scale·(E[(D(x) − 1)²] + E[D(G(z))²]): LSGAN's discriminator loss (targets a=0, b=1).

    Mao et al. 2017 (arXiv:1611.04076) with the paper's ½ (`scale=0.5`). CycleGAN's D loss,
    (MSE(D(y), 1) + MSE(D(G(x)), 0)) / 2, is this default. SPEC: GAN-5.
    """
    return scale * (jnp.mean(jnp.square(real - 1.0)) + jnp.mean(jnp.square(fake)))


def g_least_squares(fake: jax.Array, scale: float = 0.5) -> jax.Array:
    """scale·E[(D(G(z)) − 1)²]: LSGAN's generator loss (target c=1).

    Mao et al. 2017 with the paper's ½ (`scale=0.5`); CycleGAN's G loss is MSE(D(G(x)), 1),
    i.e. `scale=1.0`. SPEC: GAN-5.
    """
    return scale * jnp.mean(jnp.square(fake - 1.0))


def d_hinge(real: jax.Array, fake: jax.Array) -> jax.Array:
    """E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]: the hinge discriminator loss.

    Lim & Ye 2017 (arXiv:1705.02894); Miyato et al. 2018 (arXiv:1802.05957), the SN-GAN loss
    (spectral normalization: GAN-7).
    """
    return jnp.mean(jax.nn.relu(1.0 - real)) + jnp.mean(jax.nn.relu(1.0 + fake))


def g_hinge(fake: jax.Array) -> jax.Array:
    """−E[D(G(z))]: the generator loss paired with the hinge loss (Miyato et al. 2018)."""
    return -jnp.mean(fake)


def d_relativistic_average(real: jax.Array, fake: jax.Array) -> jax.Array:
    """−E[log D_Ra(x_r, x_f)] − E[log(1 − D_Ra(x_f, x_r))], D_Ra(a, b) = σ(C(a) − E[C(b)]).

    Jolicoeur-Martineau 2018 (arXiv:1807.00734); exactly ESRGAN's L_D^Ra (Wang et al. 2018,
    arXiv:1809.00219, sec. 3.2), means over the batch. BasicSR's ESRGAN code averages the two
    terms (0.5× this). SPEC: RES-3.
    """
    return -jnp.mean(_log_d(real - jnp.mean(fake))) - jnp.mean(
        _log_one_minus_d(fake - jnp.mean(real))
    )


def g_relativistic_average(real: jax.Array, fake: jax.Array) -> jax.Array:
    """−E[log(1 − D_Ra(x_r, x_f))] − E[log D_Ra(x_f, x_r)]: ESRGAN's L_G^Ra. SPEC: RES-3.

    The symmetric form of `d_relativistic_average`; gradients flow through both terms. Takes the
    real logits too (with or without stop-gradient: the generator does not change them).
    """
    return -jnp.mean(_log_one_minus_d(real - jnp.mean(fake))) - jnp.mean(
        _log_d(fake - jnp.mean(real))
    )


class GanLoss(NamedTuple):
    """A loss pair called uniformly: `d(real, fake)` and `g(real, fake)`."""

    d: Callable[[jax.Array, jax.Array], jax.Array]
    g: Callable[[jax.Array, jax.Array], jax.Array]


def _fake_only(g_loss: Callable[[jax.Array], jax.Array]) -> Callable[..., jax.Array]:
    def g(real: jax.Array, fake: jax.Array) -> jax.Array:
        del real
        return g_loss(fake)

    g.__name__ = g.__qualname__ = g_loss.__name__
    g.__doc__ = f"{g_loss.__name__}(fake); `real` is ignored."
    return g


LOSSES: dict[str, GanLoss] = {
    "minimax": GanLoss(d_minimax, _fake_only(g_minimax)),
    "nonsaturating": GanLoss(d_minimax, _fake_only(g_nonsaturating)),
    "wasserstein": GanLoss(d_wasserstein, _fake_only(g_wasserstein)),
    "least_squares": GanLoss(d_least_squares, _fake_only(g_least_squares)),
    "hinge": GanLoss(d_hinge, _fake_only(g_hinge)),
    "relativistic_average": GanLoss(d_relativistic_average, g_relativistic_average),
}


def get_losses(name: str) -> GanLoss:
    """`(d_loss, g_loss)` for `name`, both called as `loss(real_out, fake_out)`."""
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; valid names: {', '.join(LOSSES)}")
    return LOSSES[name]
