"""2-step runs of experiments.denoise (SUNet and conditional diffusion), the denoise mode on a
user's files, and command-line mistakes ending with one line and exit code 2."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from experiments import denoise
from jaxdl import cli

TINY = [
    "--config.train.total_steps=2",
    "--config.train.warmup_steps=1",
    "--config.train.batch_size=8",
    "--config.train.checkpoint_every=0",
    "--config.data.crop_size=32",
    "--config.model.embed_dim=8",
    "--config.model.depths=(1,1)",
    "--config.model.num_heads=(1,1)",
    "--config.model.unet_ch=8",
    "--config.model.unet_ch_mult=(1,2)",
    "--config.diffusion.sample_steps=2",
    "--config.eval.sigmas=(30.0,)",
    "--config.eval.tile=32",
    "--config.eval.overlap=8",
    "--config.eval.crop=(0,0,16)",
    "--config.eval.max_size=48",
]


@pytest.fixture(scope="module")
def sunet_workdir(tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("sunet"))
    results = denoise.main(["--preset", "sunet_quick", "--workdir", wd, *TINY])
    return wd, results


def test_sunet_two_steps_write_the_table_and_the_crop(sunet_workdir):
    wd, results = sunet_workdir
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    methods = set(saved["mean"]["30.0"])
    assert {"noisy", "nl_means", "tv", "wavelet", "sunet"} <= methods
    for m in methods:
        assert set(saved["per_image"]["30.0"][m]) == {"chelsea", "coffee", "grace_hopper"}
    # Classical denoisers beat the noisy input; figures are finite.
    mean = saved["mean"]["30.0"]
    assert mean["nl_means"]["psnr"] > mean["noisy"]["psnr"] + 5
    assert np.isfinite(mean["sunet"]["psnr"]) and saved["train_seconds"] > 0
    assert "| sunet |" in open(os.path.join(wd, "results.md")).read()
    strip = Image.open(os.path.join(wd, "comparison.png"))
    assert strip.size[0] > strip.size[1] * 4  # clean, noisy, classical..., model in one row


def test_denoise_mode_files_and_folders(sunet_workdir, tmp_path, capsys):
    wd, _ = sunet_workdir
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (33, 20), np.uint8)).save(folder / "b.jpg")  # grey
    out = tmp_path / "out"
    written = denoise.main(
        ["--mode", "denoise", "--preset", "sunet_quick", "--workdir", wd, *TINY,
         "--input", str(folder), "--output", str(out), "--config.denoise.add_sigma=25"]
    )  # fmt: skip
    assert sorted(os.path.basename(p) for p in written) == ["a.png", "b.png"]
    assert Image.open(out / "a.png").size == (50, 40)
    assert np.asarray(Image.open(out / "b.png")).shape == (33, 20, 3)
    assert "single-channel" in capsys.readouterr().out


def test_diffusion_two_steps(tmp_path):
    wd = str(tmp_path / "diffusion")
    argv = ["--preset", "diffusion_quick", "--workdir", wd, *TINY, "--config.eval.classical=False"]
    results = denoise.main(argv)
    assert set(results["mean"]["30.0"]) == {"noisy", "diffusion"}
    assert np.isfinite(results["mean"]["30.0"]["diffusion"]["psnr"])


def test_unknown_preset_lists_the_presets(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(denoise.main, ["--preset", "sunet_tiny", "--workdir", str(tmp_path)])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "invalid choice: 'sunet_tiny'" in last and "'diffusion_quick'" in last


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            [
                "--config.denoise.add_sigma=300",
                "--mode",
                "denoise",
                "--input",
                "{tmp}",
                "--output",
                "{tmp}/o",
            ],
            "add_sigma: noise sigma must be in (0, 255]",
        ),  # fmt: skip
        (["--config.eval.sigmas=(0.0,)"], "noise sigma must be in (0, 255]"),
        (
            ["--mode", "denoise", "--input", "{tmp}/missing.png", "--output", "x.png"],
            "no such file or folder",
        ),  # fmt: skip
        (["--mode", "eval"], "no trained run in workdir"),
        (["--config.model.kind=vae"], "model.kind must be 'sunet' or 'diffusion'"),
        (["--config.pretrained={tmp}/none.pth", "--mode", "eval"], "is not a file"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, expected):
    argv = ["--workdir", str(tmp_path / "wd"), *[a.format(tmp=tmp_path) for a in args]]
    with pytest.raises(SystemExit) as exit_info:
        cli.run(denoise.main, argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err


def test_eval_with_another_model_configuration_is_a_usage_error(sunet_workdir, capsys):
    wd, _ = sunet_workdir
    argv = ["--preset", "sunet_quick", "--mode", "eval", "--workdir", wd, *TINY]
    with pytest.raises(SystemExit) as exit_info:
        cli.run(denoise.main, [*argv, "--config.model.global_residual=False"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "global_residual: workdir True, now False" in err, err
