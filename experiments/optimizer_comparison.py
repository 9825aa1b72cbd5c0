"""Optimizer comparison (SPEC OPT-1..OPT-5): the same models, data, steps and seeds, trained
with each hand-written optimizer of `jaxdl.optim`.

Models: the seed-002 MLP (sigmoid, SPEC BAS-7) and SimpleCNN, on embedded MNIST-5k (4,000 train
/ 1,000 held-out test). Writes `loss_curves.png`, `results.json` and `results.md` (final train
loss, test accuracy, wall time per model and optimizer, mean over seeds) into the workdir.
Quick (< 5 min on 2 CPU cores):
    python -m experiments.optimizer_comparison --preset quick --workdir workdirs/optim_quick
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
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jaxdl import cli, data, optim  # noqa: E402
from jaxdl.models.cnn import SimpleCNN  # noqa: E402
from jaxdl.models.mlp import MLP  # noqa: E402
from jaxdl.train import Task, fit  # noqa: E402
from jaxdl.train.evaluate import MeanEvaluator  # noqa: E402
from jaxdl.train.writers import read_metrics  # noqa: E402

PRESETS = ("quick", "full")
# name -> factory(learning_rate); learning rates chosen per optimizer family (config.lr).
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
    c.seed = 0
    c.num_seeds = 3
    c.models = tuple(MODELS)
    c.optimizers = tuple(OPTIMIZERS)
    c.lr = ml_collections.ConfigDict(dict(
        sgd=0.5, momentum=0.05, momentum_velocity=0.05, momentum_ema=0.5, nesterov=0.05,
        adagrad=0.05, rmsprop=1e-3, adam=1e-3, adamw=1e-3))
    c.total_steps = 1000
    c.batch_size = 64
    c.log_every = 25
    c.eval_every = 0
    c.checkpoint_every = 0
    if preset == "quick":
        c.num_seeds = 1
        c.total_steps = 150
    elif preset not in (None, "full"):
        raise ValueError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def build(config, model_name: str, opt_name: str, seed: int) -> Task:
    if model_name not in MODELS or opt_name not in OPTIMIZERS:
        raise ValueError(f"unknown model/optimizer {model_name}/{opt_name}; models: "
                         f"{list(MODELS)}, optimizers: {list(OPTIMIZERS)}")
    model = MODELS[model_name]()
    flat = model_name == "mlp"
    transforms = [data.ToUnit()]
    train = data.make_pipeline(data.mnist5k("train"), transforms,
                               global_batch_size=config.batch_size, seed=seed)
    test = data.eval_batches(data.mnist5k("test"), transforms, 200, pad=True)

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

    tx = OPTIMIZERS[opt_name](config.lr[opt_name])
    return Task(init_fn, loss_fn, tx, train, evaluators=[MeanEvaluator(metric_fn, test,
                                                                        prefix="test/")])


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
            rows.append(dict(model=model_name, optimizer=opt_name, lr=config.lr[opt_name],
                             final_train_loss=float(np.mean([x[-1] for x in losses])),
                             test_accuracy=float(np.mean(accs)), wall_time_s=float(np.mean(walls)),
                             seeds=config.num_seeds, steps=config.total_steps))
    if jax.process_index() == 0:
        _plot(curves, os.path.join(args.workdir, "loss_curves.png"))
        with open(os.path.join(args.workdir, "results.json"), "w") as f:
            json.dump(rows, f, indent=2)
        table = ["| model | optimizer | lr | final train loss | test accuracy | wall time (s) |",
                 "|---|---|---|---|---|---|"]
        table += [f"| {r['model']} | {r['optimizer']} | {r['lr']:g} | {r['final_train_loss']:.4f}"
                  f" | {r['test_accuracy']:.4f} | {r['wall_time_s']:.1f} |" for r in rows]
        with open(os.path.join(args.workdir, "results.md"), "w") as f:
            f.write("\n".join(table) + "\n")
        print("\n".join(table))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
