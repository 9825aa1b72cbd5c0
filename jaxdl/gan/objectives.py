"""Loss-function pairs for `jaxdl.train.adversarial`, one per GAN method of the toy comparison.

Each builder returns `(g_loss_fn, d_loss_fn)` with the step's signatures
(`g_loss_fn(g_vars, d_vars, batch, rng)`, `d_loss_fn(d_vars, g_vars, batch, rng)`); the
generator draws z ~ N(0, I) itself, so a batch only carries real data under `key`.

- `standard`: any loss of `jaxdl.gan.get_losses` (GAN-1 minimax and non-saturating, GAN-3
  Wasserstein with weight clipping through the step's `d_constraint`, WGAN-GP with
  `gp_weight`), the unrolled GAN through the step's `unroll_steps` (GAN-4), and PacGAN's
  packing (Lin et al. 2018, arXiv:1712.04086): D sees `pack` samples concatenated.
- `madgan`: MAD-GAN (Ghosh et al. 2018, arXiv:1704.02906; GAN-4): k generators (stacked
  params), D with k + 1 outputs classifying "generator i" or "real".
- `maximum_entropy`: the maximum-entropy generator (MEG; Kumar et al. 2019, arXiv:1901.08508;
  GAN-6): D is an energy E(x) trained with an R1 penalty on real data; G minimizes E(G(z)) minus
  an entropy estimate, the Jensen-Shannon mutual-information estimate between G(z) and z of a
  statistics network T (Hjelm et al. 2019) that is part of the generator's params.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdl.gan.losses import get_losses
from jaxdl.gan.penalties import gradient_penalty, real_gradient_penalty

LossPair = tuple[Callable[..., Any], Callable[..., Any]]


def latents(rng: jax.Array, n: int, latent_dim: int) -> jax.Array:
    return jax.random.normal(rng, (n, latent_dim))


def _pack(x: jax.Array, pack: int) -> jax.Array:
    if x.shape[0] % pack:
        raise ValueError(f"batch {x.shape[0]} is not divisible by pack={pack}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1])


def standard(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    loss: str = "nonsaturating",
    latent_dim: int,
    pack: int = 1,
    gp_weight: float = 0.0,
    key: str = "x",
) -> LossPair:
    """One G, one D with a single logit; `pack` > 1 is PacGAN (D input `pack` × dim)."""
    losses = get_losses(loss)
    if pack < 1:
        raise ValueError(f"pack must be >= 1, got {pack}")
    if gp_weight and pack != 1:
        raise ValueError("the WGAN-GP penalty is defined per sample; use pack=1 with gp_weight")

    def critic(d_vars, x):
        return discriminator.apply(d_vars, _pack(x, pack))[:, 0]

    def d_loss_fn(d_vars, g_vars, batch, rng):
        real = batch[key]
        z_rng, gp_rng = jax.random.split(rng)
        fake = generator.apply(g_vars, latents(z_rng, real.shape[0], latent_dim))
        r, f = critic(d_vars, real), critic(d_vars, fake)
        total = losses.d(r, f)
        if gp_weight:
            total += gradient_penalty(lambda x: critic(d_vars, x), real, fake, gp_rng, gp_weight)
        return total, {"real_out": jnp.mean(r), "fake_out": jnp.mean(f)}

    def g_loss_fn(g_vars, d_vars, batch, rng):
        real = batch[key]
        fake = generator.apply(g_vars, latents(rng, real.shape[0], latent_dim))
        return losses.g(critic(d_vars, real), critic(d_vars, fake)), {}

    return g_loss_fn, d_loss_fn


def stacked_init(generator: nn.Module, num: int, latent_dim: int) -> Callable[[jax.Array], Any]:
    """Init of `num` independent generators with params stacked on a leading axis (MAD-GAN)."""
    if num < 1:
        raise ValueError(f"num_generators must be >= 1, got {num}")

    def init(rng):
        keys = jax.random.split(rng, num)
        return jax.vmap(lambda k: generator.init(k, jnp.zeros((1, latent_dim))))(keys)

    return init


def stacked_sample(generator: nn.Module, g_vars: Any, rng: jax.Array, n: int, latent_dim: int):
    """n samples from k stacked generators (n/k each, generator-major order) -> (n, dim)."""
    k = jax.tree.leaves(g_vars)[0].shape[0]
    if n % k:
        raise ValueError(f"{n} samples are not divisible by num_generators={k}")
    z = latents(rng, n, latent_dim).reshape(k, n // k, latent_dim)
    out = jax.vmap(generator.apply)(g_vars, z)
    return out.reshape(n, -1)


def madgan(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    num_generators: int,
    latent_dim: int,
    key: str = "x",
) -> LossPair:
    """D: cross-entropy over k + 1 classes (generator i -> i, real -> k); each G_i: the
    non-saturating −log D_real(G_i(z)) (Ghosh et al. 2018, eq. 3 with the usual G trick)."""
    k = num_generators

    def fake_labels(n):
        return jnp.repeat(jnp.arange(k), n // k)

    def d_loss_fn(d_vars, g_vars, batch, rng):
        real = batch[key]
        fake = stacked_sample(generator, g_vars, rng, real.shape[0], latent_dim)
        lr, lf = discriminator.apply(d_vars, real), discriminator.apply(d_vars, fake)
        ce = optax.softmax_cross_entropy_with_integer_labels
        total = ce(lr, jnp.full(real.shape[:1], k)).mean() + ce(lf, fake_labels(len(fake))).mean()
        acc = jnp.mean(jnp.argmax(lf, -1) == fake_labels(len(fake)))
        return total, {"generator_id_accuracy": acc}

    def g_loss_fn(g_vars, d_vars, batch, rng):
        fake = stacked_sample(generator, g_vars, rng, batch[key].shape[0], latent_dim)
        log_p = jax.nn.log_softmax(discriminator.apply(d_vars, fake))
        return -jnp.mean(log_p[:, k]), {}

    return g_loss_fn, d_loss_fn


class StatisticsNetwork(nn.Module):
    """T(x, z) -> scalar for the Jensen-Shannon MI estimate (MEG's entropy term)."""

    hidden: tuple[int, ...] = (128, 128)

    @nn.compact
    def __call__(self, x: jax.Array, z: jax.Array) -> jax.Array:
        h = jnp.concatenate([x, z], axis=-1)
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        return nn.Dense(1)(h)[:, 0]


def jsd_mutual_information(t_joint: jax.Array, t_marginal: jax.Array) -> jax.Array:
    """E_joint[−softplus(−T)] − E_marginal[softplus(T)] (Hjelm et al. 2019, eq. 4)."""
    return jnp.mean(-jax.nn.softplus(-t_joint)) - jnp.mean(jax.nn.softplus(t_marginal))


def maximum_entropy(
    generator: nn.Module,
    energy: nn.Module,
    *,
    latent_dim: int,
    r1_weight: float = 0.1,
    stat_hidden: tuple[int, ...] = (128, 128),
    key: str = "x",
) -> tuple[Callable, Callable, Callable]:
    """MEG. Returns `(g_init, g_loss_fn, d_loss_fn)`: the generator player's params hold the
    generator (`gen`) and the statistics network (`stat`), which both maximize the MI term."""
    stat = StatisticsNetwork(stat_hidden)

    def g_init(rng):
        g_key, t_key = jax.random.split(rng)
        x = generator.init(g_key, jnp.zeros((1, latent_dim)))["params"]
        out_dim = jax.eval_shape(generator.apply, {"params": x}, jnp.zeros((1, latent_dim)))
        t = stat.init(t_key, jnp.zeros((1, out_dim.shape[-1])), jnp.zeros((1, latent_dim)))
        return {"params": {"gen": x, "stat": t["params"]}}

    def sample(g_params, rng, n):
        z = latents(rng, n, latent_dim)
        return generator.apply({"params": g_params["gen"]}, z), z

    def d_loss_fn(d_vars, g_vars, batch, rng):
        real = batch[key]
        fake, _ = sample(g_vars["params"], rng, real.shape[0])

        def e(x):
            return energy.apply(d_vars, x)[:, 0]

        e_real, e_fake = e(real), e(jax.lax.stop_gradient(fake))
        total = jnp.mean(e_real) - jnp.mean(e_fake) + real_gradient_penalty(e, real, r1_weight)
        return total, {"energy_real": jnp.mean(e_real), "energy_fake": jnp.mean(e_fake)}

    def g_loss_fn(g_vars, d_vars, batch, rng):
        z_rng, perm_rng = jax.random.split(rng)
        fake, z = sample(g_vars["params"], z_rng, batch[key].shape[0])
        t = {"params": g_vars["params"]["stat"]}
        mi = jsd_mutual_information(
            stat.apply(t, fake, z), stat.apply(t, fake, jax.random.permutation(perm_rng, z))
        )
        return jnp.mean(energy.apply(d_vars, fake)[:, 0]) - mi, {"mi": mi}

    return g_init, g_loss_fn, d_loss_fn
