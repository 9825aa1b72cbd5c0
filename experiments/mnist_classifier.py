"""MNIST digit classifier: SimpleCNN (SPEC BAS-7) trained with the generic engine.

Quick (embedded MNIST-5k, 4,000 train / 1,000 held-out test, ~1-2 min on 2 CPU cores; expect
>= 95% test accuracy):
    python -m experiments.mnist_classifier --preset quick --workdir workdirs/mnist_quick
Full (TFDS `mnist`, 60k/10k; needs the prepared dataset, see README):
    python -m experiments.mnist_classifier --workdir workdirs/mnist
The trained classifier also scores generated MNIST digits (`experiments.ddpm_cifar` calls
`train_classifier`).
"""

from __future__ import annotations

import json
import time

import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxdl import cli, data
from jaxdl.models.cnn import SimpleCNN
from jaxdl.train import Task, engine_config, fit, step_options, supervised
from jaxdl.train.evaluate import MeanEvaluator

PRESETS = ("quick", "full")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.dataset = "tfds:mnist"
    c.data.data_dir = ""  # TFDS data dir ("": $TFDS_DATA_DIR or ~/tensorflow_datasets)
    c.data.image_size = 32  # zero-padded from 28x28, as the DDPM quick preset's samples
    c.data.num_workers = 0  # grain worker processes for the training batches

    c.model = ml_collections.ConfigDict()
    c.model.features = (32, 64)  # channels of the two conv blocks
    c.model.hidden = 128  # penultimate features (used to score generated digits)
    c.model.dropout = 0.1

    c.train = engine_config(  # every engine key (jaxdl.train.engine_config), these changed
        total_steps=5000,
        batch_size=128,
        log_every=100,
        eval_every=1000,
        checkpoint_every=1000,
    )
    c.train.learning_rate = 1e-3  # Adam, cosine decay to 0 over total_steps

    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 512

    if preset == "quick":
        c.data.dataset = "mnist5k"
        c.train.total_steps = 600
        c.train.log_every = 50
        c.train.eval_every = 200
        c.train.checkpoint_every = 200
    elif preset not in (None, "full"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def make_model(config) -> SimpleCNN:
    return SimpleCNN(num_classes=10, **config.model)


def build(config: ml_collections.ConfigDict) -> Task:
    model = make_model(config)
    size = config.data.image_size
    transforms = [data.PadTo(size), data.ScaleToSymmetric()]

    def source(split):
        return cli.data_source(config.data.dataset, split, config.data.data_dir)

    train = data.make_pipeline(
        source("train"),
        transforms,
        global_batch_size=config.train.batch_size,
        seed=config.seed,
        num_workers=config.data.num_workers,
    )
    test = data.eval_batches(source("test"), transforms, config.eval.batch_size, pad=True)

    def loss_fn(params, batch, rng):
        logits = model.apply({"params": params}, batch["image"], train=True, rngs={"dropout": rng})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
        return loss, {"accuracy": acc}

    def metric_fn(params, state, batch):
        logits = model.apply({"params": params}, batch["image"], train=False)
        mask = batch["mask"].astype(jnp.float32)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
        correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
        return {
            "accuracy": jnp.sum(correct * mask),
            "loss": jnp.sum(nll * mask),
            "count": jnp.sum(mask),
        }

    def init_fn(rng):
        return model.init(rng, jnp.zeros((1, size, size, 1)))["params"]

    tx = optax.adam(
        optax.cosine_decay_schedule(config.train.learning_rate, config.train.total_steps)
    )
    init_state, train_step = supervised(loss_fn, tx, init_fn=init_fn, **step_options(config.train))
    return Task(
        init_state, train_step, train, evaluators=[MeanEvaluator(metric_fn, test, prefix="test/")]
    )


def train_classifier(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Trains (or resumes) the classifier in `workdir`; returns the test metrics
    ({"test/accuracy", "test/loss", "wall_time_s", "devices"}), also in `results.json`."""
    t0 = time.time()
    task = build(config)
    state = fit(task, config, workdir)
    results = dict(task.evaluators[0](state))
    results["wall_time_s"] = time.time() - t0
    results["devices"] = jax.device_count()
    if jax.process_index() == 0:
        cli.write_results(workdir, results, echo=False)
    return results


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="mnist_classifier", presets=PRESETS)
    cli.init_distributed(args)
    results = train_classifier(config, args.workdir)
    if jax.process_index() == 0:
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    cli.run(main)
