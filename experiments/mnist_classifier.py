"""MNIST digit classifier: SimpleCNN (SPEC BAS-7) trained with the generic engine.

Quick (embedded MNIST-5k, 4,000 train / 1,000 held-out test, ~1-2 min on 2 CPU cores; expect
>= 95% test accuracy):
    python -m experiments.mnist_classifier --preset quick --workdir workdirs/mnist_quick
Full (TFDS `mnist`, 60k/10k; needs the prepared dataset, see README):
    python -m experiments.mnist_classifier --workdir workdirs/mnist
The trained classifier also scores generated MNIST digits (features and confidence).
"""

from __future__ import annotations

import json
import os
import sys
import time

from jaxdl._xla_flags import set_xla_flags

set_xla_flags()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import optax  # noqa: E402

from jaxdl import cli, data  # noqa: E402
from jaxdl.models.cnn import SimpleCNN  # noqa: E402
from jaxdl.train import Task, fit  # noqa: E402
from jaxdl.train.evaluate import MeanEvaluator  # noqa: E402

PRESETS = ("quick", "full")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = "tfds:mnist"
    c.data_dir = ""  # TFDS data dir ("" = TFDS default / $TFDS_DATA_DIR)
    c.image_size = 32  # MNIST is zero-padded from 28x28, as the DDPM quick preset sees it
    c.total_steps = 5000
    c.batch_size = 128
    c.eval_batch_size = 512
    c.learning_rate = 1e-3
    c.num_workers = 0
    c.log_every = 100
    c.eval_every = 1000
    c.checkpoint_every = 1000
    c.parallel = "jit"
    c.model = ml_collections.ConfigDict(dict(features=(32, 64), hidden=128, dropout=0.1))
    if preset == "quick":
        c.dataset = "mnist5k"
        c.total_steps = 600
        c.log_every = 50
        c.eval_every = 200
        c.checkpoint_every = 200
    elif preset not in (None, "full"):
        raise ValueError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def _source(config, split):
    embedded = config.dataset in data.catalog.EMBEDDED
    kw = {} if embedded else {"data_dir": config.data_dir or None}
    return data.get_source(config.dataset, split, **kw)


def make_model(config) -> SimpleCNN:
    return SimpleCNN(num_classes=10, **config.model)


def build(config: ml_collections.ConfigDict) -> Task:
    model = make_model(config)
    size = config.image_size
    transforms = [data.PadTo(size), data.ScaleToSymmetric()]
    train = data.make_pipeline(
        _source(config, "train"), transforms, global_batch_size=config.batch_size,
        seed=config.seed, num_workers=config.num_workers,
    )
    test = data.eval_batches(_source(config, "test"), transforms, config.eval_batch_size,
                             pad=True)

    def loss_fn(params, batch, rng):
        logits = model.apply({"params": params}, batch["image"], train=True,
                             rngs={"dropout": rng})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["label"])
        return loss, {"accuracy": acc}

    def metric_fn(params, state, batch):
        logits = model.apply({"params": params}, batch["image"], train=False)
        mask = batch["mask"].astype(jnp.float32)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
        correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
        return {"accuracy": jnp.sum(correct * mask), "loss": jnp.sum(nll * mask),
                "count": jnp.sum(mask)}

    def init_fn(rng):
        return model.init(rng, jnp.zeros((1, size, size, 1)))["params"]

    tx = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.total_steps))
    return Task(init_fn, loss_fn, tx, train, evaluators=[MeanEvaluator(metric_fn, test,
                                                                        prefix="test/")])


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="mnist_classifier", presets=PRESETS)
    cli.init_distributed(args)
    t0 = time.time()
    task = build(config)
    state = fit(task, config, args.workdir)
    results = dict(task.evaluators[0](state))
    results["wall_time_s"] = time.time() - t0
    results["devices"] = jax.device_count()
    if jax.process_index() == 0:
        with open(os.path.join(args.workdir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
