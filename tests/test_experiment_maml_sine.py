"""experiments.maml_sine: a 2-step run of every method writes the table and pictures; config
layout; usage errors (SPEC BAS-9)."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from experiments import maml_sine
from jaxdl import cli
from jaxdl.train import TrainConfig, step_options

TINY = [
    "--preset",
    "quick",
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",  # tasks; divisible by the 8 simulated devices
    "--config.train.checkpoint_every=0",
    "--config.train.reptile_inner_steps=3",
    "--config.model.hidden=(8, 8)",
    "--config.eval.num_tasks=16",
    "--config.eval.num_val_tasks=8",
    "--config.eval.steps=3",
    "--config.eval.tune_lrs=(0.01, 0.05)",
    "--config.eval.plot_tasks=2",
]


def test_two_steps_of_every_method_write_table_and_pictures(tmp_path):
    wd = str(tmp_path / "run")
    results = maml_sine.main(["--workdir", wd, *TINY])
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(results))
    rows = saved["methods"]
    assert set(rows) == {*maml_sine.METHODS, "pretrain_tuned"}
    assert rows["pretrain_tuned"]["inner_lr"] in (0.01, 0.05) and rows["maml"]["inner_lr"] == 0.01
    for row in rows.values():
        assert len(row["curve"]) == 4  # after 0..3 steps
        assert np.isfinite(row["curve"]).all() and row["mse_3_steps"] >= 0
        assert row["mse_0_steps"] == pytest.approx(row["curve"][0], rel=1e-3, abs=1e-5)
    assert rows["maml"]["mse_0_steps"] != rows["pretrain"]["mse_0_steps"]  # trained separately
    for method in maml_sine.METHODS:
        assert os.path.isdir(os.path.join(wd, method, "checkpoints"))
    for name in ("curves.png", "fits.png"):
        assert Image.open(os.path.join(wd, name)).size[0] > 200


def test_configs_group_their_keys():
    for preset in (None, *maml_sine.PRESETS):
        c = maml_sine.get_config(preset)
        assert isinstance(c.seed, int) and {"data", "model", "train", "eval"} <= set(c)
        TrainConfig.from_config(c)
        assert set(step_options(c.train)) == {
            "accum_steps",
            "clip_norm",
            "ema_decay",
            "ema_warmup",
            "compute_dtype",
            "skip_nonfinite",
        }
    paper = maml_sine.get_config(None)  # Finn et al. 2017, §5.1
    assert paper.train.total_steps == 70_000 and paper.train.batch_size == 25
    assert (paper.train.inner_lr, paper.train.inner_steps, paper.train.learning_rate) == (
        0.01,
        1,
        1e-3,
    )
    assert paper.data.num_support == 10 and tuple(paper.model.hidden) == (40, 40)
    with pytest.raises(cli.ConfigError, match="unknown preset 'nope'"):
        maml_sine.get_config("nope")


@pytest.mark.parametrize(
    "override, message",
    [
        ("--config.train.inner_steps=0", "inner_steps must be an int >= 1, got 0"),
        ("--config.train.reptile_inner_lr=0.0", "inner_lr must be > 0"),
        ("--config.methods=('maml', 'mamll')", r"unknown \['mamll'\]; choose from"),
        ("--config.eval.steps=0", "eval.steps must be >= 1"),
    ],
)
def test_bad_settings_are_usage_errors_before_training(tmp_path, override, message):
    with pytest.raises(cli.ConfigError, match=message):
        maml_sine.main(["--workdir", str(tmp_path), *TINY, override])
    assert not os.path.exists(tmp_path / "maml")


def test_command_line_mistake_exits_2_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.run(maml_sine.main, ["--workdir", str(tmp_path), "--config.train.inner_steps=0"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "inner_steps must be an int >= 1" in err
