"""A 2-step run of experiments.segment_digits (the U-Net baseline; UNet 3+ and its hybrid loss are
tested in test_models_segmentation) writes results.json and the prediction picture; command-line
mistakes end with one line and exit code 2."""

import json
import os

import pytest
from PIL import Image

from experiments import segment_digits
from jaxdl import cli

TINY = [
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",
    "--config.train.checkpoint_every=0",
    "--config.data.train_size=8",
    "--config.data.test_size=6",
    "--config.eval.batch_size=8",
    "--config.eval.num_pictures=2",
    "--config.model.widths=(4,8)",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("seg"))
    return wd, segment_digits.main(["--preset", "unet_quick", "--workdir", wd, *TINY])


def test_two_steps_write_metrics_and_picture(run):
    wd, results = run
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    assert saved["steps"] == 2 and saved["model"] == "unet"
    assert set(saved["iou"]) == {"background", *map(str, range(10))}
    for key in ("mean_iou", "pixel_accuracy", "fw_iou", "mean_dice"):
        assert 0.0 <= saved[key] <= 1.0
    picture = Image.open(os.path.join(wd, "predictions.png"))
    assert picture.size[1] > 3 * 64 and picture.size[0] > 2 * 84  # 3 rows x 2 canvases


def test_unet3plus_cross_entropy_heads_train(tmp_path):
    """`train.unet3plus_loss=ce`: weighted softmax CE on the main and deep-supervision heads."""
    wd = str(tmp_path)
    argv = ["--preset", "unet3plus_quick", "--config.train.unet3plus_loss=ce", *TINY]
    results = segment_digits.main([*argv, "--workdir", wd])
    assert results["model"] == "unet3plus" and 0.0 <= results["mean_iou"] <= 1.0


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--preset", "unet_quick", "--config.model.name=fcn"], "model.name='fcn'; choose from"),
        ([], "choose a --preset from"),
        (["--preset", "unet3plus_quick", "--config.train.unet3plus_loss=dice"], "'hybrid' or 'ce'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, argv, expected):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(segment_digits.main, [*argv, "--workdir", str(tmp_path), *TINY])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
