"""2-step runs of experiments.esrgan_sr (ESRNet, then ESRGAN from it, then the α sweep), eval on
a folder of HR images, the upscale mode on a user's image, and command-line mistakes ending with
one line and exit code 2."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from experiments import esrgan_sr
from jaxdl import cli

TINY = [
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",
    "--config.train.checkpoint_every=0",
    "--config.train.milestones=(1,)",
    "--config.data.hr_size=32",
    "--config.model.num_feat=8",
    "--config.model.num_block=1",
    "--config.model.num_grow_ch=4",
    "--config.disc.num_feat=4",
    "--config.eval.crop=(0,0,16)",
    "--config.eval.max_size=48",
]


@pytest.fixture(scope="module")
def esrnet(tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("esrnet"))
    return wd, esrgan_sr.main(["--preset", "esrnet_quick", "--workdir", wd, *TINY])


def test_esrnet_two_steps_write_the_table_and_the_crop(esrnet):
    wd, results = esrnet
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    assert set(saved["per_image"]) == {"bicubic", "rrdbnet"}
    for per in saved["per_image"].values():
        assert set(per) == {"chelsea", "coffee", "grace_hopper"}
    bicubic = saved["mean"]["bicubic"]
    assert 20 < bicubic["psnr_y"] < 40 and 0.5 < bicubic["ssim_y"] < 1  # a real baseline
    assert np.isfinite(saved["mean"]["rrdbnet"]["psnr_y"]) and saved["train_seconds"] > 0
    gain = saved["gain_over_bicubic_db"]["rrdbnet"]
    assert gain == pytest.approx(saved["mean"]["rrdbnet"]["psnr_y"] - bicubic["psnr_y"])
    assert "| rrdbnet |" in open(os.path.join(wd, "results.md")).read()
    strip = Image.open(os.path.join(wd, "comparison.png"))
    assert strip.size[0] > strip.size[1] * 3  # LR nearest, bicubic, model, HR in one row
    assert "lr_nearest, bicubic, rrdbnet, hr" in open(os.path.join(wd, "comparison.txt")).read()


def test_esrgan_from_the_esrnet_run_then_the_interpolation_sweep(esrnet, tmp_path):
    psnr_wd, _ = esrnet
    gan_wd = str(tmp_path / "esrgan")
    argv = ["--preset", "esrgan_quick", "--workdir", gan_wd, *TINY, f"--config.init_from={psnr_wd}"]
    results = esrgan_sr.main(argv)
    assert np.isfinite(results["mean"]["rrdbnet"]["psnr_y"])
    metrics = [json.loads(line) for line in open(os.path.join(gan_wd, "metrics.jsonl"))]
    assert "d/loss" in metrics[-1] and "g/adversarial" in metrics[-1]
    sweep = esrgan_sr.main(
        ["--preset", "interp_quick", "--workdir", str(tmp_path / "interp"), *TINY,
         f"--config.interp.psnr_workdir={psnr_wd}", f"--config.interp.gan_workdir={gan_wd}",
         "--config.interp.alphas=(0.0,1.0)"]
    )  # fmt: skip
    # α = 0 is the PSNR run and α = 1 the GAN run, evaluated the same way.
    with open(os.path.join(psnr_wd, "results.json")) as f:
        psnr_run = json.load(f)
    assert sweep["mean"]["alpha=0"]["psnr_y"] == pytest.approx(
        psnr_run["mean"]["rrdbnet"]["psnr_y"], abs=1e-4
    )
    assert sweep["mean"]["alpha=1"]["psnr_y"] == pytest.approx(
        results["mean"]["rrdbnet"]["psnr_y"], abs=1e-4
    )
    assert [p["alpha"] for p in sweep["curve"]] == [0.0, 1.0]
    assert os.path.isfile(tmp_path / "interp" / "interp.png")


def test_eval_on_a_folder_notes_crops_and_conversions(esrnet, tmp_path):
    wd, _ = esrnet
    rng = np.random.default_rng(0)
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (42, 50, 3), np.uint8)).save(folder / "odd.png")
    Image.fromarray(rng.integers(0, 256, (40, 40), np.uint8)).save(folder / "grey.png")
    results = esrgan_sr.main(
        ["--mode", "eval", "--preset", "esrnet_quick", "--workdir", wd, *TINY,
         f"--config.data.test_dir={folder}"]
    )  # fmt: skip
    assert results["test_images"] == ["grey", "odd"]
    notes = " ".join(results["notes"])
    assert "odd: HR (42, 48) cropped to (40, 48)" in notes and "single-channel" in notes


def test_upscale_mode_on_a_user_image(esrnet, tmp_path, capsys):
    wd, _ = esrnet
    rgba = np.random.default_rng(1).integers(0, 256, (13, 21, 4), np.uint8)
    Image.fromarray(rgba).save(tmp_path / "in.png")
    out = tmp_path / "out.png"
    written = esrgan_sr.main(
        ["--mode", "upscale", "--preset", "esrnet_quick", "--workdir", wd, *TINY,
         "--input", str(tmp_path / "in.png"), "--output", str(out),
         "--config.upscale.tile=8", "--config.upscale.overlap=2"]
    )  # fmt: skip
    assert written == [str(out)]
    assert Image.open(out).size == (84, 52)
    assert "composited over white" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--preset", "esrgan_tiny"], "invalid choice: 'esrgan_tiny'"),
        (["--mode", "eval"], "no trained run in workdir"),
        (["--config.pretrained={tmp}/none.pth", "--mode", "eval"], "is not a file"),
        (
            ["--mode", "upscale", "--input", "{tmp}/missing.png", "--output", "x.png"],
            "no such file or folder",
        ),  # fmt: skip
        (["--mode", "upscale"], "needs --input PATH and --output PATH"),
        (["--preset", "interp_quick"], "need --config.interp.psnr_workdir"),
        (["--config.model.arch=edsr"], "model.arch must be one of"),
        (["--config.data.hr_size=30"], "must be a multiple of 4"),
        (["--preset", "esrgan"], "needs --config.loss.vgg_weights=FILE"),
        (
            [
                "--preset",
                "srgan_quick",
                "--config.loss.perceptual_weight=1.0",
                "--config.loss.vgg_weights={tmp}/no.pth",
            ],
            "vgg_weights='",
        ),  # fmt: skip
        (["--config.data.test_dir={tmp}/nowhere"], "no folder"),
        (["--preset", "esrgan_quick", "--config.init_from={tmp}"], "no trained run in workdir"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, expected):
    argv = ["--workdir", str(tmp_path / "wd"), *[a.format(tmp=tmp_path) for a in args]]
    with pytest.raises(SystemExit) as exit_info:
        cli.run(esrgan_sr.main, argv)
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert expected in last


@pytest.mark.parametrize(
    "override, expected",
    [
        ("--config.model.num_block=2", "does not match model.arch='rrdbnet'"),
        # no parameter differs, but the images would: the bicubic skip is checked by name
        ("--config.model.residual=bilinear", "trained with model.residual='bicubic'"),
    ],
)
def test_a_stage_one_run_of_another_config_is_refused(esrnet, tmp_path, capsys, override, expected):
    wd, _ = esrnet
    argv = ["--preset", "esrgan_quick", "--workdir", str(tmp_path / "g"), *TINY,
            f"--config.init_from={wd}", override]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        cli.run(esrgan_sr.main, argv)
    assert exit_info.value.code == 2
    assert expected in capsys.readouterr().err


def test_upscale_with_a_basicsr_checkpoint_matches_basicsr(tmp_path, capsys):
    import torch
    from basicsr_ref import load

    arch = load("basicsr.archs.rrdbnet_arch")
    torch.manual_seed(0)
    net = arch.RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4).eval()
    torch.save({"params_ema": net.state_dict()}, tmp_path / "net.pth")
    x = np.random.default_rng(2).integers(0, 256, (12, 10, 3), np.uint8)
    Image.fromarray(x).save(tmp_path / "in.png")
    argv = ["--mode", "upscale", "--workdir", str(tmp_path / "wd"),
            f"--config.pretrained={tmp_path / 'net.pth'}",
            "--input", str(tmp_path / "in.png"), "--output", str(tmp_path / "out.png"),
            "--preset", "esrnet_quick"]  # fmt: skip
    esrgan_sr.main(argv)  # the quick preset's bicubic residual is dropped for a BasicSR net
    assert "rrdbnet with 1 blocks of 8 ch" in capsys.readouterr().out
    with torch.no_grad():
        ref = net(torch.from_numpy(x / 255.0).float().permute(2, 0, 1)[None])[0]
    ref = (ref.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round()
    out = np.asarray(Image.open(tmp_path / "out.png")).astype(float)
    assert out.shape == (48, 40, 3) and np.abs(out - ref).max() <= 1  # 8-bit rounding
    x2 = arch.RRDBNet(3, 3, scale=2, num_feat=8, num_block=1, num_grow_ch=4)
    torch.save({"params": x2.state_dict()}, tmp_path / "x2.pth")
    with pytest.raises(SystemExit):
        cli.run(
            esrgan_sr.main, [*argv[:4], f"--config.pretrained={tmp_path / 'x2.pth'}", *argv[5:]]
        )
    assert "it is a x2 rrdbnet" in capsys.readouterr().err
