"""BERT-base encoder: jaxdl vs Hugging Face `transformers` BertModel on PyTorch CPU, one run.

    python -m benchmarks.text [--only speed,parity] [--batch 8] [--seq 128] [--repeats 5]
                              [--out FILE]

Same architecture and sizes on both sides (BERT-base: L=12, H=768, A=12, vocab 30522, SPEC
SEQ-4), same inputs. Two measurements each: `forward` (encoder + pooler, inference, no
gradients) and `train_step` (encoder + tied MLM head, softmax cross-entropy on every token,
backward, AdamW update; dropout 0.1 unless `--dropout`). One JSON line per measurement with the
median seconds (harness: first call, including compilation, reported separately), then a
`ratio` line (jaxdl median / torch median; below 1 means jaxdl is faster).

`parity`: the largest differences behind docs/sequence_models.md, on the tests' tiny references
(`tests/test_models_transformer.py`, `tests/test_models_bert.py`): torch.nn.Transformer for both
norm placements, cached vs full decoding, and BERT/ALBERT/RoBERTa hidden states, attention
probabilities and MLM logits vs `transformers`. Needs the dev extra.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.harness import Reporter, machine_info, time_fn


def _jax_fns(batch: int, seq: int, dropout: float):
    import jax
    import jax.numpy as jnp
    import optax

    from jaxdl.models.bert import Bert, BertForPreTraining, bert_base

    config = bert_base(dropout=dropout, attention_dropout=dropout)
    rng = np.random.default_rng(0)
    ids = jnp.asarray(rng.integers(0, config.vocab_size, (batch, seq)), jnp.int32)
    targets = jnp.asarray(rng.integers(0, config.vocab_size, (batch, seq)), jnp.int32)
    model = BertForPreTraining(config)
    params = jax.jit(model.init)(jax.random.key(0), ids)["params"]
    tx = optax.adamw(1e-4)
    opt_state = tx.init(params)
    encoder = Bert(config)

    @jax.jit
    def forward(p, x):
        out = encoder.apply({"params": p["bert"]}, x)
        return out.last_hidden_state, out.pooled

    def loss_fn(p, x, y, key):
        logits = model.apply({"params": p}, x, deterministic=False, rngs={"dropout": key})
        return optax.softmax_cross_entropy_with_integer_labels(logits["mlm_logits"], y).mean()

    @jax.jit
    def train_step(p, o, x, y, key):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y, key)
        updates, o = tx.update(g, o, p)
        return optax.apply_updates(p, updates), o, loss

    state = {"p": params, "o": opt_state, "step": 0}

    def step():
        state["step"] += 1
        key = jax.random.fold_in(jax.random.key(1), state["step"])
        state["p"], state["o"], loss = train_step(state["p"], state["o"], ids, targets, key)
        return loss

    return (lambda: forward(state["p"], ids)), step


def _torch_fns(batch: int, seq: int, dropout: float):
    import torch
    import transformers

    cfg = transformers.BertConfig(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(cfg)
    rng = np.random.default_rng(0)
    ids = torch.from_numpy(rng.integers(0, cfg.vocab_size, (batch, seq)))
    targets = torch.from_numpy(rng.integers(0, cfg.vocab_size, (batch, seq)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def forward():
        model.eval()
        with torch.no_grad():
            model.bert(input_ids=ids)
        return np.zeros(())  # a value the harness can block on; torch CPU is synchronous

    def step():
        model.train()
        logits = model(input_ids=ids).prediction_logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, cfg.vocab_size), targets.ravel()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        return np.asarray(loss.item())

    return forward, step


def parity(rep: Reporter) -> None:
    import jax.numpy as jnp
    import torch

    from jaxdl.models.bert import attention_maps
    from jaxdl.models.transformer import Transformer, init_cache
    from tests import test_models_bert as tb
    from tests import test_models_transformer as tt

    def worst(pairs):
        return max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in pairs)

    for norm_first in (False, True):
        _, ref, params = tt.build_torch(norm_first)
        model = tt.tiny(norm_first)
        src, tgt = np.random.default_rng(1).normal(size=(2, 2, 7, tt.D)).astype(np.float32)
        src_valid, tgt_valid = tt.valid(tt.SRC_LEN, 7), tt.valid(tt.TGT_LEN, 7)
        want = ref(
            torch.from_numpy(src),
            torch.from_numpy(tgt),
            tgt_mask=ref.generate_square_subsequent_mask(7, dtype=torch.bool),
            src_key_padding_mask=torch.from_numpy(~src_valid),
            tgt_key_padding_mask=torch.from_numpy(~tgt_valid),
            memory_key_padding_mask=torch.from_numpy(~src_valid),
        ).detach()
        got = _stacks(model, params, src, tgt, src_valid, tgt_valid)
        rep.emit(f"parity/transformer/norm_first={norm_first}", max_abs=worst([(got, want)]))
    model, params, src, src_mask = tt.build_random_model()
    tgt = jnp.array([[1, 3, 5, 7, 9, 2], [1, 4, 6, 8, 10, 12]], jnp.int32)
    memory = model.apply({"params": params}, src, src_mask, method=Transformer.encode)
    full = model.apply({"params": params}, tgt, memory, src_mask, method=Transformer.decode)
    cache, steps = init_cache(model, params, memory, 6), []
    for i in range(6):
        y, vs = model.apply(
            {"params": params, "cache": cache},
            tgt[:, i : i + 1],
            memory,
            src_mask,
            decode=True,
            method=Transformer.decode,
            mutable=["cache"],
        )
        cache = vs["cache"]
        steps.append(y)
    rep.emit(
        "parity/transformer/cached_decoding", max_abs=worst([(jnp.concatenate(steps, 1), full)])
    )
    for name in sorted(tb.HF):
        _, _, model, params, (ids, types), ref = tb.build_pair(name)
        out, inter = tb.run(model, params, ids, types)
        logits = ref.logits if name == "roberta" else ref.prediction_logits
        rep.emit(
            f"parity/{name}",
            hidden_states=worst(zip(out["output"].hidden_states, ref.hidden_states, strict=True)),
            attention_probabilities=worst(
                zip(attention_maps(inter, "weights"), ref.attentions, strict=True)
            ),
            mlm_logits=worst([(out["mlm_logits"], logits)]),
        )


def _stacks(model, params, src, tgt, src_valid, tgt_valid):
    from jaxdl.models.transformer import TransformerDecoder, TransformerEncoder
    from jaxdl.nn.attention import causal_mask, padding_mask

    kw = dict(
        num_heads=model.num_heads,
        dim_feedforward=model.dim_feedforward,
        dropout=0.0,
        norm_first=model.norm_first,
        final_norm=True,
    )
    enc = TransformerEncoder(model.num_encoder_layers, **kw)
    dec = TransformerDecoder(model.num_decoder_layers, **kw)
    memory = enc.apply({"params": params["encoder"]}, src, padding_mask(src_valid))
    self_mask = causal_mask(tgt.shape[1]) & padding_mask(tgt_valid)
    cross_mask = padding_mask(src_valid)
    return dec.apply({"params": params["decoder"]}, tgt, memory, self_mask, cross_mask)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="speed,parity", help="comma-separated: speed, parity")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    rep = Reporter(args.out)
    sections = set(args.only.split(","))
    if sections - {"speed", "parity"}:
        ap.error(f"unknown sections {sorted(sections - {'speed', 'parity'})}; valid: speed, parity")
    if "parity" in sections:
        parity(rep)
    if "speed" in sections:
        speed(rep, args)


def speed(rep: Reporter, args: argparse.Namespace) -> None:
    import torch

    common = dict(batch=args.batch, seq=args.seq, dropout=args.dropout)
    info = machine_info() | {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    medians = {}
    for lib, build in (("jaxdl", _jax_fns), ("torch", _torch_fns)):
        forward, step = build(args.batch, args.seq, args.dropout)
        for name, fn in (("forward", forward), ("train_step", step)):
            t = time_fn(fn, repeats=args.repeats, warmup=2)
            medians[lib, name] = t["median_s"]
            rep.emit(f"text/bert_base/{name}/{lib}", **common, **t, **info)
    for name in ("forward", "train_step"):
        ratio = medians["jaxdl", name] / medians["torch", name]
        rep.emit(f"text/bert_base/{name}/ratio", **common, jaxdl_over_torch=ratio)


if __name__ == "__main__":
    main()
