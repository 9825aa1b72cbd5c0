"""experiments.integrated_gradients end to end on a 2-step classifier and a few digits: the
outputs exist and hang together (SPEC BAS-8); configuration mistakes are usage errors."""

import json
import os

import pytest

from experiments import integrated_gradients as exp
from experiments import mnist_classifier
from jaxdl import cli


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("ig") / "classifier")
    cconf = mnist_classifier.get_config("quick")
    cconf.model.features, cconf.model.hidden = (4, 8), 16
    cconf.train.update(dict(total_steps=2, log_every=1, eval_every=0, checkpoint_every=2))
    mnist_classifier.train_classifier(cconf, wd)
    return wd


def test_quick_preset_on_a_tiny_run(classifier, tmp_path):
    wd = str(tmp_path / "run")
    results = exp.main(
        [
            "--preset",
            "quick",
            "--workdir",
            wd,
            "--config.model.classifier_workdir=" + classifier,
            "--config.data.num_examples=8",
            "--config.eval.methods=('right', 'trapezoid')",
            "--config.eval.steps=(2,)",
            "--config.eval.method_steps=4",
            "--config.eval.smoothgrad_samples=2",
            "--config.eval.chunk_size=3",
            "--config.eval.batch_size=4",
        ]
    )
    table = results["completeness_relative_error"]
    assert set(table) == {"right", "trapezoid"} and set(table["right"]) == {"2"}
    for row in table.values():
        for cell in row.values():
            assert 0 <= cell["median"] <= cell["max"] and cell["mean"] <= cell["max"]
    corr = results["sanity_rank_correlation"]
    assert corr["stages"] == list(exp.STAGES)
    for name in exp.MAPS:  # stage 0 is the trained model against itself
        assert corr[name]["absolute"][0] == pytest.approx(1.0, abs=1e-5)
        assert len(corr[name]["signed"]) == len(exp.STAGES)
    for name in ("attributions.png", "sanity_check.png", "results.md"):
        assert os.path.getsize(os.path.join(wd, name)) > 0
    with open(os.path.join(wd, "results.json")) as f:
        assert json.load(f)["num_examples"] == 8


@pytest.mark.parametrize(
    "override, match",
    [
        ("--config.eval.methods=('simpson',)", r"unknown methods \['simpson'\]; valid:"),
        ("--config.eval.steps=(1, 10)", "need >= 2"),
        ("--config.eval.nope=1", "unknown config key 'eval.nope'"),
    ],
)
def test_configuration_mistakes_are_usage_errors(override, match, tmp_path):
    with pytest.raises(cli.ConfigError, match=match):
        exp.main(["--preset", "quick", "--workdir", str(tmp_path), override])
