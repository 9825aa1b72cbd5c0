"""Fine-tuning recipes on few labels (SPEC BAS-10, OPT-8): MNIST-5k -> scikit-learn digits.

A `SmallResNet` is pretrained on the embedded MNIST-5k, then trained on scikit-learn's 8x8 digits
(bilinearly upsampled to 28x28; the digits source's fixed train/test split, 1,438 / 359) with
10, 50 or all labels per class, by five methods, all through `jaxdl.train.fit`: `scratch`
(random init), `full` (every block at one LR), `frozen` (new head only; backbone BatchNorm in
inference mode), `gradual` (ULMFiT's gradual unfreezing: one more block group every
`train.unfreeze_every` steps) and `llrd` (layer-wise LR decay: `train.layer_decay` per block
group). Every method gets a new head, Adam with cosine decay and the same number of steps.
Quick (embedded data, 3 seeds, about 10 min on 2 CPU cores):
    python -m experiments.finetune_digits --preset quick
Full (deeper, wider net, longer pretraining and fine-tuning, 5 seeds):
    python -m experiments.finetune_digits
Writes results.json (test accuracy, mean ± std over seeds), results.md and curves.png.
"""

from __future__ import annotations

import functools
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, data, finetune, optim
from jaxdl.models.small_resnet import SmallResNet
from jaxdl.train import Task, engine_config, fit, step_options, supervised
from jaxdl.train.evaluate import MeanEvaluator
from jaxdl.train.writers import read_metrics

PRESETS = ("quick", "full")
METHODS = ("scratch", "full", "frozen", "gradual", "llrd")
SIZE = 28


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.seeds = 5  # fine-tuning seeds seed, seed+1, ...: label subset, head init, batch order
    c.data = ml_collections.ConfigDict()
    c.data.pretrain_dataset = "mnist5k"  # any 28x28x1 digit source, e.g. "tfds:mnist"
    c.data.data_dir = ""  # TFDS data dir for a tfds: pretraining set
    c.data.labels_per_class = (10, 50, 0)  # 0: every training label (about 144 per class)
    c.model = ml_collections.ConfigDict()
    c.model.width = 16  # channels of the stem and first stage, doubling per stage
    c.model.stage_sizes = (2, 2, 2)  # BasicBlocks per stage
    c.train = engine_config(
        total_steps=600, batch_size=32, log_every=100, eval_every=50, checkpoint_every=0
    )
    c.train.keep_checkpoints = 1
    c.train.methods = METHODS
    c.train.learning_rate = 1e-3  # Adam, cosine decay to 0 (pretraining and every method)
    c.train.unfreeze_every = 60  # gradual: steps between unfreezing two block groups
    c.train.layer_decay = 0.5  # llrd: LR of a block group / LR of the group above it
    c.train.pretrain_steps = 3000
    c.train.pretrain_batch_size = 64
    c.eval = ml_collections.ConfigDict(dict(batch_size=512))
    if preset == "quick":
        c.seeds = 3
        c.model.width, c.model.stage_sizes = 8, (1, 1, 1)
        c.train.total_steps, c.train.eval_every, c.train.unfreeze_every = 150, 25, 25
        c.train.pretrain_steps = 400
    elif preset not in (None, "full"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def _model(config) -> SmallResNet:
    return SmallResNet(stage_sizes=tuple(config.model.stage_sizes), width=config.model.width)


def _schedule(config, method: str, groups: list[str]) -> finetune.Schedule:
    if method == "frozen":
        return finetune.frozen_backbone(groups)
    if method == "gradual":
        return finetune.gradual_unfreezing(groups, config.train.unfreeze_every)
    return [(g, 0) for g in groups]


def _loss(model: SmallResNet, frozen: tuple[str, ...]):
    def loss_fn(params, batch, rng, mutable):
        params = finetune.stop_frozen_gradients(params, frozen)
        variables = {"params": params, **mutable}
        logits, new = model.apply(
            variables, batch["image"], train=True, frozen=frozen, mutable=["batch_stats"]
        )
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return loss, ({"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}, new)

    return loss_fn


def method_steps(config, method: str, init_fn) -> list[tuple[finetune.Phase, tuple]]:
    """[(phase, (init_state, train_step))] of one method: built once, reused by every run (so
    each phase's step compiles once)."""
    model, t = _model(config), config.train
    groups = model.groups()
    schedule = _schedule(config, method, groups)
    lr = optax.cosine_decay_schedule(t.learning_rate, t.total_steps)
    tx = optax.chain(
        finetune.unfreeze_schedule(optim.scale_by_adam(), schedule),
        optim.scale_by_learning_rate(lr),
    )
    if method == "llrd":
        tx = optim.lr_multipliers(tx, finetune.layer_decay_rules(groups, t.layer_decay))
    return [
        (
            p,
            supervised(
                _loss(model, p.frozen), tx, init_fn=init_fn, has_mutable=True, **step_options(t)
            ),
        )
        for p in finetune.phases(schedule, t.total_steps)
    ]


def _evaluator(model: SmallResNet, source, batch_size: int) -> MeanEvaluator:
    test = data.eval_batches(source, [data.ScaleToSymmetric()], batch_size, pad=True)

    def metric_fn(params, state, batch):
        logits = model.apply({"params": params, **state.mutable}, batch["image"], train=False)
        correct = (jnp.argmax(logits, -1) == batch["label"]) & batch["mask"]
        return {"accuracy": jnp.sum(correct), "count": jnp.sum(batch["mask"])}

    return MeanEvaluator(metric_fn, test, prefix="test/")


@functools.cache
def _digits28(split: str) -> tuple[np.ndarray, np.ndarray]:
    src = data.digits(split)
    resize = data.Resize(SIZE)
    return np.stack([resize({"image": im}, None)["image"] for im in src.images]), src.labels


def label_subset(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of `per_class` random examples of each class (0: all of them)."""
    if per_class == 0:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def run_method(config, workdir: str, steps, source, evaluator) -> tuple:
    """Trains the phases of one method in `workdir`, each resuming the previous one's
    checkpoint; returns (state, [(step, test accuracy)])."""
    pipe = data.make_pipeline(
        source,
        [data.ScaleToSymmetric()],
        global_batch_size=config.train.batch_size,
        seed=config.seed,
    )
    for phase, (init_state, train_step) in steps:
        phase_config = ml_collections.ConfigDict(config.to_dict())
        phase_config.train.total_steps = phase.end
        state = fit(Task(init_state, train_step, pipe, [evaluator]), phase_config, workdir)
    curve = {r["step"]: r["test/accuracy"] for r in read_metrics(workdir) if "test/accuracy" in r}
    return state, sorted(curve.items())


def pretrain(config, workdir: str) -> tuple[dict, float]:
    """The SmallResNet trained on `data.pretrain_dataset`: (variables, test accuracy)."""
    model = _model(config)
    cfg = ml_collections.ConfigDict(config.to_dict())
    cfg.train.total_steps = config.train.pretrain_steps
    cfg.train.batch_size = config.train.pretrain_batch_size

    def source(split):
        return cli.data_source(config.data.pretrain_dataset, split, config.data.data_dir)

    def init_fn(rng):
        return model.init(rng, jnp.zeros((1, SIZE, SIZE, 1)))

    steps = method_steps(cfg, "scratch", init_fn)
    evaluator = _evaluator(model, source("test"), config.eval.batch_size)
    state, curve = run_method(cfg, workdir, steps, source("train"), evaluator)
    return jax.device_get({"params": state.params, **state.mutable}), curve[-1][1]


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="finetune_digits", presets=PRESETS)
    cli.init_distributed(args)
    unknown = sorted(set(config.train.methods) - set(METHODS))
    if unknown:  # before pretraining
        raise cli.ConfigError(f"config.train.methods has {unknown}; choose from {METHODS}")
    t0 = time.time()
    pretrained, pretrain_acc = pretrain(config, os.path.join(args.workdir, "pretrain"))
    model = _model(config)

    def from_scratch(rng):
        return model.init(rng, jnp.zeros((1, SIZE, SIZE, 1)))

    def from_pretrained(rng):  # the pretrained backbone and a new head
        head = from_scratch(rng)["params"]["head"]
        return {**pretrained, "params": {**pretrained["params"], "head": head}}

    steps = {
        m: method_steps(config, m, from_scratch if m == "scratch" else from_pretrained)
        for m in config.train.methods
    }
    images, labels = _digits28("train")
    test = data.ArraySource(*_digits28("test"), num_classes=10, name="digits28:test")
    evaluator = _evaluator(model, test, config.eval.batch_size)
    runs = []
    for seed in range(config.seed, config.seed + config.seeds):
        for k in config.data.labels_per_class:
            idx = label_subset(labels, k, seed)
            source = data.ArraySource(images[idx], labels[idx], num_classes=10, name="digits28")
            for m in config.train.methods:
                run_config = ml_collections.ConfigDict(config.to_dict())
                run_config.seed = seed
                wd = os.path.join(args.workdir, f"seed_{seed}", f"labels_{k or 'all'}", m)
                _, curve = run_method(run_config, wd, steps[m], source, evaluator)
                runs.append(dict(seed=seed, labels_per_class=k, method=m, curve=curve))
    results = summarize(config, runs, pretrain_acc, time.time() - t0)
    if jax.process_index() == 0:
        write_outputs(args.workdir, results, runs)
        print(results_table(results))
    return results


def summarize(config, runs: list[dict], pretrain_acc: float, wall_time_s: float) -> dict:
    """Final test accuracy per method and label budget: mean and std over seeds."""
    summary = {}
    for m in config.train.methods:
        summary[m] = {}
        for k in config.data.labels_per_class:
            accs = [
                r["curve"][-1][1] for r in runs if r["method"] == m and r["labels_per_class"] == k
            ]
            summary[m][str(k or "all")] = {"mean": float(np.mean(accs)), "std": float(np.std(accs))}
    return {
        "metric": "test accuracy on scikit-learn digits (359 test images)",
        "seeds": config.seeds,
        "pretrain_test_accuracy": pretrain_acc,
        "summary": summary,
        "runs": [{**r, "accuracy": r["curve"][-1][1]} for r in runs],
        "wall_time_s": wall_time_s,
    }


def results_table(results: dict) -> str:
    budgets = list(next(iter(results["summary"].values())))
    lines = [
        "| method | " + " | ".join(f"{b} labels/class" for b in budgets) + " |",
        "|---" * (len(budgets) + 1) + "|",
    ]
    for m, row in results["summary"].items():
        cells = [f"{100 * row[b]['mean']:.1f} ± {100 * row[b]['std']:.1f}" for b in budgets]
        lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(workdir: str, results: dict, runs: list[dict]) -> None:
    cli.write_results(workdir, results, echo=False)
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(results_table(results) + "\n")
    _plot(results, runs, os.path.join(workdir, "curves.png"))


def _plot(results: dict, runs: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["summary"]
    budgets = list(next(iter(summary.values())))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    for m, row in summary.items():
        mean = [100 * row[b]["mean"] for b in budgets]
        std = [100 * row[b]["std"] for b in budgets]
        ax1.errorbar(range(len(budgets)), mean, yerr=std, marker="o", capsize=3, label=m)
        curves = [
            r["curve"]
            for r in runs
            if r["method"] == m and str(r["labels_per_class"] or "all") == budgets[0]
        ]
        steps = [s for s, _ in curves[0]]
        ax2.plot(steps, 100 * np.mean([[a for _, a in c] for c in curves], 0), marker=".", label=m)
    ax1.set(
        xticks=range(len(budgets)),
        xticklabels=budgets,
        xlabel="labels per class",
        ylabel="test accuracy, %",
        title=f"digits, mean ± std over {results['seeds']} seeds",
    )
    ax2.set(
        xlabel="fine-tuning step",
        ylabel="test accuracy, %",
        title=f"{budgets[0]} labels per class (mean over seeds)",
    )
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    cli.run(main)
