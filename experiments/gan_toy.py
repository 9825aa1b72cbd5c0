"""GAN methods on 2-D Gaussian mixtures, scored by mode coverage (SPEC GAN-1, GAN-3, GAN-4, GAN-6).

Every preset is a method trained through `jaxdl.train.adversarial` on the same data and scored
with VEEGAN's metrics (Srivastava et al. 2017): modes covered, share of high-quality samples
(within 3σ of a mode) and reverse KL, on 2,500 samples:
    python -m experiments.gan_toy --preset pacgan --config.data.name=ring --config.seeds=5
Presets: gan (minimax, Goodfellow et al. 2014), nsgan (non-saturating), wgan (Arjovsky et al.
2017: RMSprop 5e-5, clipping 0.01, 5 critic updates on 64 samples each), wgan_gp (Gulrajani et
al. 2017's toy script: λ 0.1, 5 critic updates on 256 samples each), unrolled (Metz et al. 2017:
5 look-ahead steps), madgan (Ghosh et al. 2018: 8 generators), meg (Kumar et al. 2019), pacgan
(Lin et al. 2018: D sees 4 packed samples; batch 1,024, learning rate decayed linearly to 0
over 20,000 steps, sampled from an EMA of G; about 3 min per seed on 2 idle CPU cores).
`pacgan_grid` is pacgan on the grid for 60,000
steps; `quick` is pacgan with 5,000 steps. Networks: 2 hidden layers of 128 ReLU units in G and D,
latent N(0, I) of 64 dims; `--config.model.d_maxout=5` etc. give PacGAN's own networks. Data:
`ring` (8 modes, radius 1, σ 0.01) or `grid` (25 modes at {−4,−2,0,2,4}², σ 0.05); G and D see
x / `data.scale` (0, the default: the largest |centre coordinate|, 1 for the ring, 4 for the
grid) and samples are scaled back before scoring. Writes results.json (with
each seed's training seconds), seed_*/samples.npz and seed_*/samples.png. Bad values
(`d_steps`, `num_generators`, `pack` < 1, `unroll_steps` < 0, a batch that does not split into
critic slices, packs or generators) exit with code 2 and one line naming the key.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, gan, optim
from jaxdl.gan import objectives
from jaxdl.models.gan_mlp import MLPDiscriminator, MLPGenerator
from jaxdl.train import Task, adversarial, engine_config, fit, step_options

METHODS = ("gan", "nsgan", "wgan", "wgan_gp", "unrolled", "madgan", "meg", "pacgan")
PRESETS = (*METHODS, "pacgan_grid", "quick")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.seeds = 1  # train seeds seed, seed+1, ... in workdir/seed_<s> and report mean ± std
    c.method = "pacgan"  # one of METHODS; the presets set it with its hyper-parameters
    c.data = ml_collections.ConfigDict(dict(name="ring"))  # "ring" | "grid"
    c.data.scale = 0.0  # G and D see x / scale, samples are scaled back (0: max |centre|, 1 or 4)
    c.model = ml_collections.ConfigDict()
    c.model.latent_dim = 64
    c.model.g_hidden = (128, 128)  # Metz et al. 2017's toy G and D
    c.model.d_hidden = (128, 128)
    c.model.d_maxout = 1  # pieces per LinearMaxout unit of D (1: ReLU units)
    c.model.pack = 1  # PacGAN: samples per discriminator input
    c.model.num_generators = 1  # MAD-GAN: k generators, D with k + 1 outputs
    c.train = engine_config(
        total_steps=6000, batch_size=256, log_every=500, eval_every=0, checkpoint_every=2000
    )
    c.train.optimizer = "adam"  # "adam" | "rmsprop"
    c.train.learning_rate = 1e-3
    c.train.b1, c.train.b2 = 0.5, 0.999  # Adam betas
    c.train.loss = "nonsaturating"  # a `jaxdl.gan.LOSSES` name
    c.train.lr_schedule = "constant"  # "constant" | "linear" (decay to 0 at total_steps)
    c.train.d_steps = 1  # critic updates per generator update
    c.train.d_batch = "full"  # "full" | "slices": each critic update sees 1/d_steps of the batch
    c.train.unroll_steps = 0  # look-ahead D steps inside G's loss
    c.train.clip_value = 0.0  # WGAN weight clipping c (0: off)
    c.train.gp_weight = 0.0  # WGAN-GP λ (0: off)
    c.train.r1_weight = 0.1  # MEG's gradient penalty on real data
    c.eval = ml_collections.ConfigDict(dict(num_samples=2500))
    if preset in (None, "pacgan", "pacgan_grid", "quick"):
        # PacGAN4 (Lin et al. 2018): D sees 4 samples concatenated. Sampled from an EMA of G's
        # params (decay 0.999; Yazıcı et al. 2019, arXiv:1806.04498), which sharpens the modes.
        # Batch 1,024 and a linear decay of the learning rate to 0 raise the share of samples
        # on the modes (ring, 1 seed: 20,000 steps at batch 256 90.9 %, 10,000 at 1,024 88.4 %).
        c.model.pack, c.train.total_steps, c.train.ema_decay = 4, 20000, 0.999
        c.train.batch_size, c.train.lr_schedule = 1024, "linear"
        if preset == "quick":
            c.train.total_steps = 5000
        if preset == "pacgan_grid":  # the grid's 25 modes need longer (20,000 steps: 69.7 %)
            c.data.name, c.train.total_steps = "grid", 60000
    elif preset == "gan":
        c.method, c.train.loss = "gan", "minimax"
    elif preset == "nsgan":
        c.method = "nsgan"
    elif preset == "wgan":  # Arjovsky et al. 2017, Alg. 1: m = 64 samples per critic update
        c.method, c.train.loss, c.train.optimizer = "wgan", "wasserstein", "rmsprop"
        c.train.learning_rate, c.train.d_steps, c.train.clip_value = 5e-5, 5, 0.01
        c.train.d_batch, c.train.batch_size = "slices", 5 * 64
    elif preset == "wgan_gp":
        # Gulrajani et al. 2017's toy script: Adam 1e-4 (0.5, 0.9), 5 critic updates on fresh
        # batches of 256, λ = 0.1 for the 2-D tasks (the paper's λ = 10 is for images).
        c.method, c.train.loss, c.train.gp_weight = "wgan_gp", "wasserstein", 0.1
        c.train.learning_rate, c.train.b1, c.train.b2, c.train.d_steps = 1e-4, 0.5, 0.9, 5
        c.train.d_batch, c.train.batch_size = "slices", 5 * 256
    elif preset == "unrolled":
        c.method, c.train.unroll_steps = "unrolled", 5
    elif preset == "madgan":
        c.method, c.model.num_generators = "madgan", 8
    elif preset == "meg":
        c.method, c.train.loss = "meg", "wasserstein"
    else:
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def check_config(config: ml_collections.ConfigDict) -> None:
    """Raises `cli.ConfigError` naming the config key for values the run cannot use."""

    def need(ok, key, what):
        if not ok:
            value = config
            for part in key.split("."):
                value = value[part]
            raise cli.ConfigError(f"config.{key}={value!r}: {what}")

    m, t = config.model, config.train
    need(config.method in METHODS, "method", f"choose from {METHODS}")
    need(config.data.name in gan.MIXTURES, "data.name", f"choose from {gan.MIXTURES}")
    need(t.optimizer in ("adam", "rmsprop"), "train.optimizer", "choose from ('adam', 'rmsprop')")
    need(t.lr_schedule in ("constant", "linear"), "train.lr_schedule", "'constant' or 'linear'")
    need(t.d_batch in ("full", "slices"), "train.d_batch", "'full' or 'slices'")
    need(config.data.scale >= 0, "data.scale", "must be >= 0 (0: the largest |centre coordinate|)")
    for key in ("seeds", "model.num_generators", "model.pack", "model.d_maxout", "train.d_steps"):
        value = config
        for part in key.split("."):
            value = value[part]
        need(isinstance(value, int) and value >= 1, key, "must be an integer >= 1")
    need(t.unroll_steps >= 0, "train.unroll_steps", "must be an integer >= 0")
    slice_size = t.batch_size // t.d_steps if t.d_batch == "slices" else t.batch_size
    need(
        t.d_batch == "full" or t.batch_size % t.d_steps == 0,
        "train.batch_size",
        f"must be divisible by train.d_steps={t.d_steps} (d_batch='slices')",
    )
    need(
        slice_size % m.pack == 0,
        "train.batch_size",
        f"each critic batch ({slice_size}) must be divisible by model.pack={m.pack}",
    )
    if config.method == "madgan":
        need(
            slice_size % m.num_generators == 0,
            "train.batch_size",
            f"each critic batch ({slice_size}) must be divisible by "
            f"model.num_generators={m.num_generators}",
        )
    need(not (t.gp_weight and m.pack != 1), "train.gp_weight", "needs model.pack=1 (per sample)")


def _tx(config, updates_per_step):
    t = config.train
    lr = t.learning_rate
    if t.lr_schedule == "linear":
        lr = optax.linear_schedule(t.learning_rate, 0.0, t.total_steps * updates_per_step)
    if t.optimizer == "adam":  # eps_root > 0 keeps Adam differentiable for the unrolled G loss
        return optax.adam(lr, b1=t.b1, b2=t.b2, eps_root=1e-12 if t.unroll_steps else 0.0)
    return optim.rmsprop(lr)


def _networks(config):
    m = config.model
    outputs = m.num_generators + 1 if config.method == "madgan" else 1
    disc = MLPDiscriminator(hidden=m.d_hidden, num_outputs=outputs, maxout_pieces=m.d_maxout)
    return MLPGenerator(hidden=m.g_hidden), disc


def data_scale(config: ml_collections.ConfigDict) -> float:
    """`config.data.scale`, or when 0 the largest |centre coordinate| (ring 1, grid 4)."""
    centers, _ = gan.mixture(config.data.name)
    return float(config.data.scale or np.abs(centers).max())


def build(config: ml_collections.ConfigDict) -> tuple[Task, callable]:
    """The task and a `sample(g_params, rng, n) -> (n, 2)` function (in data units)."""
    check_config(config)
    m, t = config.model, config.train
    gen, disc = _networks(config)
    latent = m.latent_dim
    g_init = lambda rng: gen.init(rng, jnp.zeros((1, latent)))  # noqa: E731
    d_in = 2 * m.pack

    def sample(g_params, rng, n):
        return gen.apply({"params": g_params}, objectives.latents(rng, n, latent))

    if config.method == "madgan":
        g_init = objectives.stacked_init(gen, m.num_generators, latent)
        g_loss, d_loss = objectives.madgan(
            gen, disc, num_generators=m.num_generators, latent_dim=latent
        )

        def sample(g_params, rng, n):  # noqa: F811
            k = m.num_generators
            out = objectives.stacked_sample(gen, {"params": g_params}, rng, -(-n // k) * k, latent)
            return out[:n]
    elif config.method == "meg":
        g_init, g_loss, d_loss = objectives.maximum_entropy(
            gen, disc, latent_dim=latent, r1_weight=t.r1_weight
        )

        def sample(g_params, rng, n):  # noqa: F811
            return gen.apply({"params": g_params["gen"]}, objectives.latents(rng, n, latent))
    else:
        g_loss, d_loss = objectives.standard(
            gen, disc, loss=t.loss, latent_dim=latent, pack=m.pack, gp_weight=t.gp_weight
        )
    clip = (lambda p: optim.clip_weights(p, t.clip_value)) if t.clip_value else None
    init_state, step = adversarial(
        g_loss,
        d_loss,
        _tx(config, 1),
        _tx(config, t.d_steps),
        g_init=g_init,
        d_init=lambda rng: disc.init(rng, jnp.zeros((1, d_in))),
        d_steps=t.d_steps,
        d_batch=t.d_batch,
        unroll_steps=t.unroll_steps,
        d_constraint=clip,
        **step_options(t),
    )
    scale = data_scale(config)
    data = gan.MixtureStream(config.data.name, t.batch_size, seed=config.seed, scale=scale)
    return Task(init_state, step, data), lambda *args: scale * sample(*args)


def run_seed(config: ml_collections.ConfigDict, workdir: str) -> dict:
    task, sample = build(config)
    start = time.perf_counter()
    state = fit(task, config, workdir)
    seconds = time.perf_counter() - start
    g_params = state.g.params if state.g_ema is None else state.g_ema
    x = np.asarray(sample(g_params, jax.random.PRNGKey(config.seed + 1), config.eval.num_samples))
    centers, sigma = gan.mixture(config.data.name)
    result = {**gan.mode_metrics(x, centers, sigma), "train_seconds": seconds}
    np.savez_compressed(os.path.join(workdir, "samples.npz"), samples=x.astype(np.float32))
    _scatter(
        x,
        centers,
        os.path.join(workdir, "samples.png"),
        f"{config.method} on {config.data.name}: {result['modes_covered']}/{len(centers)} "
        f"modes, {100 * result['high_quality']:.1f}% high quality",
    )
    return result


def _scatter(x, centers, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=120)
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, label="samples")
    ax.scatter(centers[:, 0], centers[:, 1], s=30, c="red", marker="x", label="mode centres")
    lim = np.abs(centers).max() * 1.5
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title)
    ax.title.set_fontsize(8)
    ax.legend(loc="lower right", fontsize=6)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="gan_toy", presets=PRESETS)
    cli.init_distributed(args)
    check_config(config)
    per_seed = []
    for s in range(config.seeds):
        seed_config = ml_collections.ConfigDict(config.to_dict())
        seed_config.seed = config.seed + s
        per_seed.append(
            run_seed(seed_config, os.path.join(args.workdir, f"seed_{seed_config.seed}"))
        )
    summary = {
        k: {
            "mean": float(np.mean([r[k] for r in per_seed])),
            "std": float(np.std([r[k] for r in per_seed])),
        }
        for k in per_seed[0]
    }
    results = {
        "method": config.method,
        "data": config.data.name,
        "seeds": config.seeds,
        "summary": summary,
        "per_seed": per_seed,
    }
    if jax.process_index() == 0:
        cli.write_results(args.workdir, results)
    return results


if __name__ == "__main__":
    cli.run(main)
