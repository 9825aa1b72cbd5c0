"""DDPM (Ho et al. 2020) on CIFAR-10 with the Ho U-Net (35.7M params). SPEC: DIF-1..DIF-6.

Paper (default): TFDS cifar10 train, flips, batch 128, Adam 2e-4 with 5k warm-up, clip 1.0,
EMA 0.9999, dropout 0.1, T=1000 linear betas, 800k steps, sharded over all devices:
    python -m experiments.ddpm_cifar --workdir workdirs/ddpm_cifar
Quick: a small U-Net on embedded MNIST-5k padded to 32x32, minutes on 2 CPU cores; writes
samples.png/.npz and scores samples with the MNIST classifier (Fréchet distance on its features,
confident share, digits present):
    python -m experiments.ddpm_cifar --preset quick --workdir workdirs/ddpm_quick
Modes: --mode train (default) | sample (workdir EMA params, or --config.eval.pretrained=DIR with a
diffusers google/ddpm-cifar10-32 folder) | eval. Digit datasets
(`jaxdl.metrics.generative.CLASSIFIER_DATASETS`) are scored with the classifier, after training
too; RGB ones with FID/IS in --mode eval.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments import mnist_classifier
from jaxdl import cli, data, diffusion, images, optim
from jaxdl.metrics import generative
from jaxdl.models.unet import DDPMUNet
from jaxdl.train import Task, engine_config, fit, load_params, step_options, supervised

PRESETS = ("quick", "paper")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.dataset = "tfds:cifar10"
    c.data.data_dir = ""  # TFDS data dir ("": $TFDS_DATA_DIR or ~/tensorflow_datasets)
    c.data.channels = 3  # image channels (the U-Net's input and output)
    c.data.random_flip = True  # horizontal flips of the training images

    c.diffusion = ml_collections.ConfigDict()
    c.diffusion.num_timesteps = 1000  # T
    c.diffusion.beta_schedule = "linear"  # "linear" (1e-4 .. 0.02) or "cosine"

    c.model = ml_collections.ConfigDict()
    c.model.ch = 128  # base channels
    c.model.ch_mult = (1, 2, 2, 2)  # channel multiplier per resolution 32, 16, 8, 4
    c.model.num_res_blocks = 2  # per resolution
    c.model.attn_resolutions = (16,)  # resolutions with self-attention
    c.model.dropout = 0.1
    c.model.num_groups = 32  # GroupNorm groups

    c.train = engine_config(  # every engine key (jaxdl.train.engine_config), these changed
        total_steps=800_000,
        batch_size=128,
        clip_norm=1.0,
        ema_decay=0.9999,  # the EMA params are sampled and scored
        log_every=100,
        eval_every=50_000,  # a grid of eval.num_samples samples, images/samples/
        checkpoint_every=10_000,
    )
    c.train.learning_rate = 2e-4  # Adam
    c.train.warmup_steps = 5000  # linear learning-rate warm-up

    c.eval = ml_collections.ConfigDict()
    c.eval.sampler = "ddpm"  # "ddpm" (ancestral, all T steps) or "ddim" (eta 0); --sampler
    c.eval.sample_steps = 1000  # sampler steps (ddpm: T); --steps
    c.eval.variance = "fixed_large"  # ddpm reverse variance: fixed_large (beta) | fixed_small
    c.eval.clip_x0 = True  # clip the predicted x0 to [-1, 1] while sampling
    c.eval.num_samples = 64  # images in samples.png and in each training-time grid
    c.eval.sample_batch = 256  # images per jitted sampler call
    c.eval.eval_samples = 50_000  # images scored (written to samples.npz)
    c.eval.classifier_workdir = ""  # digit sets' scorer ("": WORKDIR/classifier, trained once)
    c.eval.inception_weights = ""  # RGB sets: pytorch-fid InceptionV3 (docs/fid_inception.md)
    c.eval.fid_stats = ""  # RGB sets: reference .npz mu/sigma ("": train split's, cached)
    c.eval.pretrained = ""  # sample/eval a diffusers google/ddpm-cifar10-32 folder instead

    if preset == "quick":
        c.data.dataset = "mnist5k"
        c.data.channels = 1
        c.data.random_flip = False
        c.model.ch = 16
        c.model.num_res_blocks = 1
        c.model.attn_resolutions = (8,)
        c.model.dropout = 0.0
        c.model.num_groups = 8
        c.train.total_steps = 1900
        c.train.batch_size = 32
        c.train.learning_rate = 1e-3
        c.train.warmup_steps = 200
        c.train.ema_decay = 0.999
        c.train.ema_warmup = True
        c.train.eval_every = 1900
        c.train.checkpoint_every = 300
        c.eval.sampler = "ddim"
        c.eval.sample_steps = 50
        c.eval.eval_samples = 500
    elif preset not in (None, "paper"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def make_model(config) -> DDPMUNet:
    return DDPMUNet(in_ch=config.data.channels, out_ch=config.data.channels, **config.model)


def _transforms(config, train: bool = True):
    flip = [data.RandomFlip()] if train and config.data.random_flip else []
    return [data.PadTo(32), *flip, data.ScaleToSymmetric()]


def check_sampler(config) -> None:
    ev = config.eval
    if ev.sampler not in ("ddpm", "ddim"):
        raise cli.ConfigError(f"config.eval.sampler must be 'ddpm' or 'ddim', got {ev.sampler!r}")
    if ev.sampler == "ddpm" and ev.sample_steps != config.diffusion.num_timesteps:
        raise cli.ConfigError(
            f"the DDPM ancestral sampler runs all T={config.diffusion.num_timesteps} steps "
            f"(got --steps {ev.sample_steps}); use --sampler ddim for fewer"
        )


def make_sampler(config, model, schedule):
    """Jitted `(params, key, n) -> images in [-1, 1]` with the configured sampler."""
    check_sampler(config)
    ev, size = config.eval, (32, 32, config.data.channels)

    def sample(params, key, n):
        eps_fn = lambda x, t: model.apply({"params": params}, x, t, train=False)  # noqa: E731
        if ev.sampler == "ddim":
            return diffusion.sample_ddim(
                eps_fn, schedule, (n, *size), key, num_steps=ev.sample_steps, clip_x0=ev.clip_x0
            )
        return diffusion.sample_ddpm(
            eps_fn, schedule, (n, *size), key, variance=ev.variance, clip_x0=ev.clip_x0
        )

    jitted = jax.jit(sample, static_argnums=2)

    def run(params, key, n):
        out = [
            np.asarray(jitted(params, jax.random.fold_in(key, i), min(ev.sample_batch, n - i)))
            for i in range(0, n, ev.sample_batch)
        ]
        return np.concatenate(out)

    return run


def _schedule(config):
    return diffusion.make_schedule(config.diffusion.beta_schedule, config.diffusion.num_timesteps)


def build(config: ml_collections.ConfigDict) -> Task:
    model, schedule = make_model(config), _schedule(config)
    train = data.make_pipeline(
        cli.data_source(config.data.dataset, "train", config.data.data_dir),
        _transforms(config),
        global_batch_size=config.train.batch_size,
        seed=config.seed,
    )

    def apply(params, x_t, t, rng):
        return model.apply({"params": params}, x_t, t, train=True, rngs={"dropout": rng})

    def init_fn(rng):
        x = jnp.zeros((1, 32, 32, config.data.channels))
        return model.init(rng, x, jnp.zeros((1,), jnp.int32))["params"]

    sampler = make_sampler(config, model, schedule)

    def sample_grid(state):  # the engine writes it to images/samples/ and TensorBoard
        params = state.params if state.ema_params is None else state.ema_params
        x = sampler(params, jax.random.PRNGKey(config.seed), config.eval.num_samples)
        return [("samples", images.to_uint8(x))]

    tx = optim.adam(optim.linear_warmup(config.train.learning_rate, config.train.warmup_steps))
    init_state, train_step = supervised(
        diffusion.make_loss_fn(schedule, apply), tx, init_fn=init_fn, **step_options(config.train)
    )
    return Task(init_state, train_step, train, evaluators=[sample_grid])


def _params(config, workdir):
    if config.eval.pretrained:
        if not os.path.isdir(config.eval.pretrained):
            raise cli.MissingInputError(
                f"--config.eval.pretrained={config.eval.pretrained!r} is not a folder: expected "
                "a diffusers google/ddpm-cifar10-32 folder (docs/ddpm_weights.md)"
            )
        from jaxdl.convert import load_diffusers_unet

        return load_diffusers_unet(config.eval.pretrained)
    cli.require_checkpoints(
        workdir,
        "train it first (--mode train) or sample a diffusers "
        "folder with --config.eval.pretrained=DIR",
    )
    return make_model(config), load_params(workdir, ema=config.train.ema_decay is not None)


def write_samples(config, workdir, model, params, n):
    x = make_sampler(config, model, _schedule(config))(
        params, jax.random.PRNGKey(config.seed + 1), n
    )
    u8 = images.to_uint8(x)
    images.save_grid(u8[: config.eval.num_samples], os.path.join(workdir, "samples.png"))
    np.savez_compressed(os.path.join(workdir, "samples.npz"), images=u8)
    return x


def make_scorer(config, workdir):
    """`samples in [-1, 1] -> report`: digit datasets with the MNIST classifier (trained into
    `eval.classifier_workdir` if it has none), RGB ones with FID (train split) and IS."""
    if config.data.dataset in generative.CLASSIFIER_DATASETS:
        cwd = config.eval.classifier_workdir or os.path.join(workdir, "classifier")
        if not os.path.isdir(os.path.join(cwd, "checkpoints")):
            cconf = mnist_classifier.get_config("quick")
            cconf.data.dataset, cconf.data.data_dir = config.data.dataset, config.data.data_dir
            mnist_classifier.train_classifier(cconf, cwd)
        with open(os.path.join(cwd, "config.json")) as f:
            clf = mnist_classifier.make_model(ml_collections.ConfigDict(json.load(f)))
        cparams = load_params(cwd)
        features = jax.jit(lambda x: clf.apply({"params": cparams}, x, return_features=True))
        return generative.ClassifierScorer.from_dataset(
            features,
            config.data.dataset,
            _transforms(config, train=False),
            data_dir=config.data.data_dir or None,
        )
    from jaxdl.convert import load_inception  # FID/IS, Ho et al.'s protocol. SPEC: DIF-6

    variables = load_inception(config.eval.inception_weights)
    stats = config.eval.fid_stats or os.path.join(workdir, "fid_stats_train.npz")
    if not os.path.isfile(stats):  # no --config.eval.fid_stats (checked first): compute, cache
        src = cli.data_source(config.data.dataset, "train", config.data.data_dir)
        real = np.stack([np.asarray(src[i]["image"], np.uint8) for i in range(len(src))])
        generative.save_fid_stats(stats, *generative.fid_stats(variables, real))
    return lambda x: generative.inception_report(variables, images.to_uint8(x), real_stats=stats)


def _check_inception_inputs(config) -> None:
    """Fail before sampling when RGB evaluation lacks its InceptionV3 weights or given stats."""
    from jaxdl.convert import FID_WEIGHTS_URL

    path = config.eval.inception_weights
    if not path or not os.path.isfile(path):
        raise cli.MissingInputError(
            f"FID/IS evaluation needs InceptionV3 weights; --config.eval.inception_weights="
            f"{path!r} is not a file. Use pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or "
            f"a .safetensors copy) from {FID_WEIGHTS_URL}; see docs/fid_inception.md."
        )
    if config.eval.fid_stats and not os.path.isfile(config.eval.fid_stats):
        raise cli.MissingInputError(
            f"--config.eval.fid_stats={config.eval.fid_stats!r} is not a file: expected an .npz "
            "with 'mu' and 'sigma', or leave it empty to compute the train split's statistics"
        )


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(
        argv,
        get_config,
        name="ddpm_cifar",
        presets=PRESETS,
        modes=("train", "sample", "eval"),
        aliases={"sampler": "eval.sampler", "steps": "eval.sample_steps"},
    )
    cli.init_distributed(args)
    check_sampler(config)
    # Digit sets are scored after training too; RGB sets (FID/IS) need `--mode eval`.
    by_classifier = config.data.dataset in generative.CLASSIFIER_DATASETS
    score = args.mode == "eval" or (args.mode == "train" and by_classifier)
    if score and not by_classifier:
        _check_inception_inputs(config)
    if args.mode == "train":
        fit(build(config), config, args.workdir)
    model, params = _params(config, args.workdir)
    scorer = make_scorer(config, args.workdir) if score else None
    x = write_samples(
        config,
        args.workdir,
        model,
        params,
        config.eval.eval_samples if score else config.eval.num_samples,
    )
    if scorer is None:
        return {}
    report = scorer(x)
    cli.write_results(args.workdir, report)
    return report


if __name__ == "__main__":
    cli.run(main)
