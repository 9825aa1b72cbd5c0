"""GAN objective builders: PacGAN packing, MAD-GAN's k + 1-way discriminator, MEG's MI term."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxdl.gan import objectives
from jaxdl.models.gan_mlp import MLPDiscriminator, MLPGenerator

LATENT = 4


def _nets(num_outputs=1, d_in=2):
    gen, disc = MLPGenerator(hidden=(8,)), MLPDiscriminator(hidden=(8,), num_outputs=num_outputs)
    g_vars = gen.init(jax.random.PRNGKey(0), jnp.zeros((1, LATENT)))
    d_vars = disc.init(jax.random.PRNGKey(1), jnp.zeros((1, d_in)))
    return gen, disc, g_vars, d_vars


def test_packed_discriminator_sees_consecutive_samples_concatenated():
    gen, disc, g_vars, d_vars = _nets(d_in=6)
    g_loss, d_loss = objectives.standard(gen, disc, loss="minimax", latent_dim=LATENT, pack=3)
    real = jax.random.normal(jax.random.PRNGKey(2), (12, 2))
    rng = jax.random.PRNGKey(3)
    loss, aux = d_loss(d_vars, g_vars, {"x": real}, rng)
    z_rng, _ = jax.random.split(rng)
    fake = gen.apply(g_vars, objectives.latents(z_rng, 12, LATENT))
    r = disc.apply(d_vars, np.asarray(real).reshape(4, 6))[:, 0]
    f = disc.apply(d_vars, np.asarray(fake).reshape(4, 6))[:, 0]
    ref = torch.nn.functional.binary_cross_entropy_with_logits
    expected = ref(torch.tensor(np.asarray(r)), torch.ones(4)) + ref(
        torch.tensor(np.asarray(f)), torch.zeros(4)
    )
    np.testing.assert_allclose(loss, expected.numpy(), rtol=1e-5)
    chex.assert_trees_all_close(aux["real_out"], jnp.mean(r), rtol=1e-6)
    with pytest.raises(ValueError, match="not divisible by pack=3"):
        d_loss(d_vars, g_vars, {"x": real[:10]}, rng)
    with pytest.raises(ValueError, match="per sample"):
        objectives.standard(gen, disc, latent_dim=LATENT, pack=2, gp_weight=10.0)


def test_madgan_labels_and_stacked_generators():
    k = 3
    gen, disc, _, d_vars = _nets(num_outputs=k + 1)
    g_vars = objectives.stacked_init(gen, k, LATENT)(jax.random.PRNGKey(5))
    assert jax.tree.leaves(g_vars)[0].shape[0] == k
    rng = jax.random.PRNGKey(6)
    fake = objectives.stacked_sample(gen, g_vars, rng, 9, LATENT)
    chex.assert_shape(fake, (9, 2))
    # Generator-major order: rows 3..5 come from generator 1 with its own params and z.
    z = objectives.latents(rng, 9, LATENT).reshape(k, 3, LATENT)
    g1 = jax.tree.map(lambda x: x[1], g_vars)
    chex.assert_trees_all_close(fake[3:6], gen.apply(g1, z[1]), atol=1e-6)
    g_loss, d_loss = objectives.madgan(gen, disc, num_generators=k, latent_dim=LATENT)
    real = jax.random.normal(jax.random.PRNGKey(7), (9, 2))
    loss, _ = d_loss(d_vars, g_vars, {"x": real}, rng)
    ce = torch.nn.functional.cross_entropy
    lr = torch.tensor(np.asarray(disc.apply(d_vars, real)))
    lf = torch.tensor(np.asarray(disc.apply(d_vars, fake)))
    expected = ce(lr, torch.full((9,), k)) + ce(lf, torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2]))
    np.testing.assert_allclose(loss, expected.numpy(), rtol=1e-5)
    g, _ = g_loss(g_vars, d_vars, {"x": real}, rng)
    np.testing.assert_allclose(g, -torch.log_softmax(lf, -1)[:, k].mean().numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="num_generators must be >= 1"):
        objectives.stacked_init(gen, 0, LATENT)


def test_jsd_mutual_information_matches_torch_and_meg_players():
    t_joint, t_marg = np.random.RandomState(0).randn(2, 50).astype(np.float32)
    sp = torch.nn.functional.softplus
    expected = (-sp(-torch.tensor(t_joint))).mean() - sp(torch.tensor(t_marg)).mean()
    np.testing.assert_allclose(
        objectives.jsd_mutual_information(t_joint, t_marg), expected.numpy(), rtol=1e-6
    )
    gen, disc, _, d_vars = _nets()
    g_init, g_loss, d_loss = objectives.maximum_entropy(
        gen, disc, latent_dim=LATENT, stat_hidden=(8,)
    )
    g_vars = g_init(jax.random.PRNGKey(0))
    assert set(g_vars["params"]) == {"gen", "stat"}
    batch = {"x": jax.random.normal(jax.random.PRNGKey(1), (16, 2))}
    # The statistics network gets gradient only from the MI term, the generator from both.
    grads = jax.grad(lambda p: g_loss({"params": p}, d_vars, batch, jax.random.PRNGKey(2))[0])(
        g_vars["params"]
    )
    assert all(np.abs(np.asarray(x)).sum() > 0 for x in jax.tree.leaves(grads))
    loss, aux = d_loss(d_vars, g_vars, batch, jax.random.PRNGKey(3))
    assert np.isfinite(loss) and set(aux) == {"energy_real", "energy_fake"}


def test_wgan_gp_objective_adds_the_penalty():
    gen, disc, g_vars, d_vars = _nets()
    batch, rng = {"x": jax.random.normal(jax.random.PRNGKey(1), (8, 2))}, jax.random.PRNGKey(2)
    _, plain = objectives.standard(gen, disc, loss="wasserstein", latent_dim=LATENT)
    _, gp = objectives.standard(gen, disc, loss="wasserstein", latent_dim=LATENT, gp_weight=10.0)
    diff = gp(d_vars, g_vars, batch, rng)[0] - plain(d_vars, g_vars, batch, rng)[0]
    assert float(diff) > 0


def test_maxout_discriminator_matches_torch_linear_maxout():
    """PacGAN's D: hidden LinearMaxout units (max over `pieces` affine maps per unit)."""
    width, pieces = 3, 5
    disc = MLPDiscriminator(hidden=(width, width), maxout_pieces=pieces)
    x = jax.random.normal(jax.random.PRNGKey(0), (7, 4))
    d_vars = disc.init(jax.random.PRNGKey(1), x)
    p = jax.tree.map(lambda a: torch.tensor(np.asarray(a)), d_vars["params"])
    chex.assert_shape(d_vars["params"]["l0"]["kernel"], (4, width * pieces))
    h = torch.tensor(np.asarray(x))
    for name in ("l0", "l1"):  # unit u's pieces are the consecutive outputs u·pieces + j
        h = h @ p[name]["kernel"] + p[name]["bias"]
        h = h.reshape(-1, width, pieces).amax(-1)
    expected = h @ p["l2"]["kernel"] + p["l2"]["bias"]
    np.testing.assert_allclose(disc.apply(d_vars, x), expected.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="maxout_pieces must be >= 1"):
        MLPDiscriminator(maxout_pieces=0).init(jax.random.PRNGKey(0), x)
