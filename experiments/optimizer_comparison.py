"""Optimizer comparison (SPEC OPT-1..OPT-5): the same models, data, steps and seeds, trained
with each hand-written optimizer of `jaxdl.optim`.

Models: the seed-002 MLP (sigmoid, SPEC BAS-7) and SimpleCNN, on embedded MNIST-5k (4,000 train
/ 1,000 held-out test). Writes `loss_curves.png`, `results.json` and `results.md` (final train
loss, test accuracy, wall time per model and optimizer, mean over seeds) into the workdir.
Quick (< 5 min on 2 CPU cores):
    python -m experiments.optimizer_comparison --preset quick --workdir workdirs/optim_quick
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, data, optim
from jaxdl.models.cnn import SimpleCNN
from jaxdl.models.mlp import MLP
from jaxdl.train import Task, engine_config, fit, step_options, supervised
from jaxdl.train.evaluate import MeanEvaluator
from jaxdl.train.writers import read_metrics

PRESETS = ("quick", "full")
# name -> factory(learning_rate); learning rates chosen per optimizer family
# (config.train.learning_rate.NAME).
OPTIMIZERS = {
    "sgd": optim.sgd,
    "momentum": lambda lr: optim.momentum(lr),
    "momentum_velocity": lambda lr: optim.momentum(lr, form="velocity"),
    "momentum_ema": lambda lr: optim.momentum(lr, form="ema"),
    "nesterov": lambda lr: optim.momentum(lr, nesterov=True),
    "adagrad": optim.adagrad,
    "rmsprop": optim.rmsprop,
    "adam": optim.adam,
    "adamw": optim.adamw,
}
MODELS = {
    "mlp": lambda: MLP((100, 100, 10)),
    "cnn": lambda: SimpleCNN(features=(16, 32), hidden=64),
}


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0  # run s of each pair uses seed + s (init, dropout and data order)
    c.num_seeds = 3  # runs per (model, optimizer) pair, averaged
    c.models = tuple(MODELS)  # names in MODELS
    c.optimizers = tuple(OPTIMIZERS)  # names in OPTIMIZERS

    c.train = engine_config(  # every engine key (jaxdl.train.engine_config), these changed
        total_steps=1000,  # per run
        batch_size=64,
        log_every=25,  # points of the loss curves
        checkpoint_every=0,  # at the end only
    )
    c.train.learning_rate = ml_collections.ConfigDict()  # per optimizer
    c.train.learning_rate.sgd = 0.5
    c.train.learning_rate.momentum = 0.05
    c.train.learning_rate.momentum_velocity = 0.05
    c.train.learning_rate.momentum_ema = 0.5
    c.train.learning_rate.nesterov = 0.05
    c.train.learning_rate.adagrad = 0.05
    c.train.learning_rate.rmsprop = 1e-3
    c.train.learning_rate.adam = 1e-3
    c.train.learning_rate.adamw = 1e-3

    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 200

    if preset == "quick":
        c.num_seeds = 1
        c.train.total_steps = 150
    elif preset not in (None, "full"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def _check_names(models, optimizers) -> None:
    unknown = [m for m in models if m not in MODELS] + [
        o for o in optimizers if o not in OPTIMIZERS
    ]
    if unknown:
        raise cli.ConfigError(
            f"unknown model/optimizer names {unknown}; models: {list(MODELS)}, "
            f"optimizers: {list(OPTIMIZERS)}"
        )


def build(config, model_name: str, opt_name: str, seed: int) -> Task:
    _check_names([model_name], [opt_name])
    model = MODELS[model_name]()
    flat = model_name == "mlp"
    transforms = [data.ToUnit()]
    train = data.make_pipeline(
        data.mnist5k("train"), transforms, global_batch_size=config.train.batch_size, seed=seed
    )
    test = data.eval_batches(data.mnist5k("test"), transforms, config.eval.batch_size, pad=True)

    def logits_fn(params, images):
        x = images.reshape(images.shape[0], -1) if flat else images
        return model.apply({"params": params}, x)

    def loss_fn(params, batch, rng):
        logits = logits_fn(params, batch["image"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean(), {}

    def metric_fn(params, state, batch):
        correct = jnp.argmax(logits_fn(params, batch["image"]), -1) == batch["label"]
        mask = batch["mask"].astype(jnp.float32)
        return {"accuracy": jnp.sum(correct * mask), "count": jnp.sum(mask)}

    def init_fn(rng):
        shape = (1, 784) if flat else (1, 28, 28, 1)
        return model.init(rng, jnp.zeros(shape))["params"]

    tx = OPTIMIZERS[opt_name](config.train.learning_rate[opt_name])
    init_state, train_step = supervised(loss_fn, tx, init_fn=init_fn, **step_options(config.train))
    return Task(
        init_state, train_step, train, evaluators=[MeanEvaluator(metric_fn, test, prefix="test/")]
    )


def _plot(curves: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({m for m, _ in curves})
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, m in zip(axes[0], models, strict=True):
        for (model, opt), (steps, losses) in sorted(curves.items()):
            if model == m:
                ax.plot(steps, losses, label=opt)
        ax.set(title=f"{m} on MNIST-5k", xlabel="step", ylabel="train loss", yscale="log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    config, args = cli.parse(argv, get_config, name="optimizer_comparison", presets=PRESETS)
    cli.init_distributed(args)
    _check_names(config.models, config.optimizers)
    rows, curves = [], {}
    for model_name in config.models:
        for opt_name in config.optimizers:
            losses, accs, walls = [], [], []
            for s in range(config.num_seeds):
                run_config = ml_collections.ConfigDict(config.to_dict())
                run_config.seed = config.seed + s
                wd = os.path.join(args.workdir, "runs", f"{model_name}-{opt_name}-seed{s}")
                t0 = time.time()
                task = build(run_config, model_name, opt_name, run_config.seed)
                state = fit(task, run_config, wd)
                walls.append(time.time() - t0)
                accs.append(dict(task.evaluators[0](state))["test/accuracy"])
                rec = [r for r in read_metrics(wd) if "loss" in r]
                losses.append([r["loss"] for r in rec])
            curves[(model_name, opt_name)] = ([r["step"] for r in rec], np.mean(losses, 0))
            lr = config.train.learning_rate[opt_name]
            rows.append(
                dict(
                    model=model_name,
                    optimizer=opt_name,
                    lr=lr,
                    final_train_loss=float(np.mean([x[-1] for x in losses])),
                    test_accuracy=float(np.mean(accs)),
                    wall_time_s=float(np.mean(walls)),
                    seeds=config.num_seeds,
                    steps=config.train.total_steps,
                )
            )
    if jax.process_index() == 0:
        _plot(curves, os.path.join(args.workdir, "loss_curves.png"))
        cli.write_results(args.workdir, rows, echo=False)
        table = [
            "| model | optimizer | lr | final train loss | test accuracy | wall time (s) |",
            "|---|---|---|---|---|---|",
        ]
        table += [
            f"| {r['model']} | {r['optimizer']} | {r['lr']:g} | {r['final_train_loss']:.4f}"
            f" | {r['test_accuracy']:.4f} | {r['wall_time_s']:.1f} |"
            for r in rows
        ]
        with open(os.path.join(args.workdir, "results.md"), "w") as f:
            f.write("\n".join(table) + "\n")
        print("\n".join(table))
    return rows


if __name__ == "__main__":
    cli.run(main)
