"""A 2-step run of every experiment's `quick` preset (end-to-end: data, model, fit, outputs),
and the configs' shared layout."""

import json
import os

import numpy as np
import pytest

from experiments import ddpm_cifar, mnist_classifier, optimizer_comparison
from jaxdl import cli
from jaxdl.metrics import generative
from jaxdl.train import TrainConfig, step_options

EXPERIMENTS = (ddpm_cifar, mnist_classifier, optimizer_comparison)
ENGINE_KEYS = (
    "total_steps",
    "batch_size",
    "log_every",
    "eval_every",
    "checkpoint_every",
    "keep_checkpoints",
    "async_checkpoint",
    "parallel",
    "sharding",
    "accum_steps",
    "clip_norm",
    "ema_decay",
    "ema_warmup",
    "compute_dtype",
    "skip_nonfinite",
)

TWO_STEPS = [
    "--preset",
    "quick",
    "--config.train.total_steps=2",
    "--config.train.log_every=1",
    "--config.train.eval_every=2",
    "--config.train.checkpoint_every=2",
]


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda m: m.__name__.split(".")[-1])
def test_configs_group_their_keys(experiment):
    for preset in (None, *experiment.PRESETS):
        config = experiment.get_config(preset)
        assert isinstance(config.seed, int) and set(ENGINE_KEYS) <= set(config.train)
        TrainConfig.from_config(config)  # valid for the engine
        assert set(step_options(config.train)) == {
            "accum_steps",
            "clip_norm",
            "ema_decay",
            "ema_warmup",
            "compute_dtype",
            "skip_nonfinite",
        }
    with pytest.raises(cli.ConfigError, match="unknown preset 'nope'"):
        experiment.get_config("nope")


def test_ddpm_scorer_is_chosen_by_dataset():
    assert ddpm_cifar.get_config("quick").data.dataset in generative.CLASSIFIER_DATASETS
    assert ddpm_cifar.get_config("paper").data.dataset not in generative.CLASSIFIER_DATASETS


def test_mnist_classifier_quick_two_steps(tmp_path):
    wd = str(tmp_path / "run")
    results = mnist_classifier.main([*TWO_STEPS, "--workdir", wd])
    assert 0.0 <= results["test/accuracy"] <= 1.0
    assert os.path.exists(os.path.join(wd, "config.json"))
    with open(os.path.join(wd, "metrics.jsonl")) as f:
        steps = [json.loads(line)["step"] for line in f]
    assert 1 in steps and 2 in steps
    assert os.path.isdir(os.path.join(wd, "checkpoints", "2"))


def test_optimizer_comparison_quick_two_steps(tmp_path):
    wd = str(tmp_path / "run")
    rows = optimizer_comparison.main(
        [*TWO_STEPS, "--workdir", wd, "--config.optimizers=('momentum_ema', 'adamw')"]
    )
    assert [(r["model"], r["optimizer"]) for r in rows] == [
        ("mlp", "momentum_ema"),
        ("mlp", "adamw"),
        ("cnn", "momentum_ema"),
        ("cnn", "adamw"),
    ]
    for name in ("loss_curves.png", "results.json", "results.md"):
        assert os.path.getsize(os.path.join(wd, name)) > 0


def test_ddpm_quick_two_steps_then_sample(tmp_path):
    clf = str(tmp_path / "classifier")
    cconf = mnist_classifier.get_config("quick")
    cconf.train.update(dict(total_steps=2, log_every=1, checkpoint_every=2))
    assert 0.0 <= mnist_classifier.train_classifier(cconf, clf)["test/accuracy"] <= 1.0
    wd = str(tmp_path / "ddpm")
    small = [
        "--config.eval.classifier_workdir=" + clf,
        "--config.eval.eval_samples=8",
        "--config.model.ch_mult=(1, 2)",
        "--config.model.attn_resolutions=(16,)",
        "--config.eval.num_samples=4",
        "--steps",
        "2",
        "--config.eval.sample_batch=4",
    ]
    report = ddpm_cifar.main([*TWO_STEPS, "--workdir", wd, *small])
    assert set(report) >= {"frechet_distance", "confident_share", "classes_present"}
    assert report["num_samples"] == 8
    with open(os.path.join(wd, "metrics.jsonl")) as f:  # the grid is the engine's eval image
        grids = [r["samples_png"] for r in map(json.loads, f) if "samples_png" in r]
    assert grids == [os.path.join("images", "samples", "step_00000002.png")]
    assert os.path.getsize(os.path.join(wd, grids[0])) > 0
    with np.load(os.path.join(wd, "samples.npz")) as f:
        assert f["images"].shape == (8, 32, 32, 1) and f["images"].dtype == np.uint8
    os.remove(os.path.join(wd, "samples.png"))
    assert ddpm_cifar.main(["--preset", "quick", "--mode", "sample", "--workdir", wd, *small]) == {}
    assert os.path.exists(os.path.join(wd, "samples.png"))


def test_ddpm_sample_without_a_trained_workdir_is_a_usage_error(tmp_path):
    with pytest.raises(cli.MissingInputError, match="no trained run in workdir.*--mode train"):
        ddpm_cifar.main(
            ["--preset", "quick", "--mode", "sample", "--workdir", str(tmp_path / "none")]
        )
    with pytest.raises(cli.ConfigError, match="ancestral sampler runs all T=1000"):
        ddpm_cifar.main(["--mode", "sample", "--steps", "50", "--workdir", str(tmp_path)])


def test_ddpm_cifar_eval_without_inception_weights_fails_before_sampling(tmp_path):
    missing = str(tmp_path / "pt_inception.pth")
    with pytest.raises(FileNotFoundError, match="inception_weights.*pytorch-fid.*github"):
        ddpm_cifar.main(
            [
                "--mode",
                "eval",
                "--workdir",
                str(tmp_path / "run"),
                f"--config.eval.inception_weights={missing}",
            ]
        )


def test_ddpm_cifar_eval_with_missing_fid_stats_fails_before_sampling(tmp_path):
    weights = tmp_path / "pt_inception.safetensors"
    weights.write_bytes(b"")  # existence is checked first; the file is never read here
    with pytest.raises(FileNotFoundError, match="fid_stats.*not a file.*'mu' and 'sigma'"):
        ddpm_cifar.main(
            [
                "--mode",
                "eval",
                "--workdir",
                str(tmp_path / "run"),
                f"--config.eval.inception_weights={weights}",
                f"--config.eval.fid_stats={tmp_path / 'stats.npz'}",
            ]
        )


def test_mnist_classifier_learns_in_sixty_steps(tmp_path):
    """A broken experiment (labels shuffled, wrong loss, no update) would stay near 10%."""
    wd = str(tmp_path / "run")
    results = mnist_classifier.main(
        [
            "--preset",
            "quick",
            "--workdir",
            wd,
            "--config.train.total_steps=60",
            "--config.train.batch_size=64",
            "--config.train.log_every=20",
            "--config.train.eval_every=0",
            "--config.train.checkpoint_every=0",
        ]
    )
    assert results["test/accuracy"] > 0.6, results
    with open(os.path.join(wd, "metrics.jsonl")) as f:
        losses = [r["loss"] for r in map(json.loads, f) if "loss" in r]
    assert len(losses) == 3 and losses[-1] < 0.7 * losses[0], losses
    with open(os.path.join(wd, "results.json")) as f:
        assert json.load(f)["test/accuracy"] == results["test/accuracy"]
