"""Image denoising: SUNet (Fan et al. 2022; SPEC RES-1) and conditional diffusion (DIF-5),
against classical denoisers on held-out real photos.

    python -m experiments.denoise --preset sunet_quick --workdir workdirs/denoise_sunet
    python -m experiments.denoise --preset diffusion_quick --workdir workdirs/denoise_diffusion
    python -m experiments.denoise --mode eval --preset sunet_quick --workdir workdirs/denoise_sunet
    python -m experiments.denoise --mode denoise --preset sunet_quick \
        --workdir workdirs/denoise_sunet --input noisy.png --output clean.png
    python -m experiments.denoise --mode denoise --config.pretrained=model_bestPSNR.pth \
        --input photos/ --output denoised/ --config.denoise.add_sigma=25

Presets: `sunet` (the paper: DIV2K HR through TFDS, random 256² crops, blind AWGN σ = round(U[5,
50]), L1, Adam 2e-4 with warm-up then cosine to 1e-6, batch 4), `sunet_quick` (a small SUNet on
64² crops of the photos bundled in scikit-image / scikit-learn / matplotlib, `jaxdl.data.photos`),
`diffusion_quick` (DIF-5: ε_θ(concat[x_t, noisy], t) with a small U-Net, DDIM sampling).
Evaluation: full held-out photos (chelsea, coffee, grace_hopper), AWGN σ/255 at σ = 10, 30, 50
with fixed seeds, no clipping before the denoisers; PSNR (RGB) and SSIM (RGB, channel mean) of
outputs clipped to [0, 1], for the noisy input, non-local means, TV, wavelet, BM3D (if the
optional `bm3d` package is installed) and the model, tiled with overlap (`jaxdl.restoration`).
Writes results.json, a markdown table (results.md) and comparison.png (one crop across methods).
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from jaxdl import cli, data, diffusion, images, optim
from jaxdl.data.photos import PhotoCrops, photos
from jaxdl.data.tfds_source import TfdsImages
from jaxdl.diffusion.conditional import CondEps, conditional_loss, sample_conditional
from jaxdl.metrics.image_quality import psnr
from jaxdl.metrics.ssim import ssim
from jaxdl.models.sunet import SUNet, init_params
from jaxdl.models.unet import DDPMUNet
from jaxdl.restoration import classical, tiled_apply
from jaxdl.restoration.noise import add_noise, blind_sigmas, check_sigma, noisy_numpy
from jaxdl.train import Task, engine_config, fit, load_params, step_options, supervised

PRESETS = ("sunet", "sunet_quick", "diffusion_quick")
MODES = ("train", "eval", "denoise")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.pretrained = ""  # official SUNet checkpoint (.pth / .safetensors) instead of the workdir
    c.data = ml_collections.ConfigDict()
    c.data.dataset = "tfds:div2k/bicubic_x4"  # "photos" (embedded) or a TFDS set of HR images
    c.data.image_key = "hr"  # the TFDS feature holding the clean image
    c.data.data_dir = ""  # TFDS data dir ("": $TFDS_DATA_DIR or ~/tensorflow_datasets)
    c.data.crop_size = 256
    c.data.sigma_range = (5.0, 50.0)  # blind training: σ = round(U[low, high]), 0-255 scale
    c.data.num_workers = 0

    c.model = ml_collections.ConfigDict()
    c.model.kind = "sunet"  # "sunet" | "diffusion"
    c.model.embed_dim = 96
    c.model.depths = (8, 8, 8, 8)
    c.model.num_heads = (8, 8, 8, 8)
    c.model.window_size = 8
    c.model.patch_size = 4
    c.model.qk_scale = 8.0  # the official configuration's QK_SCALE (not head_dim^-1/2)
    c.model.drop_path_rate = 0.1
    c.model.global_residual = False  # True: output = noisy + SUNet(noisy) (not in the paper)
    c.model.unet_ch = 32  # diffusion: the conditional U-Net (in 6 = noisy x_t || degraded)
    c.model.unet_ch_mult = (1, 2, 2)
    c.model.unet_res_blocks = 1
    c.model.unet_attn_resolutions = ()

    c.diffusion = ml_collections.ConfigDict()
    c.diffusion.num_timesteps = 1000
    c.diffusion.beta_schedule = "linear"
    c.diffusion.sample_steps = 20  # DDIM steps at evaluation
    c.diffusion.clip_x0 = True  # clip x̂_0 to [-1, 1] in each DDIM step (DIF-5 itself does not)

    c.train = engine_config(
        total_steps=500_000, batch_size=4, log_every=100, eval_every=0, checkpoint_every=5000
    )
    c.train.learning_rate = 2e-4
    c.train.min_learning_rate = 1e-6  # cosine floor
    c.train.warmup_steps = 7500  # about 3 of the official epochs' worth of steps

    c.eval = ml_collections.ConfigDict()
    c.eval.sigmas = (10.0, 30.0, 50.0)
    c.eval.tile = 256  # tiles for whole-image inference (a size the model trained on)
    c.eval.overlap = 64
    c.eval.tile_batch = 4
    c.eval.classical = True  # also run the classical baselines
    c.eval.crop = (120, 170, 96)  # comparison.png: top, left, size on the first held-out photo
    c.eval.max_size = 0  # 0: whole photos; N: their central N x N crops (a fast smoke test)

    c.denoise = ml_collections.ConfigDict()
    c.denoise.input = ""  # --input: an image file or a folder of images
    c.denoise.output = ""  # --output: a file (for one input) or a folder
    c.denoise.add_sigma = 0.0  # 0: the input is already noisy; S in (0, 255]: add AWGN σ=S first

    if preset in ("sunet_quick", "diffusion_quick"):
        c.data.dataset = "photos"
        c.data.crop_size = 64
        c.model.embed_dim = 32
        c.model.depths = (2, 2, 2, 2)
        c.model.num_heads = (2, 2, 4, 4)
        c.model.window_size = 4
        c.model.drop_path_rate = 0.0
        c.model.global_residual = True  # the small model learns the noise, not the image
        c.train.total_steps = 2000
        c.train.batch_size = 8
        c.train.log_every = 50
        c.train.checkpoint_every = 500
        c.train.learning_rate = 1e-3
        c.train.warmup_steps = 100
        c.eval.tile = 64
        c.eval.overlap = 16
        c.eval.tile_batch = 16
    if preset == "diffusion_quick":
        c.model.kind = "diffusion"
        c.train.learning_rate = 2e-4
        c.train.total_steps = 600  # ~1.4 steps/s on 2 idle cores; sampling dominates the eval
    elif preset not in (None, "sunet", "sunet_quick"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def make_sunet(config) -> SUNet:
    m = config.model
    return SUNet(
        m.embed_dim,
        tuple(m.depths),
        tuple(m.num_heads),
        m.window_size,
        m.patch_size,
        qk_scale=m.qk_scale or None,
        drop_path_rate=m.drop_path_rate,
    )


def make_cond_eps(config) -> CondEps:
    m = config.model
    unet = DDPMUNet(
        ch=m.unet_ch,
        ch_mult=tuple(m.unet_ch_mult),
        num_res_blocks=m.unet_res_blocks,
        attn_resolutions=tuple(m.unet_attn_resolutions),
        dropout=0.0,
        in_ch=6,
        out_ch=3,
        num_groups=min(32, m.unet_ch // 4),
    )
    return CondEps(unet)


def _check(config) -> None:
    if config.model.kind not in ("sunet", "diffusion"):
        raise cli.ConfigError(
            f"model.kind must be 'sunet' or 'diffusion', got {config.model.kind!r}"
        )
    lo, hi = config.data.sigma_range
    for s in (lo, hi, *config.eval.sigmas):
        try:
            check_sigma(s)
        except ValueError as e:
            raise cli.ConfigError(str(e)) from None
    if lo > hi:
        raise cli.ConfigError(f"data.sigma_range {config.data.sigma_range}: low > high")
    if not 0 <= config.train.warmup_steps < config.train.total_steps:
        raise cli.ConfigError(
            f"train.warmup_steps={config.train.warmup_steps} must be in [0, train.total_steps="
            f"{config.train.total_steps})"
        )


def training_source(config):
    d = config.data
    if d.dataset == "photos":
        return PhotoCrops(d.crop_size, split="train", seed=config.seed)
    try:
        hr = TfdsImages(d.dataset.removeprefix("tfds:"), "train", d.image_key, d.data_dir or None)
    except ValueError as e:
        raise cli.ConfigError(f"--config.data.dataset={d.dataset!r}: {e}") from None
    return PhotoCrops(d.crop_size, images=hr, length=100 * len(hr), seed=config.seed)


def build(config) -> Task:
    _check(config)
    size = config.data.crop_size
    train = data.make_pipeline(
        training_source(config),
        global_batch_size=config.train.batch_size,
        seed=config.seed,
        num_workers=config.data.num_workers,
    )
    lo, hi = config.data.sigma_range

    def degrade(batch, rng):
        clean = batch["image"].astype(jnp.float32) / 255.0
        k_sigma, k_noise = jax.random.split(rng)
        sigmas = blind_sigmas(k_sigma, clean.shape[0], lo, hi)
        return clean, add_noise(clean, sigmas, k_noise)

    if config.model.kind == "sunet":
        model = make_sunet(config)

        def loss_fn(params, batch, rng):
            k_data, k_drop = jax.random.split(rng)
            clean, noisy = degrade(batch, k_data)
            out = model.apply({"params": params}, noisy, train=True, rngs={"dropout": k_drop})
            out = out + noisy if config.model.global_residual else out
            loss = jnp.mean(jnp.abs(out - clean))
            return loss, {"psnr": jnp.mean(psnr(jnp.clip(out, 0, 1), clean))}

        def init_fn(rng):
            return init_params(model, rng, size)
    else:
        cond_eps = make_cond_eps(config)
        schedule = _schedule(config)

        def loss_fn(params, batch, rng):
            k_data, k_diff = jax.random.split(rng)
            clean, noisy = degrade(batch, k_data)

            def eps(x_t, cond, t):
                return cond_eps.apply({"params": params}, x_t, cond, t)

            return conditional_loss(schedule, eps, clean * 2 - 1, noisy * 2 - 1, k_diff), {}

        def init_fn(rng):
            x = jnp.zeros((1, size, size, 3))
            return cond_eps.init(rng, x, x, jnp.zeros((1,), jnp.int32))["params"]

    t = config.train
    lr = optim.warmup_cosine(t.learning_rate, t.warmup_steps, t.total_steps, t.min_learning_rate)
    tx = optim.adam(lr, b1=0.9, b2=0.999)
    init_state, train_step = supervised(loss_fn, tx, init_fn=init_fn, **step_options(config.train))
    return Task(init_state, train_step, train)


def _schedule(config):
    return diffusion.make_schedule(config.diffusion.beta_schedule, config.diffusion.num_timesteps)


def _check_same_model(config, workdir: str) -> None:
    """The workdir's `config.json` must describe the model we are about to build: a changed
    `model.*` key (say `global_residual`) would otherwise give a silently wrong result."""
    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        return
    with open(path) as f:
        saved = json.load(f).get("model", {})
    ours = json.loads(config.model.to_json_best_effort())
    paper = json.loads(get_config().model.to_json_best_effort())  # keys older workdirs lack
    diff = [
        f"{k}: workdir {saved.get(k, paper[k])!r}, now {ours[k]!r}"
        for k in ours
        if saved.get(k, paper[k]) != ours[k]
    ]
    if diff:
        raise cli.ConfigError(
            f"{workdir} was trained with another model configuration ({'; '.join(diff)}); use "
            "the preset and --config.model.* overrides it was trained with"
        )


def load_denoiser(config, workdir: str):
    """`denoise(noisy (H, W, 3) float in [0, 1]) -> (H, W, 3)`, tiled, from the workdir's last
    checkpoint or `config.pretrained` (an official SUNet checkpoint)."""
    ev = config.eval
    kind = "sunet" if config.pretrained else config.model.kind
    if config.pretrained:
        if not os.path.isfile(config.pretrained):
            raise cli.MissingInputError(
                f"--config.pretrained={config.pretrained!r} is not a file: expected the official "
                "SUNet checkpoint (.pth, read with weights_only=True) or a .safetensors copy"
            )
        from jaxdl.convert.sunet import load_sunet

        model, params = load_sunet(config.pretrained)
    else:
        cli.require_checkpoints(
            workdir, "train it first (--mode train) or pass --config.pretrained"
        )
        _check_same_model(config, workdir)
        params = load_params(workdir)
        model = make_sunet(config) if kind == "sunet" else make_cond_eps(config)
    if kind == "sunet":
        residual = config.model.global_residual and not config.pretrained

        @jax.jit
        def tile_fn(x):
            out = model.apply({"params": params}, x)
            return out + x if residual else out
    else:
        schedule, key = _schedule(config), jax.random.key(config.seed)

        @jax.jit
        def tile_fn(x):
            def eps(x_t, cond, t):
                return model.apply({"params": params}, x_t, cond, t)

            out = sample_conditional(
                eps,
                schedule,
                x * 2 - 1,
                key,
                num_steps=config.diffusion.sample_steps,
                clip_x0=config.diffusion.clip_x0,
            )
            return (out + 1) / 2

    def denoise(noisy: np.ndarray, progress: bool = False) -> np.ndarray:
        return tiled_apply(
            lambda t: np.asarray(tile_fn(jnp.asarray(t))),
            noisy,
            tile=ev.tile,
            overlap=ev.overlap,
            batch_size=ev.tile_batch,
            progress=progress,
        )

    return denoise


def _center(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[top : top + size, left : left + size]


def _scores(out: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    out = np.clip(out, 0.0, 1.0)[None].astype(np.float32)
    ref = clean[None].astype(np.float32)
    return float(psnr(out, ref)[0]), float(ssim(out, ref)[0])


def evaluate(config, workdir: str, denoise=None) -> dict:
    """The σ table on the held-out photos; writes results.json, results.md, comparison.png."""
    _check(config)
    test = {k: v.astype(np.float32) / 255.0 for k, v in photos("test").items()}
    if config.eval.max_size:
        test = {k: _center(v, config.eval.max_size) for k, v in test.items()}
    methods: dict = {"noisy": lambda x, s: x}
    if config.eval.classical:
        train_clean = [v.astype(np.float32) / 255.0 for v in photos("train").values()]
        tv = {
            s: classical.tune_tv_weight([im[:256, :256] for im in train_clean], s)
            for s in config.eval.sigmas
        }
        methods.update(classical.classical_denoisers(tv))
    model_name = "sunet" if config.pretrained else config.model.kind
    if denoise is not None:
        methods[model_name] = lambda x, s: denoise(x)
    table, seconds, crops = {}, {}, {}
    top, left, size = config.eval.crop
    jobs = [(s, n, m) for s in config.eval.sigmas for n in test for m in methods]
    for sigma, name, method in tqdm(jobs, desc="evaluating", unit="image"):
        clean = test[name]
        noisy = noisy_numpy(clean, sigma, seed=int(sigma) * 1000 + sorted(test).index(name))
        t0 = time.time()
        out = methods[method](noisy, sigma)
        seconds.setdefault(method, []).append(time.time() - t0)
        p, s = _scores(out, clean)
        table.setdefault(str(sigma), {}).setdefault(method, {})[name] = {"psnr": p, "ssim": s}
        if (
            sigma == sorted(config.eval.sigmas)[len(config.eval.sigmas) // 2]
            and name == sorted(test)[0]
        ):
            crops[method] = np.clip(out[top : top + size, left : left + size], 0, 1)
            crops["clean"] = clean[top : top + size, left : left + size]
    summary = {
        sigma: {
            m: {
                "psnr": float(np.mean([v["psnr"] for v in per.values()])),
                "ssim": float(np.mean([v["ssim"] for v in per.values()])),
            }
            for m, per in rows.items()
        }
        for sigma, rows in table.items()
    }
    results = {
        "mean": summary,
        "per_image": table,
        "seconds_per_image": {m: float(np.mean(v)) for m, v in seconds.items()},
        "test_photos": sorted(test),
        "protocol": "AWGN sigma/255 on [0,1], unclipped input; "
        "PSNR/SSIM (RGB) of outputs clipped to [0,1]",
    }
    cli.write_results(workdir, results, echo=False)
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(markdown_table(summary))
    order = ["clean", *methods]
    strip = np.stack([crops[m] for m in order if m in crops])
    images.save_grid(
        (strip * 255).round().astype(np.uint8),
        os.path.join(workdir, "comparison.png"),
        nrow=len(strip),
    )
    with open(os.path.join(workdir, "comparison.txt"), "w") as f:
        f.write(
            "comparison.png, left to right: " + ", ".join(m for m in order if m in crops) + "\n"
        )
    return results


def markdown_table(summary: dict) -> str:
    sigmas = list(summary)
    methods = list(summary[sigmas[0]])
    head = "| method | " + " | ".join(f"σ={float(s):g} PSNR / SSIM" for s in sigmas) + " |\n"
    head += "|---|" + "---|" * len(sigmas) + "\n"
    rows = [
        f"| {m} | "
        + " | ".join(f"{summary[s][m]['psnr']:.2f} / {summary[s][m]['ssim']:.4f}" for s in sigmas)
        + " |"
        for m in methods
    ]
    return head + "\n".join(rows) + "\n"


def denoise_files(config, workdir: str) -> list[str]:
    d = config.denoise
    if d.add_sigma:
        try:
            check_sigma(d.add_sigma)
        except ValueError as e:
            raise cli.ConfigError(f"--config.denoise.add_sigma: {e}") from None
    pairs = cli.image_file_pairs(d.input, d.output, "denoise")
    denoise = load_denoiser(config, workdir)

    def run(x, i):
        if d.add_sigma:
            x = noisy_numpy(x, d.add_sigma, seed=config.seed + i)
        return denoise(x, progress=True)

    return cli.map_image_files(pairs, run)


def main(argv: list[str] | None = None):
    config, args = cli.parse(
        argv,
        get_config,
        name="denoise",
        presets=PRESETS,
        modes=MODES,
        aliases={"input": "denoise.input", "output": "denoise.output"},
    )
    cli.init_distributed(args)
    _check(config)
    if args.mode == "denoise":
        return denoise_files(config, args.workdir)
    if args.mode == "train":
        t0 = time.time()
        fit(build(config), config, args.workdir)
        train_seconds = time.time() - t0
    denoise = load_denoiser(config, args.workdir)
    results = evaluate(config, args.workdir, denoise)
    if args.mode == "train":
        results["train_seconds"] = train_seconds
        cli.write_results(args.workdir, results, echo=False)
    if jax.process_index() == 0:
        print(markdown_table(results["mean"]))
    return results


if __name__ == "__main__":
    cli.run(main)
