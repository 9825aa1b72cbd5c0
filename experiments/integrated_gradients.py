"""Integrated Gradients on the MNIST classifier (Sundararajan et al. 2017; SPEC BAS-8).

Trains (or reuses) `experiments.mnist_classifier` through `train_classifier`, explains its top
class logit on test digits against the black-image baseline, and writes into the workdir:
`attributions.png` (rows: input, IG, SmoothGrad, gradient × input; one digit per class), the
completeness error |Σ IG − (F(x) − F(x′))| / |F(x) − F(x′)| of every quadrature method and step
count (`results.md`, `results.json`), and Adebayo et al. 2018's cascading-randomization sanity
check (`sanity_check.png`: maps as the layers are re-initialized from the logits down, and the
Spearman rank correlation with the trained model's maps).
Quick (embedded MNIST-5k, 100 test digits; about 10 min on 2 CPU cores):
    python -m experiments.integrated_gradients --preset quick --workdir workdirs/ig_quick
Full (TFDS `mnist`, 1,000 test digits; needs the prepared dataset, see README):
    python -m experiments.integrated_gradients --workdir workdirs/ig
"""

from __future__ import annotations

import functools
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from experiments import mnist_classifier
from jaxdl import cli, data, explain
from jaxdl.train import load_params

PRESETS = ("quick", "full")
STAGES = ("trained", "Dense_1", "Dense_0", "Conv_1", "Conv_0")  # cascade, logits layer first
MAPS = ("integrated_gradients", "smoothgrad", "gradient_x_input")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0  # SmoothGrad noise and the re-initialized layers of the sanity check

    c.data = ml_collections.ConfigDict()
    c.data.dataset = "tfds:mnist"
    c.data.data_dir = ""  # TFDS data dir ("": $TFDS_DATA_DIR or ~/tensorflow_datasets)
    c.data.num_examples = 1000  # test digits, spread evenly over the (class-sorted) split

    c.model = ml_collections.ConfigDict()
    c.model.classifier_workdir = (
        ""  # a trained mnist_classifier run ("": train into WORKDIR/classifier)
    )

    c.train = ml_collections.ConfigDict()
    c.train.classifier_preset = "full"  # mnist_classifier preset used when training it here

    c.eval = ml_collections.ConfigDict()
    c.eval.methods = explain.METHODS  # quadrature rules in the completeness table
    c.eval.steps = (10, 20, 50, 100, 300)  # gradient evaluations per example
    c.eval.method = "midpoint"  # the rule of the pictures and the sanity check
    c.eval.method_steps = 50
    c.eval.smoothgrad_samples = 50  # Smilkov et al. 2017: 50 samples, noise 10-20% of the range
    c.eval.smoothgrad_noise = 0.15
    c.eval.chunk_size = 10  # path points (noise samples) per vmapped gradient call
    c.eval.batch_size = 100  # digits per call

    if preset == "quick":
        c.data.dataset = "mnist5k"
        c.data.num_examples = 100
        c.train.classifier_preset = "quick"
    elif preset not in (None, "full"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def _check(config) -> None:
    unknown = [m for m in (*config.eval.methods, config.eval.method) if m not in explain.METHODS]
    if unknown:
        raise cli.ConfigError(f"unknown methods {unknown}; valid: {list(explain.METHODS)}")
    bad = [s for s in (*config.eval.steps, config.eval.method_steps) if s < 2]
    if bad or config.data.num_examples < 1:
        raise cli.ConfigError("eval.steps and eval.method_steps need >= 2, num_examples >= 1")


def load_classifier(config, workdir: str):
    """(SimpleCNN, params) of the classifier; trained first through `train_classifier`."""
    cwd = config.model.classifier_workdir or os.path.join(workdir, "classifier")
    if not os.path.isdir(os.path.join(cwd, "checkpoints")):
        cconf = mnist_classifier.get_config(config.train.classifier_preset)
        cconf.data.dataset, cconf.data.data_dir = config.data.dataset, config.data.data_dir
        mnist_classifier.train_classifier(cconf, cwd)
    with open(os.path.join(cwd, "config.json")) as f:
        cconf = ml_collections.ConfigDict(json.load(f))
    return mnist_classifier.make_model(cconf), load_params(cwd), cconf.data.image_size


def test_digits(config, size: int) -> tuple[np.ndarray, np.ndarray]:
    src = cli.data_source(config.data.dataset, "test", config.data.data_dir)
    idx = np.linspace(0, len(src) - 1, config.data.num_examples).round().astype(int)
    prep = data.Compose(data.PadTo(size), data.ScaleToSymmetric())
    recs = [prep(src[int(i)], None) for i in idx]
    return np.stack([r["image"] for r in recs]), np.array([int(r["label"]) for r in recs])


def attribution_maps(config, f, x, target, key) -> dict[str, jax.Array]:
    """The three maps of `MAPS` for one batch of digits (x's shape each)."""
    e = config.eval
    ig = explain.integrated_gradients(
        f, x, -jnp.ones_like(x), e.method_steps, e.method, target, e.chunk_size
    )
    sg = explain.smoothgrad(
        f, x, key, e.smoothgrad_samples, e.smoothgrad_noise, target, e.chunk_size
    )
    maps = (ig.attributions, sg, explain.gradient_x_input(f, x, target))
    return dict(zip(MAPS, maps, strict=True))


def _batched(fn, *arrays, batch_size):
    outs = [
        fn(*(a[i : i + batch_size] for a in arrays)) for i in range(0, len(arrays[0]), batch_size)
    ]
    return jax.tree.map(lambda *p: np.concatenate(p), *outs)


def completeness_table(config, f, x, target) -> dict:
    """{method: {steps: {mean, median, max}}} of the relative completeness error."""
    table = {}
    runs = [(m, s) for m in config.eval.methods for s in config.eval.steps]
    for method, steps in tqdm(runs, desc="completeness"):
        ig = jax.jit(
            functools.partial(
                explain.integrated_gradients,
                f,
                steps=steps,
                method=method,
                chunk_size=config.eval.chunk_size,
            )
        )
        err = _batched(
            lambda xb, tb: ig(xb, -jnp.ones_like(xb), target=tb).completeness_error,  # noqa: B023
            x,
            target,
            batch_size=config.eval.batch_size,
        )
        table.setdefault(method, {})[str(steps)] = dict(
            mean=float(err.mean()), median=float(np.median(err)), max=float(err.max())
        )
    return table


def sanity_check(config, model, params, x, target) -> tuple[dict, dict]:
    """Cascading randomization: per stage of `STAGES` the maps of a few digits and the mean
    Spearman rank correlation (|·| and signed) with the trained model's maps."""
    fresh = model.init(jax.random.PRNGKey(config.seed + 1), x[:1])["params"]
    trees = [params, *explain.cascading_randomization(params, fresh, STAGES[1:])]
    key = jax.random.PRNGKey(config.seed)

    @jax.jit
    def fn(p, xb, tb):
        return attribution_maps(config, lambda z: model.apply({"params": p}, z), xb, tb, key)

    maps = [
        _batched(functools.partial(fn, p), x, target, batch_size=config.eval.batch_size)
        for p in tqdm(trees, desc="sanity check")
    ]
    corr = {
        name: {
            kind: [
                float(explain.rank_correlation(maps[0][name], m[name], kind == "absolute").mean())
                for m in maps
            ]
            for kind in ("absolute", "signed")
        }
        for name in MAPS
    }
    return corr, maps


def _show(ax, image, signed=True):
    image = np.asarray(image)[..., 0]
    if signed:
        v = np.percentile(np.abs(image), 99.5) or 1.0
        ax.imshow(image, cmap="bwr", vmin=-v, vmax=v)
    else:
        ax.imshow(image, cmap="gray", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_attributions(x, maps, columns, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = ("input", *MAPS)
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.3 * len(columns), 5.6))
    axes = np.asarray(axes).reshape(len(rows), len(columns))
    for j, i in enumerate(columns):
        _show(axes[0, j], x[i], signed=False)
        for r, name in enumerate(MAPS, 1):
            _show(axes[r, j], maps[name][i])
    for r, name in enumerate(rows):
        axes[r, 0].set_ylabel(name.replace("_", " "), fontsize=7)
    fig.suptitle("red: raises the predicted class's logit, blue: lowers it", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sanity(maps, corr, index, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 4))
    grid = fig.add_gridspec(len(MAPS), len(STAGES) + 4)
    for r, name in enumerate(MAPS):
        for s, stage in enumerate(STAGES):
            ax = fig.add_subplot(grid[r, s])
            _show(ax, maps[s][name][index])
            if r == 0:
                ax.set_title(stage if s == 0 else f"+ {stage}", fontsize=7)
            if s == 0:
                ax.set_ylabel(name.replace("_", " "), fontsize=7)
    ax = fig.add_subplot(grid[:, len(STAGES) + 1 :])
    for name in MAPS:
        for kind, style in (("absolute", "-"), ("signed", "--")):
            ax.plot(corr[name][kind], style, marker="o", label=f"{name} ({kind})")
    ax.set_xticks(range(len(STAGES)), ["trained", *[f"+{s}" for s in STAGES[1:]]], fontsize=7)
    ax.set(ylabel="Spearman rank corr. with trained", ylim=(-0.2, 1.05))
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_table(table: dict, steps) -> str:
    lines = [
        "| method | " + " | ".join(f"{s} steps" for s in steps) + " |",
        "|---|" + "---|" * len(steps),
    ]
    for method, row in table.items():
        cells = [f"{100 * row[str(s)]['mean']:.2f} ({100 * row[str(s)]['max']:.2f})" for s in steps]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="integrated_gradients", presets=PRESETS)
    _check(config)
    model, params, size = load_classifier(config, args.workdir)
    x, labels = test_digits(config, size)
    f = functools.partial(lambda p, z: model.apply({"params": p}, z), params)
    target = np.asarray(jnp.argmax(_batched(f, x, batch_size=config.eval.batch_size), -1))
    table = completeness_table(config, f, x, target)
    corr, maps = sanity_check(config, model, params, x, target)
    columns = [int(np.argmax(labels == c)) for c in np.unique(labels)]
    results = dict(
        num_examples=len(x),
        test_accuracy_on_these=float(np.mean(target == labels)),
        baseline="black image (-1)",
        explained="logit of the predicted class",
        completeness_relative_error=table,
        sanity_rank_correlation=dict(stages=list(STAGES), **corr),
    )
    os.makedirs(args.workdir, exist_ok=True)
    plot_attributions(x, maps[0], columns, os.path.join(args.workdir, "attributions.png"))
    plot_sanity(maps, corr, columns[0], os.path.join(args.workdir, "sanity_check.png"))
    cli.write_results(args.workdir, results, echo=False)
    md = write_table(table, config.eval.steps)
    with open(os.path.join(args.workdir, "results.md"), "w") as fp:
        fp.write("Completeness error, % (mean (max) over digits)\n\n" + md)
    print(md)
    return results


if __name__ == "__main__":
    cli.run(main)
