"""BERT / ALBERT / RoBERTa (SPEC SEQ-4) vs tiny random Hugging Face `transformers` models."""

import dataclasses
import functools

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

from jaxdl.convert.hf_bert import bert_params_from_hf, config_from_hf
from jaxdl.losses.distillation import tinybert_layer_loss
from jaxdl.models.bert import (
    Bert,
    BertClassifier,
    BertForPreTraining,
    albert_base,
    attention_maps,
    bert_base,
    roberta_base,
)
from jaxdl.nn.attention import masked_softmax

TOL = 1e-4
SIZES = dict(
    vocab_size=40,
    hidden_size=16,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=24,
    max_position_embeddings=20,
    attn_implementation="eager",
)
HF = {
    "bert": (transformers.BertConfig, transformers.BertForPreTraining, {}),
    "albert": (transformers.AlbertConfig, transformers.AlbertForPreTraining, {"embedding_size": 8}),
    "roberta": (
        transformers.RobertaConfig,
        transformers.RobertaForMaskedLM,
        {"type_vocab_size": 1},
    ),
}
IDS = np.array([[2, 5, 9, 13, 7, 3, 30, 11], [2, 17, 25, 39, 3, 0, 0, 0]], np.int64)
VALID = np.array([[1] * 8, [1] * 5 + [0] * 3], np.int64)


@functools.cache
def build_pair(name: str):
    """A tiny random HF pre-training model (LN and biases perturbed), its jaxdl twin, outputs."""
    config_cls, model_cls, extra = HF[name]
    torch.manual_seed(0)
    hf = model_cls(config_cls(**SIZES, **extra)).eval()
    with torch.no_grad():
        for p in hf.parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    ids = IDS.copy()
    if name == "roberta":  # RoBERTa pads with id 1, positions start after it
        ids[1, 5:] = hf.config.pad_token_id
    types = np.zeros_like(ids) if name == "roberta" else (np.arange(8) >= 4) * VALID
    with torch.no_grad():
        out = hf(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(VALID),
            token_type_ids=torch.from_numpy(types),
            output_hidden_states=True,
            output_attentions=True,
        )
    model = BertForPreTraining(config_from_hf(hf.config.to_dict(), dropout=0.0))
    params = bert_params_from_hf(hf.state_dict(), model)
    return name, hf, model, params, (ids, types), out


@pytest.fixture(scope="module", params=sorted(HF))
def hf_pair(request):
    return build_pair(request.param)


def random_params(model, *args, seed=0, scale=0.3):
    """Random normal params of the model's shapes, without running its (slow-to-compile) init."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), *args)["params"]
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: (scale * rng.normal(size=s.shape)).astype(np.float32), shapes)


def run(model, params, ids, types, valid=VALID):
    fn = jax.jit(lambda p, i, t, m: model.apply({"params": p}, i, t, m, mutable="intermediates"))
    return fn(params, jnp.asarray(ids, jnp.int32), jnp.asarray(types, jnp.int32), valid > 0)


def test_hidden_states_attention_and_heads_match_transformers(hf_pair):
    name, hf, model, params, (ids, types), ref = hf_pair
    out, inter = run(model, params, ids, types)
    hidden = out["output"].hidden_states
    assert len(hidden) == len(ref.hidden_states) == 4
    for got, want in zip(hidden, ref.hidden_states, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=TOL)
    weights = attention_maps(inter, "weights")
    for got, want in zip(weights, ref.attentions, strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=TOL)
    # the sown pre-softmax scores give those weights once padded keys are masked
    key_mask = jnp.asarray(VALID > 0)[:, None, None, :]
    for scores, w in zip(attention_maps(inter), weights, strict=True):
        np.testing.assert_allclose(masked_softmax(scores, key_mask), w, atol=1e-6)
    logits = ref.logits if name == "roberta" else ref.prediction_logits
    np.testing.assert_allclose(out["mlm_logits"], logits.numpy(), atol=TOL)
    if name == "roberta":
        assert out["sentence_logits"] is None and "pooler" not in params["bert"]
    else:
        sentence = ref.seq_relationship_logits if name == "bert" else ref.sop_logits
        np.testing.assert_allclose(out["sentence_logits"], sentence.numpy(), atol=TOL)


def test_base_model_state_dict_loads_into_the_encoder(hf_pair):
    name, hf, model, _, (ids, types), ref = hf_pair
    encoder = getattr(hf, name)  # BertModel / AlbertModel / RobertaModel
    bert = Bert(dataclasses.replace(model.config, pooler=name != "roberta"))
    params = bert_params_from_hf(encoder.state_dict(), bert)
    out, _ = run(bert, params, ids, types)
    np.testing.assert_allclose(out.last_hidden_state, ref.hidden_states[-1].numpy(), atol=TOL)


def test_parameter_counts_equal_transformers_base_models():
    counts = {}
    for cfg, hf_cls, hf_cfg in [
        (bert_base(), transformers.BertModel, transformers.BertConfig()),
        (
            albert_base(),
            transformers.AlbertModel,
            transformers.AlbertConfig(
                hidden_size=768, num_attention_heads=12, intermediate_size=3072
            ),
        ),
        (
            roberta_base(),
            transformers.RobertaModel,
            transformers.RobertaConfig.from_dict(
                dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1)
            ),
        ),
    ]:
        with torch.device("meta"):
            want = sum(p.numel() for p in hf_cls(hf_cfg).parameters())
        shapes = jax.eval_shape(Bert(cfg).init, jax.random.key(0), jnp.zeros((1, 4), jnp.int32))
        counts[hf_cls.__name__] = sum(x.size for x in jax.tree.leaves(shapes))
        assert counts[hf_cls.__name__] == want
    # SPEC SEQ-4: BERT-base 110M, ALBERT-base 12M
    assert abs(counts["BertModel"] / 110e6 - 1) < 0.01
    assert abs(counts["AlbertModel"] / 12e6 - 1) < 0.03


def test_tinybert_loss_on_student_and_teacher_outputs():
    _, _, model, params, (ids, types), _ = build_pair("bert")
    student = Bert(dataclasses.replace(model.config, num_layers=1))
    s_params = random_params(student, jnp.asarray(ids, jnp.int32))
    s_out, s_inter = run(student, s_params, ids, types)
    t_out, t_inter = run(model, params, ids, types)
    eye = {"kernel": jnp.eye(16), "bias": jnp.zeros(16)}
    total, parts = tinybert_layer_loss(
        s_out.hidden_states,
        t_out["output"].hidden_states,
        attention_maps(s_inter),
        attention_maps(t_inter),
        {"embedding": eye, "hidden": eye},
        jnp.asarray(VALID > 0),
    )
    assert float(total) > 0 and all(np.isfinite(float(v)) for v in parts.values())
    # the teacher's own embeddings and first layer, mapped with g(1) = 1, have zero loss
    same, _ = tinybert_layer_loss(
        t_out["output"].hidden_states[:2],
        t_out["output"].hidden_states[:2],
        attention_maps(t_inter)[:1],
        attention_maps(t_inter)[:1],
        {"embedding": eye, "hidden": eye},
        mapping=(0, 1),
    )
    assert float(same) == 0.0


def test_dense_kernels_and_embeddings_start_at_normal_0_02():
    """BERT's initializer_range: every kernel and embedding ~ N(0, 0.02), attention included."""
    config = bert_base(
        vocab_size=64, hidden_size=64, num_layers=1, num_heads=2, intermediate_size=64
    )
    init = jax.jit(BertForPreTraining(config).init)
    params = init(jax.random.key(0), jnp.ones((1, 4), jnp.int32))
    flat = flax.traverse_util.flatten_dict(params["params"], sep="/")
    kernels = {k: v for k, v in flat.items() if k.endswith(("kernel", "embedding"))}
    assert {"bert/layers_0/attention/query/kernel", "bert/layers_0/attention/out/kernel"} <= set(
        kernels
    )
    for path, w in kernels.items():
        if w.size >= 1000:  # too few values to estimate the spread
            assert abs(float(jnp.std(w)) - 0.02) < 1.5e-3, path
            assert abs(float(jnp.mean(w))) < 1.5e-3, path


def test_classifier_shapes():
    _, _, model, params, (ids, types), _ = build_pair("albert")
    clf = BertClassifier(model.config, num_labels=3)
    v = {"params": random_params(clf, jnp.asarray(ids, jnp.int32)) | {"bert": params["bert"]}}
    logits = jax.jit(clf.apply)(v, jnp.asarray(ids, jnp.int32))
    chex.assert_shape(logits, (2, 3))
    chex.assert_tree_all_finite(logits)


def test_bad_input_and_mismatched_checkpoints_are_named(hf_pair):
    name, hf, model, params, (ids, types), _ = hf_pair

    def apply(i, t=None, m=None, mdl=model):
        return mdl.apply({"params": params}, jnp.asarray(i, jnp.int32), t, m)

    with pytest.raises(ValueError, match=r"ids must lie in \[0, vocab_size=40\)"):
        apply(np.where(ids == 39, 40, ids))
    limit = 20 - (2 if name == "roberta" else 0)  # RoBERTa: positions start at pad_id + 1 = 2
    with pytest.raises(ValueError, match=rf"length {limit + 1} exceeds .*max_positions={limit}"):
        apply(np.full((1, limit + 1), 5))
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(B, L\) = \(2, 8\)"):
        apply(ids, None, jnp.ones((2, 7), bool))
    if name == "bert":
        with pytest.raises(ValueError, match=r"token type ids must lie in \[0, vocab_size=2\)"):
            apply(ids, jnp.full((2, 8), 2, jnp.int32))
    sd = hf.state_dict()
    other_vocab = BertForPreTraining(dataclasses.replace(model.config, vocab_size=41))
    with pytest.raises(ValueError, match=r"embeddings\.word_embeddings\.weight \(40, "):
        bert_params_from_hf(sd, other_vocab)
    deeper = BertForPreTraining(dataclasses.replace(model.config, num_layers=4))
    if name == "albert":  # shared layers: the layer count is not in the checkpoint
        bert_params_from_hf(sd, deeper)
    else:
        with pytest.raises(ValueError, match=r"missing encoder\.layer\.3\.attention"):
            bert_params_from_hf(sd, deeper)
        shallower = BertForPreTraining(dataclasses.replace(model.config, num_layers=2))
        with pytest.raises(ValueError, match=r"unexpected encoder\.layer\.2\."):
            bert_params_from_hf(sd, shallower)
    untied = dict(sd)
    decoder = next(k for k in sd if k.endswith("decoder.weight"))
    untied[decoder] = sd[decoder] + 1
    with pytest.raises(ValueError, match="untied decoders are not supported"):
        bert_params_from_hf(untied, model)
