"""×4 super-resolution: SRResNet/SRGAN (Ledig et al. 2017; SPEC RES-2) and ESRNet/ESRGAN (Wang
et al. 2018; RES-3), evaluated by the SR literature's protocol (RES-5).

    python -m experiments.esrgan_sr --preset esrnet_quick --workdir workdirs/sr_esrnet
    python -m experiments.esrgan_sr --preset srresnet_quick --workdir workdirs/sr_srresnet
    python -m experiments.esrgan_sr --preset esrgan_quick --workdir workdirs/sr_esrgan \
        --config.init_from=workdirs/sr_esrnet
    python -m experiments.esrgan_sr --preset interp_quick --workdir workdirs/sr_interp \
        --config.interp.psnr_workdir=workdirs/sr_esrnet \
        --config.interp.gan_workdir=workdirs/sr_esrgan
    python -m experiments.esrgan_sr --mode eval --preset esrnet_quick --workdir workdirs/sr_esrnet \
        --config.data.test_dir=Set14/
    python -m experiments.esrgan_sr --mode upscale --config.pretrained=RRDB_ESRGAN_x4.pth \
        --input photo.png --output photo_x4.png

Presets (paper settings; `_quick`: small nets on 64² HR crops of the bundled photos,
`jaxdl.data.photos`, about 10 minutes on 2 CPU cores): `srresnet` (SRResNet with BN, MSE, Adam
1e-4, 96² HR, batch 16, 10⁶ steps; `--config.loss.pixel=l1` for L1), `srgan` (from an `srresnet`
workdir: VGG19 φ5,4/12.75 MSE + 10⁻³·BCE, 10⁵ steps at 1e-4 then 10⁵ at 1e-5), `esrnet` (RRDBNet
23 blocks, L1, 2e-4 halved every 2·10⁵ of 10⁶ steps, 128² HR), `esrgan` (from an `esrnet`
workdir: L1 on VGG19 conv5_4 before ReLU + 5e-3·RaGAN + 0.01·L1, 1e-4 halved at 50k/100k/200k/
300k of 400k), `interp` (θ = (1-α)·θ_PSNR + α·θ_GAN over `interp.alphas`: PSNR-vs-α table and
plot). Full presets read DIV2K through TFDS (`div2k/bicubic_x4`, its MATLAB-bicubic LR images).
The quick generators (not the papers') add the MATLAB-bicubic up-sampled input to their output
(`model.residual=bicubic`; "auto" is the published choice) and the PSNR-oriented ones train with
Adam 1e-3, cosine to 0 over 1,500 steps.

Evaluation: HR images cropped at the bottom/right to a multiple of 4 (never padded), LR by MATLAB
bicubic rounded to 8 bits, outputs rounded to 8 bits, PSNR/SSIM on Y (and RGB) with 4 border
pixels dropped, per image then averaged; bicubic upscaling is the baseline. Writes results.json,
results.md and comparison.png (one crop: LR nearest, bicubic, model, HR).

Measured (docs/super_resolution.md; held-out chelsea/coffee/grace_hopper, bicubic 28.24 dB
PSNR-Y): srresnet_quick 29.67 (+1.43), esrnet_quick 29.69 (+1.46), so the +1.0 dB goal is met;
esrgan_quick 25.78 and srgan_quick 26.65 (sharper, with artefacts; no VGG19 here);
interp_quick 29.69 → 25.78 dB, falling monotonically with α. Wall 4–13 min per run on the shared
2-core CPU.
"""

from __future__ import annotations

import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from jaxdl import cli, data, images, optim
from jaxdl.convert.vgg import load_vgg
from jaxdl.data.image_folder import read_folder
from jaxdl.data.sr_pairs import SRPairs, bicubic_lr, bicubic_upscale, modcrop, photo_pairs
from jaxdl.data.tfds_source import TfdsImages
from jaxdl.gan import losses as gan_losses
from jaxdl.losses.perceptual import esrgan_perceptual_loss, srgan_content_loss
from jaxdl.metrics.sr import mean_scores, sr_scores
from jaxdl.models.sr_discriminators import SRGANDiscriminator, VGGStyleDiscriminator
from jaxdl.models.vgg_features import VGGFeatures
from jaxdl.restoration import tiled_apply
from jaxdl.train import (
    Task,
    adversarial,
    engine_config,
    fit,
    load_params,
    step_options,
    supervised,
)

PRESETS = tuple(
    p + q for p in ("srresnet", "srgan", "esrnet", "esrgan", "interp") for q in ("", "_quick")
)
MODES = ("train", "eval", "upscale")
ARCHS = ("srresnet", "msrresnet", "rrdbnet")
SCALE = 4


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    if preset not in (None, *PRESETS):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    family = (preset or "esrnet").removesuffix("_quick")
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.preset = family
    c.pretrained = ""  # a BasicSR / original-ESRGAN checkpoint for eval / upscale
    c.init_from = ""  # srgan / esrgan: the stage-1 workdir (srresnet / esrnet)
    c.data = ml_collections.ConfigDict()
    c.data.dataset = "tfds:div2k/bicubic_x4"  # or "photos" (embedded)
    c.data.hr_key, c.data.lr_key = "hr", "lr"  # TFDS features ("" lr_key: MATLAB bicubic of hr)
    c.data.data_dir = ""
    c.data.hr_size = 128
    c.data.test_dir = ""  # a folder of HR images to evaluate on ("" = the held-out photos)
    c.data.num_workers = 0

    c.model = ml_collections.ConfigDict()
    c.model.arch = "rrdbnet"  # srresnet (BN, Ledig et al.) | msrresnet (BasicSR) | rrdbnet
    c.model.num_feat = 64
    c.model.num_block = 23
    c.model.num_grow_ch = 32  # rrdbnet only
    c.model.residual = "auto"  # G(x) + upsampled x: "auto" (as published: MSRResNet bilinear,
    # the others none) | "bicubic" (MATLAB, the baseline) | "bilinear" | "" (msrresnet, rrdbnet)

    c.loss = ml_collections.ConfigDict()
    c.loss.pixel = "l1"  # "l1" | "mse"
    c.loss.pixel_weight = 1.0
    c.loss.perceptual_weight = 0.0
    c.loss.gan = ""  # "" | "ragan" (ESRGAN) | "minimax" (SRGAN)
    c.loss.gan_weight = 0.0
    c.loss.perceptual = "esrgan"  # esrgan: L1 on conv5_4 (pre-ReLU); srgan: MSE on relu5_4/12.75
    c.loss.vgg_weights = ""  # torchvision-layout VGG19 (features.N.*) .pth / .safetensors

    c.disc = ml_collections.ConfigDict()
    c.disc.arch = "vgg128"  # ESRGAN's VGGStyleDiscriminator (128² input) | "srgan" (any 16k²)
    c.disc.num_feat = 64
    c.disc.learning_rate = 1e-4

    c.train = engine_config(
        total_steps=1_000_000, batch_size=16, log_every=100, checkpoint_every=5000
    )
    c.train.ema_decay = 0.999  # BasicSR keeps an EMA of G; eval / upscale use it
    c.train.learning_rate = 2e-4
    c.train.milestones = (200_000, 400_000, 600_000, 800_000)
    c.train.gamma = 0.5
    c.train.schedule = "multistep"  # the papers' step decay | "cosine": to 0 at total_steps

    c.eval = ml_collections.ConfigDict()
    c.eval.tile = 0  # LR tile for eval (0: whole images, the protocol); upscale: upscale.tile
    c.eval.crop = (100, 200, 96)  # comparison.png: top, left, size in HR pixels (first image)
    c.eval.max_size = 0  # 0: whole images; N: central N x N HR crops (a fast smoke test)

    c.interp = ml_collections.ConfigDict()
    c.interp.psnr_workdir = ""
    c.interp.gan_workdir = ""
    c.interp.alphas = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)

    c.upscale = ml_collections.ConfigDict()
    c.upscale.input = ""  # --input: an image or a folder
    c.upscale.output = ""  # --output: a file (one input) or a folder
    c.upscale.tile = 128  # LR tile size; neighbours overlap by upscale.overlap LR pixels
    c.upscale.overlap = 16
    c.upscale.tile_batch = 4

    if family == "srresnet":
        c.model.arch, c.model.num_block = "srresnet", 16
        c.loss.pixel, c.data.hr_size = "mse", 96
        c.train.learning_rate, c.train.milestones = 1e-4, ()
    elif family == "srgan":
        c.model.arch, c.model.num_block = "srresnet", 16
        c.data.hr_size = 96
        c.loss.pixel_weight, c.loss.perceptual_weight = 0.0, 1.0
        c.loss.gan, c.loss.gan_weight = "minimax", 1e-3
        c.loss.perceptual, c.disc.arch = "srgan", "srgan"
        c.train.total_steps, c.train.learning_rate = 200_000, 1e-4
        c.train.milestones, c.train.gamma = (100_000,), 0.1
    elif family == "esrgan":
        c.loss.pixel_weight, c.loss.perceptual_weight = 0.01, 1.0
        c.loss.gan, c.loss.gan_weight = "ragan", 5e-3
        c.train.total_steps, c.train.learning_rate = 400_000, 1e-4
        c.train.milestones = (50_000, 100_000, 200_000, 300_000)
    if preset and preset.endswith("_quick"):
        c.data.dataset, c.data.hr_size = "photos", 64
        c.model.num_feat, c.model.num_grow_ch = 32, 16
        c.model.num_block = 3 if c.model.arch == "rrdbnet" else 6
        if family == "srresnet":
            c.model.arch, c.loss.pixel = "msrresnet", "l1"  # no BN at batch 16 of tiny crops
        if family == "srgan":
            c.model.arch = "msrresnet"
        c.disc.arch, c.disc.num_feat = "srgan", 16  # VGGStyleDiscriminator needs 128² crops
        c.loss.perceptual_weight = 0.0  # no ImageNet VGG19 ships here: pass loss.vgg_weights
        if c.loss.gan:  # without the perceptual term, L1 1 + GAN 0.1 (Real-ESRGAN's weights)
            c.loss.pixel, c.loss.pixel_weight, c.loss.gan_weight = "l1", 1.0, 0.1
        c.train.total_steps, c.train.log_every, c.train.checkpoint_every = 1500, 50, 500
        c.train.ema_decay, c.train.ema_warmup = 0.999, True
        c.model.residual = "bicubic"  # learn the residual over the bicubic baseline
        if c.loss.gan_weight == 0:  # PSNR-oriented: 1e-3, cosine to 0
            c.train.learning_rate, c.train.schedule = 1e-3, "cosine"
        else:  # fine-tuning a PSNR run; an adversarial step costs ~4 PSNR steps on CPU
            c.train.total_steps, c.train.learning_rate = 500, 1e-4
            c.train.milestones = (250, 375)
        c.interp.alphas = (0.0, 0.25, 0.5, 0.75, 1.0)
    return c


def make_model(config):
    m = config.model
    if m.arch == "rrdbnet":
        from jaxdl.models.rrdbnet import RRDBNet

        return RRDBNet(
            scale=SCALE,
            num_feat=m.num_feat,
            num_block=m.num_block,
            num_grow_ch=m.num_grow_ch,
            residual=_residual(m, ""),
        )
    from jaxdl.models.srresnet import MSRResNet, SRResNet

    if m.arch == "srresnet":
        return SRResNet(num_feat=m.num_feat, num_block=m.num_block, upscale=SCALE)
    return MSRResNet(
        num_feat=m.num_feat, num_block=m.num_block, upscale=SCALE, residual=_residual(m, "bilinear")
    )


def _residual(model_config, published: str | None = None) -> str:
    """The up-sampled input G adds: `model.residual`, "auto" being the published choice."""
    if published is None:
        published = "bilinear" if model_config.get("arch") == "msrresnet" else ""
    residual = model_config.get("residual", "auto")
    return published if residual == "auto" else residual


def _check_saved_residual(config, workdir: str) -> None:
    """A run trained with another `model.residual` would load (no parameters differ) and give
    wrong images: refuse it by name (runs without a saved config are taken as "auto")."""
    try:
        with open(os.path.join(workdir, "config.json")) as f:
            saved = json.load(f).get("model", {})
    except (OSError, ValueError):
        return
    saved = {"arch": config.model.arch, "residual": "auto", **saved}
    theirs, ours = _residual(saved), _residual(config.model)
    if theirs != ours:
        raise cli.ConfigError(
            f"the run in {workdir!r} was trained with model.residual={saved['residual']!r} "
            f"({theirs or 'no'} up-sampled input added), this config has {ours or 'none'}: "
            f"pass --config.model.residual={saved['residual']!r}"
        )


def _check(config) -> None:
    if config.model.arch not in ARCHS:
        raise cli.ConfigError(f"model.arch must be one of {ARCHS}, got {config.model.arch!r}")
    residual = config.model.get("residual", "auto")
    allowed = (
        ("auto", "") if config.model.arch == "srresnet" else ("auto", "", "bicubic", "bilinear")
    )
    if residual not in allowed:
        raise cli.ConfigError(
            f"model.residual must be one of {allowed} for model.arch={config.model.arch!r}, "
            f"got {residual!r}"
        )
    if config.loss.pixel not in ("l1", "mse"):
        raise cli.ConfigError(f"loss.pixel must be 'l1' or 'mse', got {config.loss.pixel!r}")
    if config.train.get("schedule", "multistep") not in ("multistep", "cosine"):
        raise cli.ConfigError(
            f"train.schedule must be 'multistep' or 'cosine', got {config.train.schedule!r}"
        )
    if config.loss.gan not in ("", "ragan", "minimax"):
        raise cli.ConfigError(f"loss.gan must be '', 'ragan' or 'minimax', got {config.loss.gan!r}")
    if config.loss.perceptual_weight and not config.loss.vgg_weights:
        raise cli.ConfigError(
            "loss.perceptual_weight > 0 needs --config.loss.vgg_weights=FILE (torchvision-layout "
            "ImageNet VGG19 weights, e.g. vgg19-dcbb9e9d.pth), or --config.loss.perceptual_weight=0"
        )
    if config.data.hr_size % SCALE:
        raise cli.ConfigError(f"data.hr_size={config.data.hr_size} must be a multiple of {SCALE}")
    if config.data.test_dir and not os.path.isdir(config.data.test_dir):
        raise cli.MissingInputError(f"--config.data.test_dir={config.data.test_dir!r}: no folder")


def _has_bn(config) -> bool:
    return config.model.arch == "srresnet"


def apply_g(model, variables, lr, train: bool = False):
    """The generator on LR images in [0, 1]; (output, new batch_stats or {})."""
    if "batch_stats" not in variables:
        return model.apply(variables, lr), {}
    if train:
        out, upd = model.apply(variables, lr, train=True, mutable=["batch_stats"])
        return out, dict(upd)
    return model.apply(variables, lr, train=False), {}


def pixel_loss(kind: str, out, target):
    diff = out - target
    return jnp.mean(jnp.abs(diff)) if kind == "l1" else jnp.mean(jnp.square(diff))


def training_source(config) -> SRPairs:
    d = config.data
    length = 1000 * config.train.batch_size
    if d.dataset == "photos":
        return SRPairs(d.hr_size, SCALE, split="train", length=length, seed=config.seed)
    name = d.dataset.removeprefix("tfds:")
    try:
        hr = TfdsImages(name, "train", d.hr_key, d.data_dir or None)
        lr = TfdsImages(name, "train", d.lr_key, d.data_dir or None) if d.lr_key else None
    except ValueError as e:
        raise cli.ConfigError(f"--config.data.dataset={d.dataset!r}: {e}") from None
    return SRPairs(d.hr_size, SCALE, hr_images=hr, lr_images=lr, length=length, seed=config.seed)


def schedule(config, learning_rate: float | None = None):
    """G's (or, given `learning_rate`, D's) learning rate over steps: `train.milestones` ×
    `train.gamma` (the papers), or cosine to 0 at `train.total_steps` (`train.schedule`)."""
    t = config.train
    base = t.learning_rate if learning_rate is None else learning_rate
    if t.get("schedule", "multistep") == "cosine":
        return optim.cosine(base, t.total_steps)
    return optim.multistep(base, tuple(t.milestones), t.gamma)


def stage_one_variables(config, workdir: str) -> dict:
    """The generator variables of a trained run (EMA params when kept), checked against the
    configured architecture so a run of another size or scale is refused by name."""
    cli.require_checkpoints(workdir, "train it first (--mode train) or pass --config.pretrained")
    variables = {}
    for key in ("ema_params", "g_ema", "params", "g/params"):  # supervised or adversarial run
        try:
            variables["params"] = load_params(workdir, key=key)
            break
        except KeyError:
            continue
    else:
        raise cli.MissingInputError(f"no generator params in the checkpoints of {workdir!r}")
    if _has_bn(config):
        prefix = "g/" if key.startswith("g") else ""
        variables["batch_stats"] = load_params(workdir, key=f"{prefix}mutable/batch_stats")
    expected = jax.eval_shape(make_model(config).init, jax.random.key(0), jnp.zeros((1, 16, 16, 3)))
    exp = {jax.tree_util.keystr(k): v.shape for k, v in jax.tree.leaves_with_path(expected)}
    got = {jax.tree_util.keystr(k): v.shape for k, v in jax.tree.leaves_with_path(variables)}
    if exp != got:
        diff = sorted(k for k in set(exp) | set(got) if exp.get(k) != got.get(k))[:5]
        raise cli.ConfigError(
            f"the run in {workdir!r} does not match model.arch={config.model.arch!r}, "
            f"num_feat={config.model.num_feat}, num_block={config.model.num_block} "
            f"(first differing parameters: {diff}); use that run's --config.model.* values"
        )
    _check_saved_residual(config, workdir)
    return variables


def build(config) -> Task:
    _check(config)
    model = make_model(config)
    train_data = data.make_pipeline(
        training_source(config),
        global_batch_size=config.train.batch_size,
        seed=config.seed,
        num_workers=config.data.num_workers,
    )
    lr_size = config.data.hr_size // SCALE

    stage_one = stage_one_variables(config, config.init_from) if config.init_from else None

    def g_init(rng):
        if stage_one is not None:
            return jax.tree.map(jnp.asarray, stage_one)
        return dict(model.init(rng, jnp.zeros((1, lr_size, lr_size, 3))))

    if config.loss.gan:
        return gan_task(config, model, g_init, train_data)

    def loss_fn(params, batch, rng, mutable=None):
        lr, hr = batch["lr"] / 255.0, batch["hr"] / 255.0
        out, upd = apply_g(model, {"params": params, **(mutable or {})}, lr, train=True)
        loss = pixel_loss(config.loss.pixel, out, hr)
        mse = jnp.mean(jnp.square(jnp.clip(out, 0, 1) - hr), axis=(1, 2, 3))
        aux = {"psnr": jnp.mean(-10 * jnp.log10(mse))}
        return (loss, (aux, upd)) if mutable is not None else (loss, aux)

    init_state, train_step = supervised(
        loss_fn,
        optim.adam(schedule(config), b1=0.9, b2=0.999),
        init_fn=g_init,
        has_mutable=_has_bn(config),
        **step_options(config.train),
    )
    return Task(init_state, train_step, train_data)


def make_discriminator(config):
    d = config.disc
    if d.arch == "vgg128":
        return VGGStyleDiscriminator(num_feat=d.num_feat, input_size=config.data.hr_size)
    return SRGANDiscriminator(num_feat=d.num_feat, input_size=config.data.hr_size)


def perceptual_fn(config):
    """`loss(sr, hr)`: ESRGAN's (L1, VGG19 conv5_4 before ReLU) or SRGAN's (MSE, relu5_4 / 12.75)
    perceptual loss on ImageNet-normalised inputs, VGG19 weights from `loss.vgg_weights`."""
    esrgan = config.loss.perceptual == "esrgan"
    vgg = VGGFeatures(layers=("conv5_4" if esrgan else "relu5_4",), depth=19)
    if not os.path.isfile(config.loss.vgg_weights):
        raise cli.MissingInputError(
            f"--config.loss.vgg_weights={config.loss.vgg_weights!r} is not a file: expected "
            "torchvision-layout VGG19 weights (features.N.weight), .pth or .safetensors"
        )
    params = load_vgg(config.loss.vgg_weights, vgg)
    features = functools.partial(vgg.apply, {"params": params})
    loss = esrgan_perceptual_loss if esrgan else srgan_content_loss
    return lambda sr, hr: loss(features, sr, hr)


def gan_task(config, model, g_init, train_data) -> Task:
    """Stage 2 (SRGAN / ESRGAN): D and G alternate, one update each per step
    (`jaxdl.train.adversarial`); D (BatchNorm, train mode) sees real and fake batches
    separately, as BasicSR runs it."""
    disc, lo = make_discriminator(config), config.loss
    percep = perceptual_fn(config) if lo.perceptual_weight else None
    ragan = lo.gan == "ragan"

    def run_d(d_vars, x):
        logits, upd = disc.apply(d_vars, x, train=True, mutable=["batch_stats"])
        return logits, dict(upd)

    def d_loss_fn(d_vars, g_vars, batch, rng):
        lr, hr = batch["lr"] / 255.0, batch["hr"] / 255.0
        fake = jax.lax.stop_gradient(apply_g(model, g_vars, lr)[0])
        real_logits, upd = run_d(d_vars, hr)
        fake_logits, upd = run_d({**d_vars, **upd}, fake)
        if ragan:
            loss = gan_losses.d_relativistic_average(real_logits, fake_logits)
        else:
            loss = gan_losses.d_minimax(real_logits, fake_logits)
        aux = {"real_logit": jnp.mean(real_logits), "fake_logit": jnp.mean(fake_logits)}
        return loss, (aux, {"d": upd})

    def g_loss_fn(g_vars, d_vars, batch, rng):
        lr, hr = batch["lr"] / 255.0, batch["hr"] / 255.0
        sr, g_upd = apply_g(model, g_vars, lr, train=True)
        fake_logits, _ = run_d(d_vars, sr)
        if ragan:
            real_logits = jax.lax.stop_gradient(run_d(d_vars, hr)[0])
            adv = gan_losses.g_relativistic_average(real_logits, fake_logits)
        else:
            adv = gan_losses.g_nonsaturating(fake_logits)
        pix = pixel_loss(lo.pixel, sr, hr)
        loss = lo.pixel_weight * pix + lo.gan_weight * adv
        aux = {"pixel": pix, "adversarial": adv}
        if percep is not None:
            aux["perceptual"] = percep(sr, hr)
            loss = loss + lo.perceptual_weight * aux["perceptual"]
        return loss, (aux, {"g": g_upd} if g_upd else {})

    hr_size = config.data.hr_size
    init_state, train_step = adversarial(
        g_loss_fn,
        d_loss_fn,
        optim.adam(schedule(config), b1=0.9, b2=0.999),
        optim.adam(schedule(config, config.disc.learning_rate), b1=0.9, b2=0.999),
        g_init=g_init,
        d_init=lambda rng: disc.init(rng, jnp.zeros((1, hr_size, hr_size, 3))),
        has_mutable=True,
        **step_options(config.train),
    )
    return Task(init_state, train_step, train_data)


@functools.cache
def _forward(model):
    """One compiled inference function per architecture (the α sweep shares it)."""
    return jax.jit(lambda variables, x: apply_g(model, variables, x)[0])


def make_upscaler(config, variables, tile: int = 0, overlap: int = 16, tile_batch: int = 4):
    """`up(lr float (h, w, 3) in [0, 1], progress=False) -> (4h, 4w, 3)`: whole images, or
    tiles of `tile` LR pixels blended over `overlap` (`jaxdl.restoration.tiled_apply`)."""
    forward = _forward(make_model(config))
    variables = jax.tree.map(jnp.asarray, variables)

    def fn(x):
        return forward(variables, x)

    def up(lr: np.ndarray, progress: bool = False) -> np.ndarray:
        if not tile:
            return np.asarray(fn(jnp.asarray(lr[None], jnp.float32)))[0]
        return tiled_apply(
            lambda t: np.asarray(fn(jnp.asarray(t, jnp.float32))),
            lr,
            tile=tile,
            overlap=overlap,
            scale=SCALE,
            batch_size=tile_batch,
            progress=progress,
        )

    return up


def load_variables(config, workdir: str) -> dict:
    """G's variables from `config.pretrained` (BasicSR / ESRGAN .pth, .safetensors) or the
    workdir's last checkpoint (EMA params when kept)."""
    if not config.pretrained:
        return stage_one_variables(config, workdir)
    if not os.path.isfile(config.pretrained):
        raise cli.MissingInputError(
            f"--config.pretrained={config.pretrained!r} is not a file: expected a BasicSR or "
            "ESRGAN checkpoint (.pth, read with weights_only=True) or a .safetensors copy"
        )
    from jaxdl.convert import basicsr
    from jaxdl.convert.loading import load_state_dict

    what = f"--config.pretrained={config.pretrained!r}"
    try:
        sd = basicsr.rename_esrgan_keys(basicsr.unwrap_basicsr(load_state_dict(config.pretrained)))
        if "upconv1.weight" in sd:  # BasicSR MSRResNet
            found, arch = basicsr.msrresnet_config_from_state_dict(sd), "msrresnet"
            scale = found["upscale"]
        else:
            found, arch = basicsr.rrdbnet_config_from_state_dict(sd), "rrdbnet"
            scale = found["scale"]
        if scale != SCALE or found["in_channels"] != 3 or found["out_channels"] != 3:
            raise ValueError(
                f"it is a x{scale} {arch} with {found['in_channels']} input channels; this "
                f"experiment upscales RGB images x{SCALE}"
            )
        config.model.arch, config.model.num_feat = arch, found["num_feat"]
        config.model.num_block = found["num_block"]
        config.model.num_grow_ch = found.get("num_grow_ch", config.model.num_grow_ch)
        config.model.residual = "auto"  # as published (the quick presets' bicubic skip is not)
        convert = basicsr.rrdbnet_params_from_basicsr
        if arch == "msrresnet":
            convert = basicsr.msrresnet_params_from_basicsr
        params = convert(sd, make_model(config))
    except (KeyError, ValueError) as e:
        raise cli.ConfigError(f"{what}: {e}") from None
    print(f"{what}: {arch} with {config.model.num_block} blocks of {config.model.num_feat} ch")
    return {"params": params}


def test_images(config) -> tuple[dict[str, np.ndarray], list[str]]:
    """{name: HR uint8 cropped to a multiple of 4} and notes (conversions, crops)."""
    if config.data.test_dir:
        raw, notes = read_folder(config.data.test_dir)
    else:
        raw, notes = {k: hr for k, (hr, _) in photo_pairs("test", SCALE).items()}, []
    out = {}
    for name, image in raw.items():
        if config.eval.max_size:
            n, (h, w) = config.eval.max_size, image.shape[:2]
            top, left = max(0, (h - n) // 2), max(0, (w - n) // 2)
            image = image[top : top + n, left : left + n]
        hr = modcrop(image, SCALE)
        if hr.shape != image.shape:
            notes.append(f"{name}: HR {image.shape[:2]} cropped to {hr.shape[:2]} (multiple of 4)")
        out[name] = hr
    return out, notes


def evaluate(config, workdir: str, upscalers: dict) -> dict:
    """Bicubic and each `{name: up}` on the test images; results.json/.md, comparison.png."""
    hrs, notes = test_images(config)
    table, crops = {"bicubic": {}, **{m: {} for m in upscalers}}, {}
    top, left, size = config.eval.crop
    first = next(iter(hrs))
    for name, hr in tqdm(hrs.items(), desc="evaluating", unit="image"):
        lr = bicubic_lr(hr, SCALE)
        outs = {"bicubic": bicubic_upscale(lr, SCALE)}
        for m, up in upscalers.items():
            outs[m] = up(lr.astype(np.float32) / 255.0)
        for m, out in outs.items():
            table[m][name] = sr_scores(out, hr, crop_border=SCALE)
        if name == first:
            t, lf = min(top, hr.shape[0] - size), min(left, hr.shape[1] - size)
            t, lf = max(0, t) // SCALE * SCALE, max(0, lf) // SCALE * SCALE
            box = (slice(t, t + size), slice(lf, lf + size))
            lr_crop = lr[t // SCALE : (t + size) // SCALE, lf // SCALE : (lf + size) // SCALE]
            crops["lr_nearest"] = np.repeat(np.repeat(lr_crop, SCALE, 0), SCALE, 1)
            for m, out in outs.items():
                crops[m] = (np.clip(out[box], 0, 1) * 255).round().astype(np.uint8)
            crops["hr"] = hr[box]
    results = {
        "mean": {m: mean_scores(per) for m, per in table.items()},
        "per_image": table,
        "test_images": list(hrs),
        "notes": notes,
        "protocol": "x4; HR cropped to a multiple of 4; LR = MATLAB bicubic rounded to 8 bits; "
        "outputs rounded to 8 bits; PSNR/SSIM on BT.601 Y and RGB, crop_border 4, per image "
        "then mean",
    }
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(markdown_table(results))
    order = [k for k in crops if k != "hr"] + ["hr"]
    strip = np.stack([crops[k] for k in order])
    images.save_grid(strip, os.path.join(workdir, "comparison.png"), nrow=len(strip))
    with open(os.path.join(workdir, "comparison.txt"), "w") as f:
        f.write(f"comparison.png ({first}), left to right: " + ", ".join(order) + "\n")
    return results


def markdown_table(results: dict) -> str:
    names = results["test_images"]
    head = (
        "| method | " + " | ".join(names) + " | mean PSNR-Y / SSIM-Y | mean PSNR / SSIM (RGB) |\n"
    )
    head += "|---|" + "---|" * (len(names) + 2) + "\n"
    rows = []
    for m, per in results["per_image"].items():
        mean = results["mean"][m]
        cells = [f"{per[n]['psnr_y']:.2f} / {per[n]['ssim_y']:.4f}" for n in names]
        rows.append(
            f"| {m} | " + " | ".join(cells) + f" | {mean['psnr_y']:.2f} / {mean['ssim_y']:.4f} | "
            f"{mean['psnr_rgb']:.2f} / {mean['ssim_rgb']:.4f} |"
        )
    return head + "\n".join(rows) + "\n"


def interpolation_sweep(config, workdir: str) -> dict:
    """PSNR-Y / SSIM-Y over α for θ = (1-α)·θ_PSNR + α·θ_GAN (ESRGAN's network interpolation);
    writes results.json, results.md, interp.png (the curve) and comparison.png."""
    ip = config.interp
    if not ip.psnr_workdir or not ip.gan_workdir:
        raise cli.ConfigError(
            "the interp presets need --config.interp.psnr_workdir=DIR (an esrnet/srresnet run) "
            "and --config.interp.gan_workdir=DIR (its esrgan/srgan run)"
        )
    a, b = (stage_one_variables(config, w) for w in (ip.psnr_workdir, ip.gan_workdir))
    ups = {
        f"alpha={alpha:g}": make_upscaler(config, optim.interpolate(a, b, alpha))
        for alpha in ip.alphas
    }
    results = evaluate(config, workdir, ups)
    curve = [(alpha, results["mean"][f"alpha={alpha:g}"]) for alpha in ip.alphas]
    results["curve"] = [{"alpha": alpha, **s} for alpha, s in curve]
    psnrs = [s["psnr_y"] for _, s in curve]
    results["monotone_decreasing"] = bool(
        all(x >= y for x, y in zip(psnrs[:-1], psnrs[1:], strict=True))
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(list(ip.alphas), psnrs, "o-", label="interpolated")
    ax.axhline(results["mean"]["bicubic"]["psnr_y"], color="grey", ls="--", label="bicubic")
    ax.set(xlabel="α (0: PSNR model, 1: GAN model)", ylabel="PSNR-Y (dB)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(workdir, "interp.png"), dpi=120)
    plt.close(fig)
    return results


def upscale_files(config, workdir: str) -> list[str]:
    u = config.upscale
    pairs = cli.image_file_pairs(u.input, u.output, "upscale")
    variables = load_variables(config, workdir)
    up = make_upscaler(config, variables, u.tile, u.overlap, u.tile_batch)
    return cli.map_image_files(pairs, lambda x, i: up(x, progress=True))


def main(argv: list[str] | None = None):
    config, args = cli.parse(
        argv,
        get_config,
        name="esrgan_sr",
        presets=PRESETS,
        modes=MODES,
        aliases={"input": "upscale.input", "output": "upscale.output"},
    )
    cli.init_distributed(args)
    _check(config)
    if args.mode == "upscale":
        return upscale_files(config, args.workdir)
    t0 = time.time()
    if config.preset == "interp":
        results = interpolation_sweep(config, args.workdir)
    else:
        if args.mode == "train":
            fit(build(config), config, args.workdir)
        train_seconds = time.time() - t0
        up = make_upscaler(config, load_variables(config, args.workdir), config.eval.tile)
        name = config.model.arch if not config.pretrained else "pretrained"
        results = evaluate(config, args.workdir, {name: up})
        if args.mode == "train":
            results["train_seconds"] = train_seconds
    results["gain_over_bicubic_db"] = {
        m: s["psnr_y"] - results["mean"]["bicubic"]["psnr_y"] for m, s in results["mean"].items()
    }
    if jax.process_index() == 0:
        cli.write_results(args.workdir, results, echo=False)
        print(markdown_table(results))
    return results


if __name__ == "__main__":
    cli.run(main)
