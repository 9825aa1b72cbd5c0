"""Grapheme-to-phoneme conversion on CMUdict with seq2seq models (SPEC SEQ-1, SEQ-2, SEQ-3).

Spelling -> ARPAbet phonemes (39, no stress), fixed word-level split of the CMU Pronouncing
Dictionary (`jaxdl.data.cmudict`, needs `pip install "jaxdl[text]"`). Reports the phoneme and
word error rates (PER, WER: Yao & Zweig 2015) on the test split and draws attention alignments:
    python -m experiments.g2p_seq2seq --preset quick --workdir workdirs/g2p_quick
Presets: attention (default: 2-layer BiLSTM encoder, LSTM decoder, general attention, beam 5),
no_attention (the same without attention: the decoder sees only the encoder's final states),
transformer (`jaxdl.models.transformer.Transformer`, Pre-LN, greedy decoding), quick (a 1-layer
attention model, ~10 min on 2 CPU cores). Writes results.json and alignment.png.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import cli, data
from jaxdl.data import cmudict
from jaxdl.metrics.edit_distance import error_rates
from jaxdl.models import seq2seq, transformer
from jaxdl.train import Task, engine_config, fit, step_options, supervised

PRESETS = ("attention", "no_attention", "transformer", "quick")


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data = ml_collections.ConfigDict()
    c.data.stress = False  # True: 69 stress-marked phonemes instead of 39
    c.data.max_letters = (
        20  # training words longer than this are left out (2 of 113,690 pronunciations)
    )
    c.data.max_phonemes = 20
    c.model = ml_collections.ConfigDict()
    c.model.kind = "lstm"  # "lstm" (Seq2Seq) | "transformer"
    c.model.embed = 128
    c.model.hidden = 256  # encoder LSTM per direction (decoder: 2x)
    c.model.num_layers = 2
    c.model.attention = "general"  # dot | general | concat | mlp | "none"
    c.model.attention_hidden = 256  # concat/mlp score width
    c.model.dropout = 0.3
    c.model.d_model = 256  # transformer sizes
    c.model.num_heads = 4
    c.model.transformer_layers = 3
    c.model.dim_feedforward = 1024
    c.train = engine_config(
        total_steps=30000,
        batch_size=128,
        log_every=200,
        eval_every=5000,
        checkpoint_every=5000,
        clip_norm=5.0,  # global-norm clipping (SPEC SEQ-2)
    )
    c.train.learning_rate = 2e-3  # Adam, linear warm-up then cosine decay
    c.train.warmup_steps = 1000
    c.eval = ml_collections.ConfigDict()
    c.eval.batch_size = 500
    c.eval.beam_size = 5  # 1: greedy
    c.eval.max_len = 24  # decoded phonemes (the longest test pronunciation has 18)
    c.eval.valid_words = 1000  # valid subset scored every eval_every steps
    c.eval.test_words = 0  # 0: the whole test split (12,420 words)
    c.eval.alignment_words = ("mustache", "jaundice", "doctrine", "another")  # test-split words
    if preset == "no_attention":
        c.model.attention = "none"
    elif preset == "transformer":
        c.model.kind, c.model.dropout, c.eval.beam_size = "transformer", 0.1, 1
        c.train.learning_rate = 1e-3
    elif preset == "quick":
        c.model.embed, c.model.hidden, c.model.num_layers = 64, 64, 1
        c.model.attention_hidden, c.model.dropout = 64, 0.1
        c.train.total_steps, c.train.eval_every, c.train.checkpoint_every = 3000, 1500, 1500
        c.train.learning_rate, c.train.warmup_steps, c.train.log_every = 3e-3, 200, 100
        c.eval.beam_size = 1
    elif preset not in (None, "attention"):
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def make_model(config, src_vocab: int, tgt_vocab: int):
    m = config.model
    if m.kind == "transformer":
        return transformer.Transformer(
            src_vocab,
            tgt_vocab,
            d_model=m.d_model,
            num_heads=m.num_heads,
            num_encoder_layers=m.transformer_layers,
            num_decoder_layers=m.transformer_layers,
            dim_feedforward=m.dim_feedforward,
            dropout=m.dropout,
            norm_first=True,
            max_len=64,
        )
    if m.kind != "lstm":
        raise cli.ConfigError(f"config.model.kind={m.kind!r}; choose 'lstm' or 'transformer'")
    attention = None if m.attention == "none" else m.attention
    if attention is not None and attention not in seq2seq.SCORES:
        raise cli.ConfigError(
            f"config.model.attention={m.attention!r}; choose from {(*seq2seq.SCORES, 'none')}"
        )
    return seq2seq.Seq2Seq(
        src_vocab,
        tgt_vocab,
        embed=m.embed,
        hidden=m.hidden,
        num_layers=m.num_layers,
        attention=attention,
        attention_hidden=m.attention_hidden,
        dropout=m.dropout,
    )


def _logits(model, params, src, tgt_in, rng=None):
    rngs = None if rng is None else {"dropout": rng}
    if isinstance(model, transformer.Transformer):
        return model.apply(
            {"params": params},
            src,
            tgt_in,
            src != cmudict.PAD,
            tgt_in != cmudict.PAD,
            deterministic=rng is None,
            rngs=rngs,
        )
    return model.apply({"params": params}, src, tgt_in, deterministic=rng is None, rngs=rngs)[0]


def make_decoder(model, config):
    """jitted (params, src (B, S)) -> (tokens (B, max_len), attention (B, max_len, S) or None)."""
    e, bos, eos = config.eval, cmudict.BOS, cmudict.EOS
    if isinstance(model, transformer.Transformer):
        if e.beam_size != 1:
            raise cli.ConfigError("the transformer preset decodes greedily: set eval.beam_size=1")
        fn = lambda p, s: (  # noqa: E731
            transformer.greedy_decode(model, p, s, s != cmudict.PAD, bos, e.max_len, eos),
            None,
        )
    elif e.beam_size == 1:
        fn = lambda p, s: seq2seq.greedy_decode(model, p, s, e.max_len, bos, eos)  # noqa: E731
    else:
        fn = lambda p, s: (  # noqa: E731
            seq2seq.beam_search(model, p, s, e.max_len, bos, eos, beam=e.beam_size)[0],
            None,
        )
    return jax.jit(fn)


def _source_batches(words, width: int, batch_size: int):
    """(batch_size, max(width, longest word)) grapheme ids per chunk of words; the last chunk is
    filled with copies of its first row (one compiled shape for every call)."""
    g = cmudict.grapheme_vocab()
    src = cmudict.pad_ids([g.encode(w) for w in words], max(width, *map(len, words)))
    for i in range(0, len(words), batch_size):
        chunk = src[i : i + batch_size]
        yield np.concatenate([chunk, np.repeat(chunk[:1], batch_size - len(chunk), 0)]), len(chunk)


def g2p_scores(decode, params, split_entries, width: int, batch_size: int) -> dict:
    """PER and WER of `decode` on [(word, prons)] (each word against its closest pronunciation)."""
    words = [w for w, _ in split_entries]
    vocab, hyps = cmudict.phoneme_vocab(), []
    for src, n in _source_batches(words, width, batch_size):
        hyps += [vocab.decode(t) for t in np.asarray(decode(params, src)[0])[:n]]
    rates = error_rates(hyps, [p for _, p in split_entries])
    return {
        "per": rates["token_error_rate"],
        "wer": rates["sequence_error_rate"],
        "words": len(words),
    }


def build(config: ml_collections.ConfigDict):
    """-> (Task, model, decode); the task's evaluator scores a valid subset."""
    d, t = config.data, config.train
    vocab_sizes = cmudict.grapheme_vocab().size, cmudict.phoneme_vocab(d.stress).size
    model = make_model(config, *vocab_sizes)
    decode = make_decoder(model, config)
    train = cmudict.G2PSource(
        "train", max_letters=d.max_letters, max_phonemes=d.max_phonemes, stress=d.stress
    )

    def loss_fn(params, batch, rng):
        logits = _logits(model, params, batch["graphemes"], batch["decoder_input"], rng)
        mask = (batch["target"] != cmudict.PAD).astype(jnp.float32)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["target"])
        correct = (jnp.argmax(logits, -1) == batch["target"]).astype(jnp.float32)
        n = jnp.sum(mask)
        return jnp.sum(nll * mask) / n, {"token_accuracy": jnp.sum(correct * mask) / n}

    def init_fn(rng):
        example = train[0]
        return model.init(rng, example["graphemes"][None], example["decoder_input"][None])["params"]

    schedule = optax.warmup_cosine_decay_schedule(
        0.0, t.learning_rate, t.warmup_steps, max(t.total_steps, t.warmup_steps + 1)
    )
    init_state, train_step = supervised(
        loss_fn, optax.adam(schedule), init_fn=init_fn, **step_options(t)
    )
    batches = data.make_pipeline(train, global_batch_size=t.batch_size, seed=config.seed)
    valid = cmudict.entries("valid", d.stress)[: config.eval.valid_words]

    def valid_scores(state):
        scores = g2p_scores(decode, state.params, valid, d.max_letters, config.eval.batch_size)
        yield from (("valid/per", scores["per"]), ("valid/wer", scores["wer"]))

    return Task(init_state, train_step, batches, evaluators=[valid_scores]), model, decode


def alignment_figure(decode, params, words, width: int, batch_size: int, path: str):
    """Attention weights (decoded phonemes x letters) of a few words, one panel each;
    `decode` returns (tokens, attention) (greedy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    src, _ = next(_source_batches(words, width, batch_size))
    tokens, weights = (np.asarray(a) for a in decode(params, src))
    fig, axes = plt.subplots(1, len(words), figsize=(3.2 * len(words), 3.4), dpi=120)
    for i, (ax, word) in enumerate(zip(np.atleast_1d(axes), words, strict=True)):
        phones = cmudict.phoneme_vocab().decode(tokens[i])
        ax.imshow(weights[i, : len(phones) + 1, : len(word)], cmap="Greys", vmin=0, vmax=1)
        ax.set_xticks(range(len(word)), list(word))
        ax.set_yticks(range(len(phones) + 1), [*phones, "</s>"], fontsize=7)
        ax.set_title(word, fontsize=9)
    fig.suptitle("attention weights: decoded phoneme (rows) over letters (columns)", fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    config, args = cli.parse(argv, get_config, name="g2p_seq2seq", presets=PRESETS)
    cli.init_distributed(args)
    try:
        version = cmudict.cmudict_version()
    except ImportError as e:
        raise cli.MissingInputError(str(e)) from e
    t0 = time.time()
    task, model, decode = build(config)
    state = fit(task, config, args.workdir)
    e = config.eval
    test = cmudict.entries("test", config.data.stress)[: e.test_words or None]
    results = {
        "model": config.model.kind,
        "attention": config.model.attention if config.model.kind == "lstm" else "multi-head",
        "decoding": "greedy" if e.beam_size == 1 else f"beam {e.beam_size}",
        "test": g2p_scores(decode, state.params, test, config.data.max_letters, e.batch_size),
        "parameters": int(sum(x.size for x in jax.tree.leaves(state.params))),
        "steps": int(state.step),
        "cmudict_version": version,
        "wall_time_s": time.time() - t0,
    }
    if jax.process_index() == 0:
        if config.model.kind == "lstm" and config.model.attention != "none":
            greedy = (
                decode
                if e.beam_size == 1
                else jax.jit(
                    lambda p, s: seq2seq.greedy_decode(
                        model, p, s, e.max_len, cmudict.BOS, cmudict.EOS
                    )
                )
            )
            alignment_figure(
                greedy,
                state.params,
                list(e.alignment_words),
                config.data.max_letters,
                e.batch_size,
                os.path.join(args.workdir, "alignment.png"),
            )
        with open(os.path.join(args.workdir, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    cli.run(main)
