"""Few-shot digit classification with MAML (Finn et al. 2017, arXiv:1703.03400, §5.2 protocol;
SPEC BAS-9): meta-train on N-way K-shot episodes of MNIST-5k's training split, meta-test on
600 episodes of MNIST-5k's held-out split (new images, same domain) and of scikit-learn's 8×8
digits (resized to 20×20 and padded to 28×28 like MNIST: a new domain).

The network is MAML's Omniglot conv net (4 blocks: 3×3 conv with stride 2, normalization,
ReLU; mean over space; linear N-way head) with per-example GroupNorm(1) in place of batch norm
(the inner loop threads no batch statistics). MAML and first-order MAML train through
`jaxdl.train.fit` (Adam 1e-3, one inner step α 0.4, as the paper's Omniglot runs); "scratch" is
the same network fine-tuned from its random initialization. Test: 3 steps of α 0.4 on the
support set, accuracy on 15 query images per class (mean ± 95% interval over the episodes).

    python -m experiments.maml_digits --preset quick   # 5-way 1-shot, 400 meta-iterations
        # (57 min on a 2-core machine shared with other jobs, load 20-30)
    python -m experiments.maml_digits --config.data.shots=5
Writes WORKDIR/<method>/ and results.json.
"""

from __future__ import annotations

import functools
import os
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, meta
from jaxdl.data import get_source
from jaxdl.data.few_shot import EpisodeSampler, EpisodeStream
from jaxdl.meta.maml import check_inner, sgd_step
from jaxdl.train import Task, engine_config, fit, step_options

METHODS = ("maml", "fomaml", "scratch")
PRESETS = ("quick",)


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.methods = METHODS

    c.data = ml_collections.ConfigDict()
    c.data.ways = 5  # N
    c.data.shots = 1  # K
    c.data.queries = 1  # query images per class in a meta-training episode (the paper: K)

    c.model = ml_collections.ConfigDict()
    c.model.features = 64  # channels of every conv block (the paper's Omniglot net: 64)
    c.model.blocks = 4

    c.train = engine_config(total_steps=40_000, batch_size=32, log_every=500, checkpoint_every=5000)
    c.train.learning_rate = 1e-3  # Adam meta-optimizer
    c.train.inner_lr = 0.4  # α (the paper's Omniglot runs)
    c.train.inner_steps = 1

    c.eval = ml_collections.ConfigDict()
    c.eval.episodes = 600
    c.eval.queries = 15  # query images per class in a test episode
    c.eval.steps = 3  # fine-tuning steps at test time (the paper's Omniglot: 3)
    c.eval.inner_lr = 0.4
    c.eval.chunk = 50  # episodes evaluated at once
    c.eval.seed = 1

    if preset == "quick":
        c.model.features = 32
        c.train.total_steps = 400
        c.train.batch_size = 8
        c.train.log_every = 50
        c.train.checkpoint_every = 200
    elif preset is not None:
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


class FewShotConvNet(nn.Module):
    """MAML's Omniglot network with GroupNorm(1): uint8 images (n, H, W, 1) -> (n, ways)."""

    ways: int
    features: int = 64
    blocks: int = 4

    @nn.compact
    def __call__(self, image: jax.Array) -> jax.Array:
        x = image.astype(jnp.float32) / 127.5 - 1.0
        for _ in range(self.blocks):
            x = nn.Conv(self.features, (3, 3), strides=2, padding="SAME")(x)
            x = nn.relu(nn.GroupNorm(num_groups=1)(x))
        return nn.Dense(self.ways)(x.mean(axis=(1, 2)))


def digit_images(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (n, 28, 28, 1), labels): MNIST-5k as stored; sklearn digits resized to 20×20
    (bilinear) and padded by 4 pixels, like MNIST's centred digits."""
    src = get_source(dataset, split)
    images = src.images
    if images.shape[1:3] != (28, 28):
        small = jax.image.resize(images.astype(np.float32), (len(images), 20, 20, 1), "bilinear")
        images = np.pad(np.asarray(small), ((0, 0), (4, 4), (4, 4), (0, 0)))
        images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    return images, src.labels


def make_model(config) -> FewShotConvNet:
    return FewShotConvNet(config.data.ways, config.model.features, config.model.blocks)


def xent_loss(model):
    def loss_fn(params, batch):
        logits = model.apply({"params": params}, batch["image"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

    return loss_fn


def build(config, method: str) -> Task:
    """MAML or first-order MAML ("fomaml") on MNIST-5k training episodes."""
    model, t, d = make_model(config), config.train, config.data
    images, labels = digit_images("mnist5k", "train")
    init_state, step = meta.maml(
        xent_loss(model),
        optax.adam(t.learning_rate),
        init_fn=lambda rng: model.init(rng, jnp.zeros((1, 28, 28, 1), jnp.uint8)),
        inner_lr=t.inner_lr,
        inner_steps=t.inner_steps,
        first_order=method != "maml",
        **step_options(t),
    )
    sampler = EpisodeSampler(images, labels, d.ways, d.shots, d.queries)
    return Task(init_state, step, EpisodeStream(sampler, t.batch_size, seed=config.seed))


@functools.partial(jax.jit, static_argnums=(0, 3))
def _accuracy(model, params, episodes, steps, lr):
    """(episodes, steps + 1) query accuracy after 0..steps fine-tuning steps."""
    loss_fn = xent_loss(model)

    def one(support, query):
        def body(p, _):
            acc = jnp.mean(
                jnp.argmax(model.apply({"params": p}, query["image"]), -1) == query["label"]
            )
            return sgd_step(loss_fn, p, support, lr, True), acc

        final, accs = jax.lax.scan(body, params, None, length=steps)
        last = jnp.argmax(model.apply({"params": final}, query["image"]), -1) == query["label"]
        return jnp.concatenate([accs, jnp.mean(last)[None]])

    return jax.vmap(one)(episodes["support"], episodes["query"])


def evaluate(config, params, images, labels) -> dict:
    d, e = config.data, config.eval
    sampler = EpisodeSampler(images, labels, d.ways, d.shots, e.queries)
    rng, out = np.random.default_rng(e.seed), []
    model = make_model(config)
    for start in range(0, e.episodes, e.chunk):
        episodes = sampler.sample(rng, min(e.chunk, e.episodes - start))
        out.append(np.asarray(_accuracy(model, params, episodes, e.steps, e.inner_lr)))
    acc = np.concatenate(out)
    return {
        "accuracy": float(acc[:, -1].mean()),
        "ci95": float(1.96 * acc[:, -1].std() / np.sqrt(len(acc))),
        "accuracy_by_step": acc.mean(0).round(4).tolist(),
    }


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="maml_digits", presets=PRESETS)
    cli.init_distributed(args)
    try:
        check_inner(config.train.inner_lr, config.train.inner_steps)
        check_inner(config.eval.inner_lr, config.eval.steps)
    except ValueError as e:
        raise cli.ConfigError(f"config: {e}") from e
    unknown = [m for m in config.methods if m not in METHODS]
    if unknown:
        raise cli.ConfigError(f"config.methods: unknown {unknown}; choose from {METHODS}")
    domains = {
        "mnist5k_test": digit_images("mnist5k", "test"),
        "digits": digit_images("digits", "all"),
    }
    rows, train_s = {}, {}
    for method in config.methods:
        t0 = time.perf_counter()
        if method == "scratch":  # the meta-trained runs' initialization, fine-tuned directly
            state = build(config, "maml").init_state(jax.random.PRNGKey(config.seed))
        else:
            state = fit(build(config, method), config, os.path.join(args.workdir, method))
        train_s[method] = round(time.perf_counter() - t0, 1)
        params = jax.device_get(state.params)
        rows[method] = {name: evaluate(config, params, *data) for name, data in domains.items()}
    d = config.data
    results = {
        "episodes": f"{d.ways}-way {d.shots}-shot",
        "meta_iterations": config.train.total_steps,
        "test_episodes": config.eval.episodes,
        "train_seconds": train_s,
        "methods": rows,
    }
    if jax.process_index() == 0:
        cli.write_results(args.workdir, results)
    return results


if __name__ == "__main__":
    cli.run(main)
