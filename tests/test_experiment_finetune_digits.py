"""2-step runs of experiments.finetune_digits: the methods through `fit`, outputs written;
command-line mistakes exit 2."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from experiments import finetune_digits
from jaxdl import cli

TINY = [
    "--config.train.total_steps=2",
    "--config.train.pretrain_steps=2",
    "--config.train.batch_size=8",
    "--config.train.pretrain_batch_size=8",
    "--config.train.unfreeze_every=1",  # gradual: two phases in two steps
    "--config.train.eval_every=1",
    "--config.model.width=2",
    "--config.model.stage_sizes=(1,)",
    "--config.data.labels_per_class=(10,)",
    "--config.seeds=1",
    "--config.train.methods=('frozen','gradual','llrd')",  # scratch and full: the llrd path at m=1
]
METHODS = ("frozen", "gradual", "llrd")


def test_two_steps_write_results_table_and_curves(tmp_path):
    wd = str(tmp_path / "ft")
    results = finetune_digits.main(["--preset", "quick", "--workdir", wd, *TINY])
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    assert set(saved["summary"]) == set(METHODS)
    assert saved["summary"] == results["summary"]
    for run in saved["runs"]:
        assert [s for s, _ in run["curve"]] == [1, 2]  # evaluated after each step
        assert 0.0 <= run["accuracy"] <= 1.0 and run["accuracy"] == run["curve"][-1][1]
        assert run["labels_per_class"] == 10 and run["seed"] == 0
    assert saved["summary"]["llrd"]["10"]["std"] == 0.0
    assert 0.0 <= saved["pretrain_test_accuracy"] <= 1.0
    table = open(os.path.join(wd, "results.md")).read()
    assert table.count("\n") == 2 + len(METHODS) and "`gradual`" in table
    assert Image.open(os.path.join(wd, "curves.png")).size[0] > 300
    # gradual unfreezing resumed its second phase from the first one's checkpoint
    ckpts = os.listdir(os.path.join(wd, "seed_0", "labels_10", "gradual", "checkpoints"))
    assert "2" in ckpts


def test_label_subset_is_per_class_and_seeded():
    labels = np.repeat(np.arange(10), 20)
    idx = finetune_digits.label_subset(labels, 3, seed=0)
    assert np.all(np.bincount(labels[idx], minlength=10) == 3)
    assert not np.array_equal(idx, finetune_digits.label_subset(labels, 3, seed=1))
    assert np.array_equal(finetune_digits.label_subset(labels, 0, seed=0), np.arange(200))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "nope"], "invalid choice: 'nope'"),
        (["--config.train.methods=('full','nope')"], "choose from"),
        (["--config.data.pretrain_dataset=nope"], "unknown data source 'nope'"),
    ],
)
def test_command_line_mistakes_exit_2(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(finetune_digits.main, [*argv, "--workdir", str(tmp_path)])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
