"""DCGAN, WGAN-GP and SN-GAN on MNIST-5k and stacked MNIST (SPEC GAN-2, GAN-3, GAN-7; GAN-4).

Presets (same DCGAN generator, 28x28, z ~ N(0, I) of 100 dims, 100k generator steps):
  dcgan    Radford et al. 2016: BatchNorm in G and D, non-saturating loss, Adam 2e-4, β1 0.5,
           batch 64 (the PacGAN/VEEGAN stacked-MNIST setting; Radford et al. used 128).
  wgan_gp  Gulrajani et al. 2017, Alg. 1: critic without BatchNorm, λ 10, 5 critic steps each on
           its own 64 real images (batch 320 = 5 slices), Adam 1e-4, β (0, 0.9).
  sngan    Miyato et al. 2018: spectrally normalized D (no BatchNorm), hinge loss, Adam 2e-4,
           β (0.5, 0.999), one D step (their setting C).
  quick    dcgan with half-width networks, PacGAN packing of 4 and 2,000 steps (about 0.34
           CPU-seconds a step, measured on a loaded machine). Not tuned: see the README.
`--config.data.name=mnist` (embedded MNIST-5k, 4,000 train digits) or `stacked_mnist` (three
MNIST-5k digits as RGB channels, 1,000 modes). `--config.model.pack=k` is PacGAN (Lin et al.
2018): D sees k samples concatenated along channels.
    python -m experiments.dcgan_mnist --preset quick --config.data.name=stacked_mnist
Writes samples.png, samples.npz (uint8 NHWC) and results.json: the Fréchet distance on the MNIST
classifier's features (`experiments.mnist_classifier`, trained into WORKDIR/classifier unless
`eval.classifier_workdir` names one), the share of samples it labels with confidence >= 0.9 and
the digits present; on stacked MNIST each channel is classified (PacGAN's protocol) for the modes
covered of 1,000 and the KL of the mode histogram to uniform over 26,000 samples (the Fréchet
distance and confident share are then over the 3 x 26,000 channel digits). `reference` holds the
same scores of the real held-out digits (stacked: 26,000 random test triples), the ceiling the
classifier allows.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments import mnist_classifier
from jaxdl import cli, data, gan, images
from jaxdl.data.stacked_mnist import stacked_mnist
from jaxdl.metrics import generative
from jaxdl.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxdl.train import Task, adversarial, engine_config, fit, load_params, step_options

PRESETS = ("dcgan", "wgan_gp", "sngan", "quick")
DATASETS = ("mnist", "stacked_mnist")
IMAGE_SIZE = 28


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data = ml_collections.ConfigDict()
    c.data.name = "mnist"  # "mnist" | "stacked_mnist"
    c.data.stacked_size = 128_000  # stacked-MNIST training records (VEEGAN/PacGAN: 128,000)
    c.model = ml_collections.ConfigDict()
    c.model.latent_dim = 100
    c.model.g_base = 64  # generator width (channels of its last hidden layer)
    c.model.d_base = 64  # discriminator width (channels of its first layer)
    c.model.batch_norm = True  # BatchNorm in D (GAN-2); False: the WGAN-GP critic
    c.model.spectral_norm = False  # SN-GAN discriminator (GAN-7), no BatchNorm
    c.model.pack = 1  # PacGAN: samples per discriminator input
    c.train = engine_config(total_steps=100_000, batch_size=64, log_every=200, eval_every=10_000)
    c.train.loss = "nonsaturating"  # a `jaxdl.gan.LOSSES` name
    c.train.learning_rate = 2e-4  # Adam, both players
    c.train.b1, c.train.b2 = 0.5, 0.999  # Adam betas
    c.train.d_steps = 1  # D updates per generator update
    c.train.d_batch = "full"  # "slices": each D update on its own slice of the batch
    c.train.gp_weight = 0.0  # WGAN-GP λ (0: off)
    c.eval = ml_collections.ConfigDict()
    c.eval.num_samples = 100  # images in samples.png and the training-time grids
    c.eval.eval_samples = 26_000  # samples scored and saved (PacGAN's stacked-MNIST count)
    c.eval.sample_batch = 500  # samples per generator call
    c.eval.batch_stats = True  # G's BatchNorm uses each sample batch's statistics, as in training
    c.eval.classifier_workdir = ""  # trained mnist_classifier ("": WORKDIR/classifier)
    if preset == "wgan_gp":
        c.model.batch_norm = False
        c.train.update(loss="wasserstein", gp_weight=10.0, d_steps=5, d_batch="slices")
        c.train.update(batch_size=320, learning_rate=1e-4, b1=0.0, b2=0.9)
    elif preset == "sngan":
        c.model.spectral_norm = True
        c.train.loss = "hinge"
    elif preset == "quick":
        c.model.update(g_base=32, d_base=32, pack=4)
        c.train.update(total_steps=2000, log_every=100, eval_every=500, checkpoint_every=500)
    elif preset not in (None, "dcgan"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def check_config(config) -> None:
    """Usage errors (`cli.ConfigError`) for values the step would reject late or silently."""
    m, t = config.model, config.train
    if config.data.name not in DATASETS:
        raise cli.ConfigError(f"config.data.name={config.data.name!r}; choose from {DATASETS}")
    if t.loss not in gan.LOSSES:
        raise cli.ConfigError(f"config.train.loss={t.loss!r}; choose from {tuple(gan.LOSSES)}")
    if m.pack < 1 or t.batch_size % (m.pack * (t.d_steps if t.d_batch == "slices" else 1)):
        raise cli.ConfigError(
            f"config.train.batch_size={t.batch_size} must split into d_steps slices "
            f"(d_batch={t.d_batch!r}) of whole packs of model.pack={m.pack} (pack >= 1)"
        )
    if t.gp_weight and (m.pack != 1 or (m.batch_norm and not m.spectral_norm)):
        raise cli.ConfigError(
            "the gradient penalty is per sample: it needs model.pack=1 and a critic without "
            "BatchNorm (model.batch_norm=False)"
        )


def channels(config) -> int:
    return 3 if config.data.name == "stacked_mnist" else 1


def networks(config) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    m = config.model
    gen = DCGANGenerator(m.latent_dim, m.g_base, channels(config), IMAGE_SIZE)
    disc = DCGANDiscriminator(m.d_base, m.spectral_norm, m.batch_norm)
    return gen, disc


def pack_images(x: jax.Array, pack: int) -> jax.Array:
    """(N, H, W, C) -> (N / pack, H, W, pack * C): PacGAN's channel concatenation."""
    n, h, w, c = x.shape
    return x.reshape(n // pack, pack, h, w, c).transpose(0, 2, 3, 1, 4).reshape(-1, h, w, pack * c)


def loss_fns(config, gen, disc):
    """`(g_loss_fn, d_loss_fn)` for `adversarial(has_mutable=True)`: G (and D, with BatchNorm)
    run on batch statistics and return their new `batch_stats`; D scores real and fake batches
    in separate calls (Radford et al. 2016)."""
    m, t = config.model, config.train
    losses = gan.get_losses(t.loss)
    bn = ["batch_stats"]

    def generate(g_vars, rng, n):
        z = jax.random.normal(rng, (n, m.latent_dim))
        return gen.apply(g_vars, z, train=True, mutable=bn)

    def critic(d_vars, x):
        return disc.apply(d_vars, pack_images(x, m.pack), train=True, mutable=bn)

    def d_loss_fn(d_vars, g_vars, batch, rng):
        real = batch["image"]
        z_rng, gp_rng = jax.random.split(rng)
        fake, g_upd = generate(g_vars, z_rng, real.shape[0])
        r, d_upd = critic(d_vars, real)
        f, d_upd = critic({**d_vars, **d_upd}, fake)
        loss = losses.d(r, f)
        if t.gp_weight:
            score = lambda x: disc.apply(d_vars, x, train=False)  # noqa: E731
            loss += gan.gradient_penalty(score, real, fake, gp_rng, t.gp_weight)
        aux = {"real_out": jnp.mean(r), "fake_out": jnp.mean(f)}
        return loss, (aux, {"g": g_upd, "d": d_upd})

    def g_loss_fn(g_vars, d_vars, batch, rng):
        real = batch["image"]
        fake, g_upd = generate(g_vars, rng, real.shape[0])
        r, d_upd = critic(d_vars, real) if t.loss == "relativistic_average" else (None, {})
        f, d_upd = critic({**d_vars, **d_upd}, fake)
        return losses.g(r, f), ({}, {"g": g_upd, "d": d_upd})

    return g_loss_fn, d_loss_fn


def train_source(config):
    if config.data.name == "stacked_mnist":
        return stacked_mnist("train", config.data.stacked_size, seed=config.seed)
    return data.mnist5k("train")


def make_sampler(config, gen):
    """`(g_vars, key, n) -> float images (n, 28, 28, C) in [-1, 1]` in `eval.sample_batch`es."""
    ev = config.eval

    def sample(g_vars, key, n):
        z = jax.random.normal(key, (n, config.model.latent_dim))
        if ev.batch_stats:
            return gen.apply(g_vars, z, train=True, mutable=["batch_stats"])[0]
        return gen.apply(g_vars, z, train=False)

    jitted = jax.jit(sample, static_argnums=2)

    def run(g_vars, key, n):
        parts = [
            np.asarray(jitted(g_vars, jax.random.fold_in(key, i), min(ev.sample_batch, n - i)))
            for i in range(0, n, ev.sample_batch)
        ]
        return np.concatenate(parts)

    return run


def generator_variables(state) -> dict:
    params = state.g.params if state.g_ema is None else state.g_ema
    return {"params": params, **state.g.mutable}


def build(config: ml_collections.ConfigDict) -> Task:
    check_config(config)
    m, t = config.model, config.train
    gen, disc = networks(config)
    g_loss, d_loss = loss_fns(config, gen, disc)
    tx = optax.adam(t.learning_rate, b1=t.b1, b2=t.b2)
    d_input = jnp.zeros((1, IMAGE_SIZE, IMAGE_SIZE, channels(config) * m.pack))
    init_state, step = adversarial(
        g_loss,
        d_loss,
        tx,
        tx,
        g_init=lambda rng: gen.init(rng, jnp.zeros((1, m.latent_dim))),
        d_init=lambda rng: disc.init(rng, d_input),
        d_steps=t.d_steps,
        d_batch=t.d_batch,
        has_mutable=True,
        **step_options(t),
    )
    train = data.make_pipeline(
        train_source(config),
        [data.ScaleToSymmetric()],
        global_batch_size=t.batch_size,
        seed=config.seed,
    )
    sampler = make_sampler(config, gen)

    def sample_grid(state):  # the engine writes it to images/samples/ and TensorBoard
        x = sampler(
            generator_variables(state), jax.random.PRNGKey(config.seed), config.eval.num_samples
        )
        return [("samples", images.to_uint8(x))]

    return Task(init_state, step, train, evaluators=[sample_grid])


def make_features_fn(config, workdir):
    """Jitted `images (n, 28, 28, 1) in [-1, 1] -> (logits, features)` of the MNIST classifier
    (trained into `eval.classifier_workdir` or WORKDIR/classifier if it has none), padded to its
    32x32 input with the background value -1."""
    cwd = config.eval.classifier_workdir or os.path.join(workdir, "classifier")
    if not os.path.isdir(os.path.join(cwd, "checkpoints")):
        mnist_classifier.train_classifier(mnist_classifier.get_config("quick"), cwd)
    with open(os.path.join(cwd, "config.json")) as f:
        cconf = ml_collections.ConfigDict(json.load(f))
    clf, params, size = mnist_classifier.make_model(cconf), load_params(cwd), cconf.data.image_size
    lo, hi = (size - IMAGE_SIZE) // 2, (size - IMAGE_SIZE + 1) // 2

    def features(x):
        x = jnp.pad(x, ((0, 0), (lo, hi), (lo, hi), (0, 0)), constant_values=-1.0)
        return clf.apply({"params": params}, x, return_features=True)

    return jax.jit(features)


def channel_digits(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N * C, H, W, 1): each channel as one digit, sample-major (labels of the
    result reshaped to (N, C) are in channel order, as `stacked_mnist_modes` expects)."""
    n, h, w, c = x.shape
    return x.transpose(0, 3, 1, 2).reshape(n * c, h, w, 1)


def score(config, workdir, x: np.ndarray) -> dict:
    """The classifier report of samples x (N, 28, 28, C) in [-1, 1]; stacked MNIST: every channel
    is one digit, plus the modes of the per-channel labels. `reference`: the same scores of the
    held-out MNIST-5k test digits (Fréchet distance to the train digits' features; stacked: the
    test digits stacked N times)."""
    features_fn = make_features_fn(config, workdir)
    real = {
        split: generative.classifier_features(
            features_fn, data.mnist5k(split).images.astype(np.float32) / 127.5 - 1.0
        )
        for split in ("train", "test")
    }
    test_logits, test_features = real["test"]
    n, c = len(x), x.shape[-1]
    logits, features = generative.classifier_features(features_fn, channel_digits(x))
    report = generative.classifier_report(logits, features, test_features)
    reference = generative.classifier_report(test_logits, test_features, real["train"][1])
    if config.data.name == "stacked_mnist":
        report.update(gan.stacked_mnist_modes(logits.argmax(-1).reshape(n, c)), num_samples=n)
        triples = stacked_mnist("test", n, seed=config.seed).triples
        reference.update(gan.stacked_mnist_modes(test_logits.argmax(-1)[triples]), num_samples=n)
    return {**report, "reference": reference}


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="dcgan_mnist", presets=PRESETS)
    cli.init_distributed(args)
    check_config(config)
    t0 = time.time()
    state = fit(build(config), config, args.workdir)
    train_time = time.time() - t0
    gen, _ = networks(config)
    x = make_sampler(config, gen)(
        generator_variables(state), jax.random.PRNGKey(config.seed + 1), config.eval.eval_samples
    )
    u8 = images.to_uint8(x)  # scored as saved
    results = {
        "data": config.data.name,
        "steps": int(state.step),
        "train_wall_time_s": round(train_time, 1),
        **score(config, args.workdir, u8.astype(np.float32) / 127.5 - 1.0),
    }
    if jax.process_index() == 0:
        images.save_grid(u8[: config.eval.num_samples], os.path.join(args.workdir, "samples.png"))
        np.savez_compressed(os.path.join(args.workdir, "samples.npz"), images=u8)
        cli.write_results(args.workdir, results)
    return results


if __name__ == "__main__":
    cli.run(main)
