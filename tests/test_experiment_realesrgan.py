"""2-step runs of experiments.realesrgan (Real-ESRNet, then Real-ESRGAN from it) and command-line
mistakes ending with one line and exit code 2."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from experiments import realesrgan
from jaxdl import cli

TINY = [
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",
    "--config.train.checkpoint_every=0",
    "--config.data.hr_size=32",
    "--config.model.num_feat=4",
    "--config.model.num_block=1",
    "--config.model.num_grow_ch=4",
    "--config.disc.num_feat=4",
    "--config.eval.crop=(0,0,16)",
    "--config.eval.max_size=32",
]


@pytest.fixture(scope="module")
def realesrnet(tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("realesrnet"))
    return wd, realesrgan.main(["--preset", "realesrnet_quick", "--workdir", wd, *TINY])


def _check_outputs(wd: str, name: str) -> dict:
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    assert set(saved["per_image"]) == {"bicubic", name}
    for per in saved["per_image"].values():
        assert set(per) == {"chelsea", "coffee", "grace_hopper"}
    bicubic = saved["mean"]["bicubic"]
    assert 10 < bicubic["psnr_y"] < 40 and 0 < bicubic["ssim_y"] < 1
    assert np.isfinite(saved["mean"][name]["psnr_y"]) and saved["train_seconds"] > 0
    gain = saved["gain_over_bicubic_db"][name]
    assert gain == pytest.approx(saved["mean"][name]["psnr_y"] - bicubic["psnr_y"])
    assert "seed 0 + i" in saved["protocol"]
    strip = Image.open(os.path.join(wd, "comparison.png"))
    assert strip.size[0] > strip.size[1] * 3  # LR nearest, bicubic, model, HR in one row
    assert f"lr_nearest, bicubic, {name}, hr" in open(os.path.join(wd, "comparison.txt")).read()
    examples = Image.open(os.path.join(wd, "degradation_examples.png"))
    assert min(examples.size) > 100
    return saved


def test_realesrnet_two_steps_write_the_table_and_the_pictures(realesrnet):
    wd, results = realesrnet
    saved = _check_outputs(wd, "realesrnet")
    for method, scores in results["mean"].items():
        assert saved["mean"][method] == pytest.approx(scores)
    metrics = [json.loads(line) for line in open(os.path.join(wd, "metrics.jsonl"))]
    assert any("psnr" in m for m in metrics)


def test_realesrgan_from_the_realesrnet_run(realesrnet, tmp_path):
    net_wd, net_results = realesrnet
    wd = str(tmp_path / "realesrgan")
    argv = ["--preset", "realesrgan_quick", "--workdir", wd, *TINY, f"--config.init_from={net_wd}"]
    realesrgan.main([*argv, "--config.loss.perceptual_weight=0.0"])  # VGG19: tests/test_models_sr
    _check_outputs(wd, "realesrgan")
    metrics = [json.loads(line) for line in open(os.path.join(wd, "metrics.jsonl"))]
    keys = set().union(*metrics)
    assert {"g/pixel", "g/adversarial", "d/loss", "d/real_logit", "d/fake_logit"} <= keys
    assert all(np.isfinite(m["d/loss"]) for m in metrics if "d/loss" in m)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("--config.degradation.stage1.blur.kernel_size_range=(6,21)", "odd kernel sizes >= 3"),
        ("--config.degradation.stage2.jpeg_range=(95,30)", "stage2.jpeg_range must be"),
        ("--config.degradation.stage1.resize_probs=(0.5,0.5,0.5)", "summing to 1"),
        ("--config.data.hr_size=36", "multiple of 8"),
    ],
)
def test_bad_options_exit_2_with_one_line(override, expected, tmp_path, capsys):
    preset = "realesrgan_quick" if "hr_size" in override else "realesrnet_quick"
    argv = ["--preset", preset, "--workdir", str(tmp_path), override]
    with pytest.raises(SystemExit) as exit_info:
        cli.run(realesrgan.main, argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert not os.listdir(tmp_path)  # refused before anything is written


def test_eval_adds_the_bicubic_trained_esrgan_row_and_upscale_writes_x4(realesrnet, tmp_path):
    wd, trained = realesrnet
    argv = ["--preset", "realesrnet_quick", "--workdir", wd, *TINY]
    # The run itself stands in for an experiments.esrgan_sr workdir of the same RRDBNet.
    results = realesrgan.main([*argv, "--mode", "eval", f"--config.eval.esrgan_workdir={wd}"])
    # The row is named by the compared run's preset (here the run itself).
    assert set(results["mean"]) == {"bicubic", "realesrnet", "realesrnet (bicubic LR)"}
    assert results["mean"]["realesrnet"] == pytest.approx(trained["mean"]["realesrnet"])
    assert results["mean"]["realesrnet (bicubic LR)"] == pytest.approx(
        results["mean"]["realesrnet"]
    )
    Image.fromarray(np.full((20, 24, 3), 128, np.uint8)).save(tmp_path / "in.png")
    out = tmp_path / "out.png"
    argv += ["--mode", "upscale", "--input", str(tmp_path / "in.png"), "--output", str(out)]
    assert realesrgan.main(argv) == [str(out)]
    assert Image.open(out).size == (96, 80)


def test_pixel_target_is_the_sharpened_gt_unless_disabled_or_absent():
    config = realesrgan.get_config("realesrnet")  # the official l1_gt_usm: True
    batch = {"hr": "gt", "hr_usm": "gt_usm"}
    assert realesrgan.pixel_target(config, batch) == "gt_usm"
    assert realesrgan.pixel_target(config, {"hr": "gt"}) == "gt"  # degradation.usm=False
    quick = realesrgan.get_config("realesrnet_quick")  # scored against the plain GT
    assert realesrgan.pixel_target(quick, batch) == "gt"
