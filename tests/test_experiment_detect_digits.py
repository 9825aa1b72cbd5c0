"""experiments.detect_digits (SEG-4): a 2-step Mask R-CNN run writes its outputs; usage errors
exit 2 naming the valid choices."""

import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from experiments import detect_digits
from jaxdl import cli

TINY = [
    "--preset=mask_rcnn_quick",
    "--config.data.image_size=(32,40)",
    "--config.data.test_size=4",
    "--config.model.backbone_widths=(4,8)",
    "--config.model.anchor_sizes=(16.0,)",
    "--config.model.box_hidden=16",
    "--config.model.mask_width=4",
    "--config.model.mask_convs=1",
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",
    "--config.train.checkpoint_every=0",
    "--config.train.rpn_batch=32",
    "--config.train.rpn_pre_nms=40",
    "--config.train.rpn_post_nms=10",
    "--config.train.roi_batch=8",
    "--config.eval.batch_size=4",
    "--config.eval.rpn_pre_nms=40",
    "--config.eval.rpn_post_nms=10",
    "--config.eval.max_detections=5",
    "--config.eval.num_pictured=2",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("detect_digits"))
    with jax.threefry_partitionable(False):  # test speed only (faster random-op compiles)
        results = detect_digits.main(["--workdir", workdir, *TINY])
    return workdir, results


def test_two_steps_write_results_and_picture(run):
    workdir, results = run
    with open(os.path.join(workdir, "results.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(results))
    assert saved["steps"] == 2 and saved["num_images"] == 4 and saved["preset"] == "mask_rcnn_quick"
    for kind in ("box", "mask"):
        for k in ("AP", "AP50", "AP75"):
            assert 0.0 <= saved[kind][k] <= 1.0
    metrics = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    trained = [m for m in metrics if "loss" in m]
    assert trained and all(np.isfinite(m["mask"]) and m["rpn_objectness"] > 0 for m in trained)
    picture = np.asarray(Image.open(os.path.join(workdir, "detections.png")))
    assert picture.shape == (3 * 32 + 4, 2 * (3 * 40) + 6, 3)  # 2 canvases, 3x, one row


def test_usage_errors_exit_2_with_the_valid_choices(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        cli.run(detect_digits.main, ["--preset", "yolo"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "yolo" in err and "mask_rcnn_quick" in err
    with pytest.raises(SystemExit) as e:
        cli.run(detect_digits.main, ["--workdir", str(tmp_path), "--preset=mask_rcnn"])
    assert e.value.code == 2 and "no instance masks" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.run(detect_digits.main, ["--config.train.roi_bach=3"])
    assert e.value.code == 2 and "roi_batch" in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # refused before anything ran
