"""MAML's few-shot sine-wave regression (Finn et al. 2017, arXiv:1703.03400, §5.1; SPEC BAS-9).

Tasks y = A·sin(x + φ), A ~ U[0.1, 5], φ ~ U[0, π], x ~ U[−5, 5]; K support points per task
for the inner step, K more for the meta-loss. An MLP 1-40-40-1 (ReLU) is meta-trained by each of
MAML (one inner step, α 0.01), first-order MAML, Reptile (Nichol et al. 2018) and plain
pretraining on all tasks (the paper's baseline), each through `jaxdl.train.fit` with Adam 1e-3,
meta-batch 25. All are then fine-tuned on K points of 600 new tasks with gradient descent
(α 0.01; pretraining also with the step size that is best on 100 validation tasks, as the
paper's "automatically tuned step size") and scored by the mean squared error on 100 query
points per task after 0..10 steps.

    python -m experiments.maml_sine --preset quick      # 10,000 steps per method (13 min on
                                                        # a 2-core machine shared with other jobs)
    python -m experiments.maml_sine                     # the paper's 70,000 meta-iterations

Writes WORKDIR/<method>/ (each method's run), results.json (the table: MSE after 0, 1, 10
steps, mean ± 95% interval over the test tasks), curves.png (MSE against steps, the paper's
Figure 3) and fits.png (a few test tasks: the true curve, the K points and each method's fit
before and after 1 and 10 steps).
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
import optax

from jaxdl import cli, meta
from jaxdl.data.sine_tasks import X_RANGE, SineTaskStream, sample_sine_tasks, sine
from jaxdl.meta.maml import check_inner
from jaxdl.models.mlp import MLP
from jaxdl.train import Task, engine_config, fit, step_options, supervised

METHODS = ("maml", "fomaml", "reptile", "pretrain")
PRESETS = ("quick",)


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.methods = METHODS  # trained one after another, each in WORKDIR/<method>

    c.data = ml_collections.ConfigDict()
    c.data.num_support = 10  # K (the paper: 5, 10 or 20)
    c.data.num_query = 10  # points per task for the meta-loss (the paper's code: K)

    c.model = ml_collections.ConfigDict()
    c.model.hidden = (40, 40)  # ReLU MLP

    c.train = engine_config(
        total_steps=70_000, batch_size=25, log_every=1000, checkpoint_every=10_000
    )  # batch_size: tasks per meta-batch
    c.train.learning_rate = 1e-3  # Adam: the meta-optimizer (and pretraining's optimizer)
    c.train.inner_lr = 0.01  # MAML/FOMAML α
    c.train.inner_steps = 1  # MAML/FOMAML inner gradient steps
    c.train.reptile_inner_lr = 0.01  # Reptile's inner SGD step
    c.train.reptile_inner_steps = 10  # over the task's support and query halves in turn

    c.eval = ml_collections.ConfigDict()
    c.eval.num_tasks = 600  # test tasks
    c.eval.num_query = 100  # query points per test task
    c.eval.steps = 10  # fine-tuning steps at test time
    c.eval.inner_lr = 0.01  # test-time step size α
    c.eval.tune_lrs = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1)  # pretraining's step-size search
    c.eval.num_val_tasks = 100  # tasks the step size is chosen on
    c.eval.plot_tasks = 3
    c.eval.seed = 1  # test tasks: default_rng(seed); validation tasks: default_rng(seed + 1)

    if preset == "quick":
        c.train.total_steps = 10_000  # a seventh of the paper's meta-iterations
        c.train.checkpoint_every = 5000
    elif preset is not None:
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def make_model(config) -> MLP:
    return MLP((*config.model.hidden, 1), activation=jax.nn.relu)


def mse_loss(model: MLP):
    """loss_fn(params, {"x": (n, 1), "y": (n, 1)}) -> mean squared error."""

    def loss_fn(params, batch):
        return jnp.mean((model.apply({"params": params}, batch["x"]) - batch["y"]) ** 2)

    return loss_fn


class _Minibatches:
    """A meta-batch stream as Reptile's input: {"x", "y"} of shape (tasks, 2, K, 1), the
    support half then the query half of each task (position checkpointed like the stream's)."""

    def __init__(self, stream: SineTaskStream):
        self.stream = stream

    def __iter__(self) -> _Minibatches:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        b = next(self.stream)
        return {k: np.stack([b["support"][k], b["query"][k]], axis=1) for k in ("x", "y")}

    def get_state(self) -> dict:
        return self.stream.get_state()

    def set_state(self, state: dict) -> None:
        self.stream.set_state(state)


def build(config: ml_collections.ConfigDict, method: str) -> Task:
    """The task that trains `method` (one of METHODS)."""
    if method not in METHODS:
        raise cli.ConfigError(f"unknown method {method!r}; choose from {METHODS}")
    model = make_model(config)
    loss_fn = mse_loss(model)
    t, d = config.train, config.data
    tx = optax.adam(t.learning_rate)
    options = dict(init_fn=lambda rng: model.init(rng, jnp.zeros((1, 1))), **step_options(t))
    stream = SineTaskStream(t.batch_size, d.num_support, d.num_query, seed=config.seed)
    if method in ("maml", "fomaml"):
        init_state, step = meta.maml(
            loss_fn,
            tx,
            inner_lr=t.inner_lr,
            inner_steps=t.inner_steps,
            first_order=method == "fomaml",
            **options,
        )
    elif method == "reptile":
        init_state, step = meta.reptile(
            loss_fn,
            tx,
            inner_lr=t.reptile_inner_lr,
            inner_steps=t.reptile_inner_steps,
            **options,
        )
        stream = _Minibatches(stream)
    else:  # pretraining: one network regressing every task's points

        def joint(params, tasks, rng):
            del rng
            both = jax.tree.map(
                lambda s, q: jnp.concatenate([s, q], 1), tasks["support"], tasks["query"]
            )
            return jnp.mean(jax.vmap(loss_fn, in_axes=(None, 0))(params, both)), {}

        init_state, step = supervised(joint, tx, **options)
    return Task(init_state, step, stream)


def _check(config) -> None:
    """Usage errors before any training: inner-loop settings, method names, eval steps."""
    t = config.train
    try:
        check_inner(t.inner_lr, t.inner_steps)
        check_inner(t.reptile_inner_lr, t.reptile_inner_steps)
    except ValueError as e:
        raise cli.ConfigError(f"config.train: {e}") from e
    unknown = [m for m in config.methods if m not in METHODS]
    if unknown:
        raise cli.ConfigError(f"config.methods: unknown {unknown}; choose from {METHODS}")
    if config.eval.steps < 1:
        raise cli.ConfigError(f"config.eval.steps must be >= 1, got {config.eval.steps}")


@functools.partial(jax.jit, static_argnums=(0, 4))
def _curves(loss_fn, params, support, query, steps, lr):
    """(tasks, steps + 1) query MSE after 0..steps fine-tuning steps, for every task."""
    one = lambda s, q: meta.adaptation_losses(loss_fn, params, s, q, lr, steps)  # noqa: E731
    return jax.vmap(one)(support, query)


@functools.partial(jax.jit, static_argnums=(0, 4, 6))
def _predict_adapted(loss_fn, params, support, grid, steps, lr, model):
    """Predictions on `grid` after `steps` fine-tuning steps on one task's support points."""
    if steps:
        params = meta.adapt(loss_fn, params, support, lr, steps)
    return model.apply({"params": params}, grid)


def evaluate(config, loss_fn, params, tasks, lr) -> np.ndarray:
    return np.asarray(
        _curves(loss_fn, params, tasks["support"], tasks["query"], config.eval.steps, lr)
    )


def _summary(curves: np.ndarray, lr: float) -> dict:
    n = len(curves)
    row = {"inner_lr": lr, "curve": curves.mean(0).round(5).tolist()}
    for s in (0, 1, curves.shape[1] - 1):
        row[f"mse_{s}_steps"] = float(curves[:, s].mean())
        row[f"ci95_{s}_steps"] = float(1.96 * curves[:, s].std() / np.sqrt(n))
    return row


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="maml_sine", presets=PRESETS)
    cli.init_distributed(args)
    _check(config)
    e, d = config.eval, config.data
    test = sample_sine_tasks(np.random.default_rng(e.seed), e.num_tasks, d.num_support, e.num_query)
    val = sample_sine_tasks(
        np.random.default_rng(e.seed + 1), e.num_val_tasks, d.num_support, e.num_query
    )
    loss_fn = mse_loss(make_model(config))
    rows, params_by_method, train_s = {}, {}, {}
    for method in config.methods:
        t0 = time.perf_counter()
        state = fit(build(config, method), config, os.path.join(args.workdir, method))
        train_s[method] = round(time.perf_counter() - t0, 1)
        params = jax.device_get(state.params)
        params_by_method[method] = params
        rows[method] = _summary(evaluate(config, loss_fn, params, test, e.inner_lr), e.inner_lr)
        if method == "pretrain":
            best = min(
                e.tune_lrs, key=lambda lr: evaluate(config, loss_fn, params, val, lr)[:, -1].mean()
            )
            rows["pretrain_tuned"] = _summary(evaluate(config, loss_fn, params, test, best), best)
    results = {
        "num_support": d.num_support,
        "test_tasks": e.num_tasks,
        "meta_iterations": config.train.total_steps,
        "meta_batch": config.train.batch_size,
        "train_seconds": train_s,
        "methods": rows,
    }
    if jax.process_index() == 0:
        _plot_curves(rows, os.path.join(args.workdir, "curves.png"), d.num_support)
        _plot_fits(config, loss_fn, params_by_method, test, os.path.join(args.workdir, "fits.png"))
        cli.write_results(args.workdir, results, echo=False)
        print(json.dumps({k: v for k, v in results.items() if k != "methods"}, indent=2))
        print(_table(rows))
    return results


def _table(rows: dict) -> str:
    last = max(int(k.split("_")[1]) for k in next(iter(rows.values())) if k.startswith("mse_"))
    lines = [
        f"| method | α | MSE, 0 steps | MSE, 1 step | MSE, {last} steps |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        cells = [f"{r[f'mse_{s}_steps']:.3f} ± {r[f'ci95_{s}_steps']:.3f}" for s in (0, 1, last)]
        lines.append(f"| {name} | {r['inner_lr']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_curves(rows: dict, path: str, k: int) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for name, r in rows.items():
        ax.plot(r["curve"], marker="o", ms=3, label=f"{name} (α={r['inner_lr']:g})")
    ax.set(xlabel="number of gradient steps", ylabel="mean squared error", title=f"K = {k}")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _plot_fits(config, loss_fn, params_by_method, test, path) -> None:
    plt = _pyplot()
    model, e = make_model(config), config.eval
    grid = np.linspace(*X_RANGE, 200, dtype=np.float32)[:, None]
    n, methods = e.plot_tasks, list(params_by_method)
    fig, axes = plt.subplots(n, len(methods), figsize=(3 * len(methods), 2.2 * n), dpi=100)
    axes = np.asarray(axes).reshape(n, len(methods))
    for i in range(n):
        support = jax.tree.map(lambda x: x[i], test["support"])  # noqa: B023
        truth = sine(grid, test["amplitude"][i], test["phase"][i])
        for j, method in enumerate(methods):
            ax, p = axes[i, j], params_by_method[method]
            ax.plot(grid, truth, "k", lw=1, label="true")
            ax.plot(support["x"], support["y"], "^", color="purple", ms=4, label="K points")
            for steps, style in ((0, ":"), (1, "--"), (e.steps, "-")):
                y = _predict_adapted(loss_fn, p, support, grid, steps, e.inner_lr, model)
                ax.plot(grid, y, style, lw=1, label=f"{steps} steps")
            if i == 0:
                ax.set_title(method, fontsize=9)
            ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    cli.run(main)
