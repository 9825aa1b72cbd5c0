"""CycleGAN (Zhu et al. 2017, arXiv:1703.10593; SPEC GAN-5): unpaired MNIST <-> scikit-learn digits.

Domain A is the embedded MNIST-5k (28x28, centre 24x24 crop: its 4-pixel empty border dropped,
the digits then fill the frame as the 8x8 digits do), domain B scikit-learn's 8x8 digits (16
grey levels); both resized to 16x16 (antialiased bilinear) and scaled to [-1, 1]. Two ResNet
generators (A->B "ab", B->A "ba"), two PatchGANs ("a", "b"), LSGAN losses, L1 cycle loss with
λ_cyc = 10, identity loss λ_id = 0.5·λ_cyc, a pool of the 50 last fakes per discriminator, Adam
2e-4 (β1 0.5), learning rate constant for the first half and linearly decayed to 0 over the
second. Each step (`jaxdl.train.adversarial`) updates both discriminators on pooled fakes of the
current generators, then both generators (the official code does G first, then D on the same
fakes); the pools live in the discriminators' state. Labels are never used in training, and
the sources' fixed train/test splits keep test images out of it. Scores, per direction on the
test split: the share of translated images whose label a classifier trained on the target domain
(SimpleCNN at 16x16, trained here first) keeps, the cycle L1 in [-1, 1] units and the Fréchet
distance on that classifier's features; the same for the untranslated inputs as the baseline.
    python -m experiments.cyclegan_digits --preset quick
`quick` (2,000 steps of batch 8, smaller networks; about 570 CPU-seconds) measured 53.8% labels
kept MNIST->digits and 68.5% digits->MNIST (seed 0). `cyclegan` (the default) is the paper's
recipe: batch 1, 200 epochs of the 4,000 MNIST images, 6 blocks. Writes results.json and
translations.png (input / translated / reconstructed rows for both directions).
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, data, gan, images
from jaxdl.metrics import generative
from jaxdl.models.cnn import SimpleCNN
from jaxdl.models.cyclegan import PatchDiscriminator, ResnetGenerator
from jaxdl.train import Task, adversarial, engine_config, fit, step_options, supervised

PRESETS = ("cyclegan", "quick")
DOMAINS = {"a": "mnist5k", "b": "digits"}
DIRECTIONS = {"mnist_to_digits": ("a", "ab", "ba", "b"), "digits_to_mnist": ("b", "ba", "ab", "a")}


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data = ml_collections.ConfigDict()
    c.data.image_size = 16  # both domains are resized to this
    c.data.mnist_crop = 24  # centre crop of MNIST's 28x28 before resizing (28: none)
    c.model = ml_collections.ConfigDict()
    c.model.g_base = 64  # ResNet generator widths base, 2·base, 4·base
    c.model.g_blocks = 6  # the paper's 128x128 generator
    c.model.g_downsampling = 2  # 16 -> 4 at the blocks (256 -> 64 in the paper)
    c.model.d_base = 64
    c.model.d_layers = 2  # 2 stride-2 layers: 2x2 logits at 16x16 (3, the 70x70 patch, leave none)
    c.train = engine_config(
        total_steps=800_000,
        batch_size=1,
        log_every=1000,
        eval_every=50_000,
        checkpoint_every=10_000,
    )  # 200 epochs of max(4000, 1438) images, as the paper's 100 + 100
    c.train.learning_rate = 2e-4
    c.train.b1, c.train.b2 = 0.5, 0.999  # Adam betas
    c.train.decay_fraction = 0.5  # last share of the steps with linear decay to 0
    c.train.cycle_weight = 10.0  # λ_cyc
    c.train.identity_weight = 0.5  # λ_id / λ_cyc (0: no identity loss)
    c.train.pool_size = 50  # fake images kept per discriminator (0: no pool)
    c.eval = ml_collections.ConfigDict()
    c.eval.classifier_steps = 600  # SimpleCNN per domain, batch 128, Adam 1e-3 cosine
    c.eval.batch_size = 500
    if preset == "quick":
        c.model.g_base, c.model.g_blocks, c.model.d_base = 16, 3, 32
        c.train.update(total_steps=2000, batch_size=8, log_every=100, eval_every=0)
        c.train.checkpoint_every = 500
    elif preset not in (None, "cyclegan"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def domain_data(domain: str, split: str, config) -> data.ArraySource:
    """The domain's split as a uint8 (N, S, S, 1) source: MNIST cropped, both resized to S."""
    src = data.get_source(DOMAINS[domain], split)
    x = src.images.astype(np.float32)
    if domain == "a":
        crop = config.data.mnist_crop
        if crop not in range(2, 29, 2):
            raise cli.ConfigError(f"config.data.mnist_crop must be even in [2, 28], got {crop!r}")
        o = (28 - crop) // 2
        x = x[:, o : 28 - o, o : 28 - o]
    s = config.data.image_size
    x = jax.image.resize(x, (len(x), s, s, 1), "linear", antialias=True)
    x = np.clip(np.rint(np.asarray(x)), 0, 255).astype(np.uint8)
    return data.ArraySource(x, src.labels, num_classes=10, name=f"{src.name}@{s}")


def _scaled(src: data.ArraySource) -> np.ndarray:
    return src.images.astype(np.float32) / 127.5 - 1.0


class Unpaired:
    """Endless {"a": (B, S, S, 1), "b": (B, S, S, 1)} batches from two shuffled pipelines; the
    state of both is checkpointed."""

    def __init__(self, config):
        bs, seed = config.train.batch_size, config.seed
        self.its = {
            k: iter(
                data.make_pipeline(
                    domain_data(k, "train", config),
                    [data.ScaleToSymmetric()],
                    global_batch_size=bs,
                    seed=seed + i,
                )
            )
            for i, k in enumerate(DOMAINS)
        }

    def __iter__(self):
        return self

    def __next__(self):
        return {k: next(it)["image"] for k, it in self.its.items()}

    def get_state(self):
        return {k: it.get_state() for k, it in self.its.items()}

    def set_state(self, state):
        for k, it in self.its.items():
            it.set_state(state[k])


def _schedule(t):
    constant = t.total_steps - int(t.total_steps * t.decay_fraction)
    decay = optax.linear_schedule(t.learning_rate, 0.0, max(t.total_steps - constant, 1))
    return optax.join_schedules([optax.constant_schedule(t.learning_rate), decay], [constant])


def networks(config):
    m = config.model
    gen = ResnetGenerator(m.g_base, m.g_blocks, out_channels=1, num_downsampling=m.g_downsampling)
    return gen, PatchDiscriminator(m.d_base, m.d_layers)


def build(config: ml_collections.ConfigDict) -> Task:
    t, s = config.train, config.data.image_size
    if t.parallel != "jit":  # pmap would average the per-device pools
        raise cli.ConfigError("cyclegan_digits needs config.train.parallel='jit' (image pools)")
    gen, disc = networks(config)
    zeros = jnp.zeros((1, s, s, 1))

    def init_pair(module, names, rng):
        keys = jax.random.split(rng, len(names))
        return {k: module.init(r, zeros)["params"] for k, r in zip(names, keys, strict=True)}

    def d_init(rng):
        pool = gan.init_image_pool(t.pool_size, (s, s, 1))
        return {"params": init_pair(disc, tuple(DOMAINS), rng), "pool": {k: pool for k in DOMAINS}}

    def G(g, k, x):
        return gen.apply({"params": g[k]}, x)

    def D(d, k, x):
        return disc.apply({"params": d[k]}, x)

    def d_loss_fn(d_vars, g_vars, batch, rng):  # fakes from the pool, LSGAN ½((D(y)-1)² + D(ŷ)²)
        g, d, pools = g_vars["params"], d_vars["params"], d_vars["pool"]
        fakes = {"a": G(g, "ba", batch["b"]), "b": G(g, "ab", batch["a"])}
        losses, new_pools = {}, {}
        for i, k in enumerate(DOMAINS):
            fake, new_pools[k] = gan.query_image_pool(
                pools[k], jax.lax.stop_gradient(fakes[k]), jax.random.fold_in(rng, i)
            )
            losses[f"loss_{k}"] = gan.d_least_squares(D(d, k, batch[k]), D(d, k, fake))
        return sum(losses.values()), (losses, {"d": {"pool": new_pools}})

    def g_loss_fn(g_vars, d_vars, batch, rng):
        g, d, (a, b) = g_vars["params"], d_vars["params"], (batch["a"], batch["b"])
        fake_b, fake_a = G(g, "ab", a), G(g, "ba", b)
        aux = {
            "gan_ab": gan.g_least_squares(D(d, "b", fake_b), scale=1.0),
            "gan_ba": gan.g_least_squares(D(d, "a", fake_a), scale=1.0),
            "cycle_a": jnp.mean(jnp.abs(G(g, "ba", fake_b) - a)),
            "cycle_b": jnp.mean(jnp.abs(G(g, "ab", fake_a) - b)),
        }
        loss = aux["gan_ab"] + aux["gan_ba"] + t.cycle_weight * (aux["cycle_a"] + aux["cycle_b"])
        if t.identity_weight:
            aux["identity_a"] = jnp.mean(jnp.abs(G(g, "ba", a) - a))
            aux["identity_b"] = jnp.mean(jnp.abs(G(g, "ab", b) - b))
            loss += t.cycle_weight * t.identity_weight * (aux["identity_a"] + aux["identity_b"])
        return loss, (aux, {})

    tx = optax.adam(_schedule(t), b1=t.b1, b2=t.b2)
    init_state, step = adversarial(
        g_loss_fn,
        d_loss_fn,
        tx,
        tx,
        g_init=lambda rng: init_pair(gen, ("ab", "ba"), rng),
        d_init=d_init,
        has_mutable=True,
        **step_options(t),
    )
    return Task(init_state, step, Unpaired(config))


def train_classifier(config, domain: str, workdir: str):
    """SimpleCNN on the domain's 16x16 training split (resumable in `workdir`); returns
    (jitted images -> (logits, features), test accuracy)."""
    model = SimpleCNN(features=(32, 64), hidden=128, dropout=0.1)
    c = ml_collections.ConfigDict({"seed": config.seed})
    c.train = engine_config(
        total_steps=config.eval.classifier_steps,
        batch_size=128,
        log_every=100,
        checkpoint_every=0,
    )
    train = data.make_pipeline(
        domain_data(domain, "train", config),
        [data.ScaleToSymmetric()],
        global_batch_size=128,
        seed=config.seed,
    )

    def loss_fn(params, batch, rng):
        logits = model.apply({"params": params}, batch["image"], train=True, rngs={"dropout": rng})
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean(), {}

    s = config.data.image_size
    init_state, step = supervised(
        loss_fn,
        optax.adam(optax.cosine_decay_schedule(1e-3, c.train.total_steps)),
        init_fn=lambda rng: model.init(rng, jnp.zeros((1, s, s, 1)))["params"],
    )
    params = fit(Task(init_state, step, train), c, workdir).params
    features_fn = jax.jit(lambda x: model.apply({"params": params}, x, return_features=True))
    test = domain_data(domain, "test", config)
    logits, _ = generative.classifier_features(features_fn, _scaled(test), config.eval.batch_size)
    return features_fn, float(np.mean(logits.argmax(-1) == test.labels))


def translation_report(config, gen, classifiers):
    """`report(g_params) -> (results per direction, uint8 grid of input / translated /
    reconstructed rows for both directions, one test image per digit)`."""
    apply = jax.jit(lambda p, x: gen.apply({"params": p}, x))
    tests = {k: domain_data(k, "test", config) for k in DOMAINS}
    scorers = {
        k: generative.ClassifierScorer(fn, _scaled(tests[k]), batch_size=config.eval.batch_size)
        for k, fn in classifiers.items()
    }

    def label_kept(k, x, labels):
        logits, _ = generative.classifier_features(classifiers[k], x, config.eval.batch_size)
        return float(np.mean(logits.argmax(-1) == labels))

    def report(g_params):
        results, rows = {}, []
        for name, (src, fwd, back, dst) in DIRECTIONS.items():
            x, labels = _scaled(tests[src]), tests[src].labels
            y = np.asarray(apply(g_params[fwd], x))
            rec = np.asarray(apply(g_params[back], y))
            results[name] = {
                "label_kept": label_kept(dst, y, labels),
                "cycle_l1": float(np.mean(np.abs(rec - x))),
                "frechet_distance": scorers[dst](y)["frechet_distance"],
                "input_label_kept": label_kept(dst, x, labels),
                "input_frechet_distance": scorers[dst](x)["frechet_distance"],
                "num_images": len(x),
            }
            show = [int(np.flatnonzero(labels == digit)[0]) for digit in range(10)]
            rows += [images.to_uint8(v[show]) for v in (x, y, rec)]
        return results, images.make_grid(np.concatenate(rows), nrow=10)

    return report


def save_picture(grid, results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=150)
    ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=255)
    row = (grid.shape[0] - 2) / 6
    names = ["MNIST", "-> digits", "-> MNIST", "digits", "-> MNIST", "-> digits"]
    ax.set_yticks([2 + row * (i + 0.5) for i in range(6)], names, fontsize=7)
    ax.set_xticks([])
    ab, ba = results["mnist_to_digits"], results["digits_to_mnist"]
    ax.set_title(
        f"labels kept: MNIST->digits {100 * ab['label_kept']:.1f}%, digits->MNIST "
        f"{100 * ba['label_kept']:.1f}%",
        fontsize=8,
    )
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="cyclegan_digits", presets=PRESETS)
    cli.init_distributed(args)
    task = build(config)  # checks the config before anything trains
    t0 = time.time()
    classifiers, accuracy = {}, {}
    for k, name in DOMAINS.items():
        wd = os.path.join(args.workdir, f"classifier_{name}")
        classifiers[k], accuracy[name] = train_classifier(config, k, wd)
    t1 = time.time()
    report = translation_report(config, networks(config)[0], classifiers)
    last = {}  # step -> the report, so the end of training is scored once

    def evaluator(state):
        last.clear()
        last[int(state.step)] = results, grid = report(state.g.params)
        yield "translations", grid
        for name, r in results.items():
            yield f"{name}/label_kept", r["label_kept"]
            yield f"{name}/cycle_l1", r["cycle_l1"]

    task.evaluators = [evaluator]
    state = fit(task, config, args.workdir)
    t2 = time.time()
    results, grid = last.get(int(state.step)) or report(state.g.params)
    results = {
        "preset": args.preset or "cyclegan",
        "steps": config.train.total_steps,
        "image_size": config.data.image_size,
        **results,
        "classifier_test_accuracy": accuracy,
        "classifier_wall_time_s": t1 - t0,
        "train_wall_time_s": t2 - t1,
        "devices": jax.device_count(),
    }
    if jax.process_index() == 0:
        save_picture(grid, results, os.path.join(args.workdir, "translations.png"))
        cli.write_results(args.workdir, results)
    return results


if __name__ == "__main__":
    cli.run(main)
