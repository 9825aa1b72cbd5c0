"""A 2-step run of every experiment's `quick` preset (end-to-end: data, model, fit, outputs)."""

import json
import os

import pytest

from experiments import mnist_classifier

EXPERIMENTS = [mnist_classifier]


@pytest.mark.parametrize("module", EXPERIMENTS, ids=lambda m: m.__name__.split(".")[-1])
def test_quick_preset_two_steps(module, tmp_path):
    wd = str(tmp_path / "run")
    module.main(["--preset", "quick", "--workdir", wd, "--config.total_steps=2",
                 "--config.log_every=1", "--config.eval_every=2", "--config.checkpoint_every=2"])
    assert os.path.exists(os.path.join(wd, "config.json"))
    with open(os.path.join(wd, "metrics.jsonl")) as f:
        steps = [json.loads(line)["step"] for line in f]
    assert 1 in steps and 2 in steps
    assert os.path.isdir(os.path.join(wd, "checkpoints", "2"))
