"""GAN methods on 2-D Gaussian mixtures, scored by mode coverage (SPEC GAN-1, GAN-3, GAN-4, GAN-6).

Every preset is a method trained through `jaxdl.train.adversarial` on the same data and scored
with VEEGAN's metrics (Srivastava et al. 2017): modes covered, share of high-quality samples
(within 3σ of a mode) and reverse KL, on 2,500 samples:
    python -m experiments.gan_toy --preset pacgan --config.data.name=ring --config.seeds=5
Presets: gan (minimax, Goodfellow et al. 2014), nsgan (non-saturating), wgan (Arjovsky et al.
2017: RMSprop, clipping 0.01, 5 critic steps), wgan_gp (Gulrajani et al. 2017: λ 10, 5 critic
steps), unrolled (Metz et al. 2017: 5 look-ahead steps), madgan (Ghosh et al. 2018: one
generator per ring mode), meg (Kumar et al. 2019), pacgan (Lin et al. 2018: D sees 4 packed
samples). `quick` is pacgan with fewer steps. Data: `ring` (8 modes, radius 1, σ 0.01) or
`grid` (25 modes at {−4,−2,0,2,4}², σ 0.05). Writes results.json, samples.npz and samples.png.
"""

from __future__ import annotations

import json
import os

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
PRESETS = (*METHODS, "quick")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.seeds = 1  # train seeds seed, seed+1, ... in workdir/seed_<s> and report mean ± std
    c.method = "pacgan"  # one of METHODS; the presets set it with its hyper-parameters
    c.data = ml_collections.ConfigDict(dict(name="ring"))  # "ring" | "grid"
    c.model = ml_collections.ConfigDict()
    c.model.latent_dim = 64
    c.model.hidden = (128, 128)  # both networks (Metz et al. 2017's toy G and D)
    c.model.pack = 1  # PacGAN: samples per discriminator input
    c.model.num_generators = 1  # MAD-GAN: k generators, D with k + 1 outputs
    c.train = engine_config(
        total_steps=6000, batch_size=256, log_every=500, eval_every=0, checkpoint_every=2000
    )
    c.train.optimizer = "adam"  # "adam" | "rmsprop"
    c.train.learning_rate = 1e-3
    c.train.b1, c.train.b2 = 0.5, 0.999  # Adam betas
    c.train.loss = "nonsaturating"  # a `jaxdl.gan.LOSSES` name
    c.train.d_steps = 1  # critic updates per generator update
    c.train.unroll_steps = 0  # look-ahead D steps inside G's loss
    c.train.clip_value = 0.0  # WGAN weight clipping c (0: off)
    c.train.gp_weight = 0.0  # WGAN-GP λ (0: off)
    c.train.r1_weight = 0.1  # MEG's gradient penalty on real data
    c.eval = ml_collections.ConfigDict(dict(num_samples=2500))
    if preset in (None, "pacgan", "quick"):
        c.model.pack = 4
        if preset == "quick":
            c.train.total_steps = 3000
    elif preset == "gan":
        c.method, c.train.loss = "gan", "minimax"
    elif preset == "nsgan":
        c.method = "nsgan"
    elif preset == "wgan":
        c.method, c.train.loss, c.train.optimizer = "wgan", "wasserstein", "rmsprop"
        c.train.learning_rate, c.train.d_steps, c.train.clip_value = 5e-5, 5, 0.01
    elif preset == "wgan_gp":
        c.method, c.train.loss, c.train.gp_weight = "wgan_gp", "wasserstein", 10.0
        c.train.learning_rate, c.train.b1, c.train.b2, c.train.d_steps = 1e-4, 0.5, 0.9, 5
    elif preset == "unrolled":
        c.method, c.train.unroll_steps = "unrolled", 5
    elif preset == "madgan":
        c.method, c.model.num_generators = "madgan", 8
    elif preset == "meg":
        c.method, c.train.loss = "meg", "wasserstein"
    else:
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def _tx(config):
    t = config.train
    if t.optimizer == "adam":  # eps_root > 0 keeps Adam differentiable for the unrolled G loss
        return optax.adam(
            t.learning_rate, b1=t.b1, b2=t.b2, eps_root=1e-12 if t.unroll_steps else 0.0
        )
    if t.optimizer == "rmsprop":
        return optim.rmsprop(t.learning_rate)
    raise cli.ConfigError(
        f"config.train.optimizer must be 'adam' or 'rmsprop', got {t.optimizer!r}"
    )


def _networks(config):
    m = config.model
    outputs = m.num_generators + 1 if config.method == "madgan" else 1
    return MLPGenerator(hidden=m.hidden), MLPDiscriminator(hidden=m.hidden, num_outputs=outputs)


def build(config: ml_collections.ConfigDict) -> tuple[Task, callable]:
    """The task and a `sample(state_or_g_params, rng, n) -> (n, 2)` function."""
    if config.method not in METHODS:
        raise cli.ConfigError(f"config.method={config.method!r}; choose from {METHODS}")
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
        _tx(config),
        _tx(config),
        g_init=g_init,
        d_init=lambda rng: disc.init(rng, jnp.zeros((1, d_in))),
        d_steps=t.d_steps,
        unroll_steps=t.unroll_steps,
        d_constraint=clip,
        **step_options(t),
    )
    data = gan.MixtureStream(config.data.name, t.batch_size, seed=config.seed)
    return Task(init_state, step, data), sample


def run_seed(config: ml_collections.ConfigDict, workdir: str) -> dict:
    task, sample = build(config)
    state = fit(task, config, workdir)
    x = np.asarray(
        sample(state.g.params, jax.random.PRNGKey(config.seed + 1), config.eval.num_samples)
    )
    centers, sigma = gan.mixture(config.data.name)
    result = gan.mode_metrics(x, centers, sigma)
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
        with open(os.path.join(args.workdir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    cli.run(main)
