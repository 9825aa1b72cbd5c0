"""Hugging Face BERT / ALBERT / RoBERTa PyTorch state dicts -> `jaxdl.models.bert`. SPEC: SEQ-4.

Accepts the state dicts of `BertModel`, `AlbertModel`, `RobertaModel` (keys `embeddings...`)
and of their pre-training models `BertForPreTraining`, `AlbertForPreTraining`,
`RobertaForMaskedLM` (encoder keys under `bert.` / `albert.` / `roberta.`, heads `cls.`,
`predictions.` / `sop_classifier.`, `lm_head.`). Which names are read follows the jaxdl config:
ALBERT names for `share_layers=True` (one layer group holding one layer), RoBERTa's for
`padding_positions=True`, BERT's otherwise. Missing or unexpected keys and shape mismatches
(another vocabulary, width or layer count) raise a ValueError naming them. The MLM decoder must
be tied to the word embeddings, as in all three.
"""

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jaxdl.convert.loading import listing, to_numpy
from jaxdl.models.bert import Bert, BertConfig, BertForPreTraining

_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
_LAYER = {  # jaxdl layer module -> (BERT/RoBERTa name, ALBERT name)
    "attention/query": ("attention.self.query", "attention.query"),
    "attention/key": ("attention.self.key", "attention.key"),
    "attention/value": ("attention.self.value", "attention.value"),
    "attention/out": ("attention.output.dense", "attention.dense"),
    "attention_norm": ("attention.output.LayerNorm", "attention.LayerNorm"),
    "intermediate": ("intermediate.dense", "ffn"),
    "output": ("output.dense", "ffn_output"),
    "output_norm": ("output.LayerNorm", "full_layer_layer_norm"),
}
_HEADS = {  # family -> jaxdl head module -> HF name
    "bert": {
        "mlm_transform": "cls.predictions.transform.dense",
        "mlm_norm": "cls.predictions.transform.LayerNorm",
        "mlm_bias": "cls.predictions.bias",
        "sentence": "cls.seq_relationship",
        "decoder": "cls.predictions.decoder",
    },
    "albert": {
        "mlm_transform": "predictions.dense",
        "mlm_norm": "predictions.LayerNorm",
        "mlm_bias": "predictions.bias",
        "sentence": "sop_classifier.classifier",
        "decoder": "predictions.decoder",
    },
    "roberta": {
        "mlm_transform": "lm_head.dense",
        "mlm_norm": "lm_head.layer_norm",
        "mlm_bias": "lm_head.bias",
        "decoder": "lm_head.decoder",
    },
}


def family(config: BertConfig) -> str:
    """The Hugging Face naming a config follows: "albert", "roberta" or "bert"."""
    if config.share_layers:
        return "albert"
    return "roberta" if config.padding_positions else "bert"


def config_from_hf(hf: Mapping[str, Any], **overrides) -> BertConfig:
    """A `BertConfig` from a Hugging Face config (`config.json` dict or `config.to_dict()`).

    RoBERTa gets `pooler=False` (`RobertaForMaskedLM` has none); pass `pooler=True` for a
    `RobertaModel` checkpoint. `overrides` replace any field, e.g. `dropout=0.0`.
    """
    kind = hf.get("model_type", "bert")
    if kind not in _HEADS:
        raise ValueError(f"model_type {kind!r} is not one of {sorted(_HEADS)}")
    if kind == "albert" and (hf.get("num_hidden_groups", 1), hf.get("inner_group_num", 1)) != (
        1,
        1,
    ):
        raise ValueError("only ALBERT with num_hidden_groups = inner_group_num = 1 is supported")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are supported")
    kw = dict(
        vocab_size=hf["vocab_size"],
        hidden_size=hf["hidden_size"],
        num_layers=hf["num_hidden_layers"],
        num_heads=hf["num_attention_heads"],
        intermediate_size=hf["intermediate_size"],
        max_positions=hf["max_position_embeddings"],
        type_vocab_size=hf["type_vocab_size"],
        hidden_act=hf["hidden_act"],
        layer_norm_eps=hf["layer_norm_eps"],
        dropout=hf["hidden_dropout_prob"],
        attention_dropout=hf["attention_probs_dropout_prob"],
        pad_token_id=hf.get("pad_token_id") or 0,
        embedding_size=hf["embedding_size"] if kind == "albert" else None,
        share_layers=kind == "albert",
        padding_positions=kind == "roberta",
        sentence_head={"bert": "nsp", "albert": "sop", "roberta": None}[kind],
        pooler=kind != "roberta",
    )
    return BertConfig(**(kw | overrides))


def _hf_name(path: tuple[str, ...], fam: str, heads: bool) -> str:
    """jaxdl parameter path -> Hugging Face key (without the `bert.`-style prefix)."""
    *mods, leaf = path
    suffix = {"kernel": "weight", "scale": "weight", "embedding": "weight"}.get(leaf, leaf)
    if heads:
        if leaf == "mlm_bias":
            return _HEADS[fam]["mlm_bias"]
        if mods[0] != "bert":  # a head module
            return f"{_HEADS[fam][mods[0]]}.{suffix}"
        mods = mods[1:]
    top = mods[0]
    if top in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        return f"embeddings.{top}.{suffix}"
    if top == "embedding_norm":
        return f"embeddings.LayerNorm.{suffix}"
    if top == "embedding_projection":
        return f"encoder.embedding_hidden_mapping_in.{suffix}"
    if top == "pooler":
        return f"pooler.{suffix}" if fam == "albert" else f"pooler.dense.{suffix}"
    sub = _LAYER["/".join(mods[1:])]
    if top == "layer":  # ALBERT's shared layer
        return f"encoder.albert_layer_groups.0.albert_layers.0.{sub[1]}.{suffix}"
    return f"encoder.layer.{top.removeprefix('layers_')}.{sub[0]}.{suffix}"


def bert_params_from_hf(state_dict: Mapping[str, Any], model: Bert | BertForPreTraining) -> dict:
    """Params for `model` (a `Bert` or `BertForPreTraining`) from a Hugging Face state dict.

    Returns float32 numpy params; raises naming missing/unexpected keys or mismatched shapes.
    """
    fam = family(model.config)
    sd = {k.removeprefix(f"{fam}."): to_numpy(v) for k, v in state_dict.items()}
    decoder = _HEADS[fam]["decoder"]
    tied, heads = {}, isinstance(model, BertForPreTraining)
    if heads:
        tied = {k: sd.pop(k) for k in (f"{decoder}.weight", f"{decoder}.bias") if k in sd}
    for name in _BUFFERS:
        sd.pop(name, None)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 2), jnp.int32))
    expected = traverse_util.flatten_dict(shapes["params"])
    names = {path: _hf_name(path, fam, heads) for path in expected}
    missing = sorted(set(names.values()) - sd.keys())
    unexpected = sorted(sd.keys() - set(names.values()))
    if missing or unexpected:
        c = model.config
        raise ValueError(
            f"{fam} state dict does not match the model ({c.num_layers} layers, vocab_size "
            f"{c.vocab_size}, pooler={c.pooler}, sentence_head={c.sentence_head}): missing "
            f"{listing(missing) or 'none'}; unexpected {listing(unexpected) or 'none'}"
        )
    flat, wrong = {}, []
    for path, leaf in expected.items():
        name = names[path]
        w = sd[name].T if path[-1] == "kernel" else sd[name]
        if w.shape != leaf.shape:
            wrong.append(
                f"{name} {sd[name].shape} (model expects {leaf.shape} for {'/'.join(path)})"
            )
        flat[path] = np.asarray(w, np.float32)
    if wrong:
        raise ValueError("shape mismatch: " + "; ".join(wrong))
    _check_tied(tied, sd, fam)
    return traverse_util.unflatten_dict(flat)


def _check_tied(decoder: Mapping[str, np.ndarray], sd: Mapping[str, np.ndarray], fam: str) -> None:
    name = _HEADS[fam]["decoder"]
    pairs = [("weight", "embeddings.word_embeddings.weight"), ("bias", _HEADS[fam]["mlm_bias"])]
    for leaf, source in pairs:
        w = decoder.get(f"{name}.{leaf}")
        if w is not None and not np.array_equal(w, sd[source]):
            raise ValueError(
                f"{name}.{leaf} differs from {source}: untied decoders are not supported"
            )
