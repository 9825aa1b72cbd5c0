"""DDPM (Ho et al. 2020) on CIFAR-10 with the Ho U-Net (35.7M params). SPEC: DIF-1..DIF-6.

Paper (default): TFDS cifar10 train, flips, batch 128, Adam 2e-4 with 5k warm-up, clip 1.0,
EMA 0.9999, dropout 0.1, T=1000 linear betas, 800k steps, sharded over all devices:
    python -m experiments.ddpm_cifar --workdir workdirs/ddpm_cifar
Quick: a small U-Net on embedded MNIST-5k padded to 32x32, minutes on 2 CPU cores; writes
samples.png/.npz and scores samples with the MNIST classifier (Fréchet distance on its features,
confident share, digits present):
    python -m experiments.ddpm_cifar --preset quick --workdir workdirs/ddpm_quick
Modes: --mode train (default) | sample (workdir EMA params, or --config.pretrained=DIR with a
diffusers google/ddpm-cifar10-32 folder) | eval.
"""

from __future__ import annotations

import json
import os
import sys

from jaxdl._xla_flags import set_xla_flags

set_xla_flags()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from jaxdl import cli, data, diffusion, images, optim  # noqa: E402
from jaxdl.diffusion.evaluate import classifier_report  # noqa: E402
from jaxdl.models.unet import DDPMUNet  # noqa: E402
from jaxdl.train import Task, fit, load_params  # noqa: E402

PRESETS = ("quick", "paper")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed, c.dataset, c.data_dir, c.channels, c.random_flip = 0, "tfds:cifar10", "", 3, True
    c.total_steps, c.batch_size, c.learning_rate, c.warmup_steps = 800_000, 128, 2e-4, 5000
    c.clip_norm, c.ema_decay, c.ema_warmup = 1.0, 0.9999, False
    c.num_timesteps, c.beta_schedule = 1000, "linear"
    c.model = ml_collections.ConfigDict(dict(ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2,
                                             attn_resolutions=(16,), dropout=0.1, num_groups=32))
    c.log_every, c.eval_every, c.checkpoint_every, c.keep_checkpoints = 100, 50_000, 10_000, 3
    c.sampler, c.sample_steps, c.variance, c.clip_x0 = "ddpm", 1000, "fixed_large", True
    c.num_samples, c.sample_batch, c.eval_samples = 64, 256, 50_000
    c.classifier_workdir, c.pretrained = "", ""
    # CIFAR-10 eval (FID/IS): pytorch-fid InceptionV3 weights (docs/fid_inception.md) and optional
    # reference statistics (.npz mu/sigma); without them the train split's are computed and cached.
    c.inception_weights, c.fid_stats = "", ""
    if preset == "quick":
        c.dataset, c.channels, c.random_flip = "mnist5k", 1, False
        c.total_steps, c.batch_size, c.learning_rate, c.warmup_steps = 1900, 32, 1e-3, 200
        c.ema_decay, c.ema_warmup = 0.999, True
        c.model = ml_collections.ConfigDict(dict(ch=16, ch_mult=(1, 2, 2, 2), num_res_blocks=1,
                                                 attn_resolutions=(8,), dropout=0.0,
                                                 num_groups=8))
        c.log_every, c.eval_every, c.checkpoint_every = 100, 1900, 300
        c.sampler, c.sample_steps, c.eval_samples = "ddim", 50, 500
    elif preset not in (None, "paper"):
        raise ValueError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def make_model(config) -> DDPMUNet:
    return DDPMUNet(in_ch=config.channels, out_ch=config.channels, **config.model)


def _source(config, split):
    kw = {} if config.dataset in data.catalog.EMBEDDED else {"data_dir": config.data_dir or None}
    return data.get_source(config.dataset, split, **kw)


def _transforms(config):
    flip = [data.RandomFlip()] if config.random_flip else []
    return [data.PadTo(32), *flip, data.ScaleToSymmetric()]


def make_sampler(config, model, schedule):
    """Jitted `(params, key, n) -> images in [-1, 1]` with the configured sampler."""
    size = (32, 32, config.channels)
    if config.sampler not in ("ddpm", "ddim"):
        raise ValueError(f"config.sampler must be 'ddpm' or 'ddim', got {config.sampler!r}")
    if config.sampler == "ddpm" and config.sample_steps != config.num_timesteps:
        raise ValueError(f"the DDPM ancestral sampler runs all T={config.num_timesteps} steps "
                         f"(got --steps {config.sample_steps}); use --sampler ddim for fewer")

    def sample(params, key, n):
        eps_fn = lambda x, t: model.apply({"params": params}, x, t, train=False)  # noqa: E731
        if config.sampler == "ddim":
            return diffusion.sample_ddim(eps_fn, schedule, (n, *size), key,
                                         num_steps=config.sample_steps, clip_x0=config.clip_x0)
        return diffusion.sample_ddpm(eps_fn, schedule, (n, *size), key, variance=config.variance,
                                     clip_x0=config.clip_x0)

    jitted = jax.jit(sample, static_argnums=2)

    def run(params, key, n):
        out = [np.asarray(jitted(params, jax.random.fold_in(key, i), min(config.sample_batch,
                                 n - i))) for i in range(0, n, config.sample_batch)]
        return np.concatenate(out)

    return run


def build(config: ml_collections.ConfigDict, workdir: str = "") -> Task:
    model, schedule = make_model(config), diffusion.make_schedule(config.beta_schedule,
                                                                   config.num_timesteps)
    train = data.make_pipeline(_source(config, "train"), _transforms(config),
                               global_batch_size=config.batch_size, seed=config.seed)

    def apply(params, x_t, t, rng):
        return model.apply({"params": params}, x_t, t, train=True, rngs={"dropout": rng})

    def init_fn(rng):
        x = jnp.zeros((1, 32, 32, config.channels))
        return model.init(rng, x, jnp.zeros((1,), jnp.int32))["params"]

    sampler = make_sampler(config, model, schedule)

    def sample_grid(state):
        x = sampler(state.ema_params, jax.random.PRNGKey(config.seed), config.num_samples)
        path = os.path.join(workdir, "samples", f"step_{int(state.step):08d}.png")
        if jax.process_index() == 0:
            images.save_grid(images.to_uint8(x), path)
        return [("samples/mean_abs", float(np.abs(x).mean()))]

    tx = optim.adam(optim.linear_warmup(config.learning_rate, config.warmup_steps))
    return Task(init_fn, diffusion.make_loss_fn(schedule, apply), tx, train,
                evaluators=[sample_grid] if workdir else [])


def _params(config, workdir):
    if config.pretrained:
        from jaxdl.convert import load_diffusers_unet

        return load_diffusers_unet(config.pretrained)
    return make_model(config), load_params(workdir, ema=True)


def write_samples(config, workdir, model, params, n):
    schedule = diffusion.make_schedule(config.beta_schedule, config.num_timesteps)
    x = make_sampler(config, model, schedule)(params, jax.random.PRNGKey(config.seed + 1), n)
    u8 = images.to_uint8(x)
    images.save_grid(u8[: config.num_samples], os.path.join(workdir, "samples.png"))
    np.savez_compressed(os.path.join(workdir, "samples.npz"), images=u8)
    return x


def evaluate(config, workdir, x) -> dict:
    """Score samples x in [-1, 1]: MNIST presets with the MNIST classifier, RGB with FID/IS."""
    report = _classifier_eval(config, workdir, x) if config.channels == 1 else _inception_eval(
        config, workdir, x)
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    return report


def _classifier_eval(config, workdir, x) -> dict:
    from experiments import mnist_classifier as mc

    cwd = config.classifier_workdir or os.path.join(workdir, "classifier")
    if not os.path.isdir(os.path.join(cwd, "checkpoints")):
        mc.main(["--preset", "quick", "--workdir", cwd])
    with open(os.path.join(cwd, "config.json")) as f:
        cconf = ml_collections.ConfigDict(json.load(f))
    clf, cparams = mc.make_model(cconf), load_params(cwd)
    score = jax.jit(lambda im: clf.apply({"params": cparams}, im, return_features=True))
    real = np.stack([r["image"] for r in (data.Compose(*_transforms(config))(
        data.mnist5k("test")[i], None) for i in range(len(data.mnist5k("test"))))])
    logits, feats = (np.concatenate(a) for a in zip(*[score(x[i:i + 500])
                                                      for i in range(0, len(x), 500)], strict=True))
    real_feats = np.concatenate([score(real[i:i + 500])[1] for i in range(0, len(real), 500)])
    return classifier_report(logits, feats, real_feats)


def _inception_eval(config, workdir, x) -> dict:
    """FID against the train split (Ho et al.'s protocol) and Inception Score. SPEC: DIF-6."""
    from jaxdl.convert import load_inception
    from jaxdl.diffusion import inception_eval as ie

    variables = load_inception(config.inception_weights)
    stats = config.fid_stats or os.path.join(workdir, "fid_stats_train.npz")
    if not os.path.isfile(stats):  # no --config.fid_stats (checked in main): compute and cache
        src = _source(config, "train")
        real = np.stack([np.asarray(src[i]["image"], np.uint8) for i in range(len(src))])
        ie.save_fid_stats(stats, *ie.fid_stats(variables, real))
    return ie.inception_report(variables, images.to_uint8(x), real_stats=stats)


def _check_inception_inputs(config) -> None:
    """Fail before sampling when RGB evaluation lacks its InceptionV3 weights or given stats."""
    from jaxdl.convert import FID_WEIGHTS_URL

    path = config.inception_weights
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(
            f"CIFAR-10 evaluation (FID/IS) needs InceptionV3 weights; --config.inception_weights="
            f"{path!r} is not a file. Use pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or "
            f"a .safetensors copy) from {FID_WEIGHTS_URL}; see docs/fid_inception.md.")
    if config.fid_stats and not os.path.isfile(config.fid_stats):
        raise FileNotFoundError(
            f"--config.fid_stats={config.fid_stats!r} is not a file: expected an .npz with 'mu' "
            "and 'sigma', or leave it empty to compute the train split's statistics")


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="ddpm_cifar", presets=PRESETS,
                             modes=("train", "sample", "eval"),
                             aliases={"sampler": "sampler", "steps": "sample_steps"})
    cli.init_distributed(args)
    if args.mode == "train":
        fit(build(config, args.workdir), config, args.workdir)
    # After training, MNIST presets are scored with the classifier; CIFAR-10 needs `--mode eval`.
    score = args.mode == "eval" or (args.mode == "train" and config.channels == 1)
    if score and config.channels != 1:
        _check_inception_inputs(config)
    model, params = _params(config, args.workdir)
    n = config.eval_samples if score else config.num_samples
    x = write_samples(config, args.workdir, model, params, n)
    return evaluate(config, args.workdir, x) if score else {}


if __name__ == "__main__":
    main(sys.argv[1:])
