"""A 2-step run of every experiment's `quick` preset (end-to-end: data, model, fit, outputs)."""

import json
import os

import numpy as np

from experiments import ddpm_cifar, mnist_classifier, optimizer_comparison

TWO_STEPS = ["--preset", "quick", "--config.total_steps=2", "--config.log_every=1",
             "--config.eval_every=2", "--config.checkpoint_every=2"]


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
    rows = optimizer_comparison.main([*TWO_STEPS, "--workdir", wd,
                                      "--config.optimizers=('momentum_ema', 'adamw')"])
    assert [(r["model"], r["optimizer"]) for r in rows] == [
        ("mlp", "momentum_ema"), ("mlp", "adamw"), ("cnn", "momentum_ema"), ("cnn", "adamw")]
    for name in ("loss_curves.png", "results.json", "results.md"):
        assert os.path.getsize(os.path.join(wd, name)) > 0


def test_ddpm_quick_two_steps_then_sample(tmp_path):
    clf = str(tmp_path / "classifier")
    mnist_classifier.main([*TWO_STEPS, "--workdir", clf])
    wd = str(tmp_path / "ddpm")
    small = ["--config.classifier_workdir=" + clf, "--config.eval_samples=8",
             "--config.num_samples=4", "--config.sample_steps=2", "--config.sample_batch=4"]
    report = ddpm_cifar.main([*TWO_STEPS, "--workdir", wd, *small])
    assert set(report) >= {"frechet_distance", "confident_share", "classes_present"}
    assert os.path.exists(os.path.join(wd, "samples", "step_00000002.png"))
    with np.load(os.path.join(wd, "samples.npz")) as f:
        assert f["images"].shape == (8, 32, 32, 1) and f["images"].dtype == np.uint8
    os.remove(os.path.join(wd, "samples.png"))
    assert ddpm_cifar.main(["--preset", "quick", "--mode", "sample", "--workdir", wd, *small]) == {}
    assert os.path.exists(os.path.join(wd, "samples.png"))


def test_ddpm_cifar_eval_without_inception_weights_fails_before_sampling(tmp_path):
    import pytest

    missing = str(tmp_path / "pt_inception.pth")
    with pytest.raises(FileNotFoundError, match="inception_weights.*pytorch-fid.*github"):
        ddpm_cifar.main(["--mode", "eval", "--workdir", str(tmp_path / "run"),
                         f"--config.inception_weights={missing}"])


def test_ddpm_cifar_eval_with_missing_fid_stats_fails_before_sampling(tmp_path):
    import pytest

    weights = tmp_path / "pt_inception.safetensors"
    weights.write_bytes(b"")  # existence is checked first; the file is never read here
    with pytest.raises(FileNotFoundError, match="fid_stats.*not a file.*'mu' and 'sigma'"):
        ddpm_cifar.main(["--mode", "eval", "--workdir", str(tmp_path / "run"),
                         f"--config.inception_weights={weights}",
                         f"--config.fid_stats={tmp_path / 'stats.npz'}"])
