"""experiments.maml_digits: a 2-step run writes the accuracy table for both test domains; the
digits are brought to MNIST's layout; usage errors (SPEC BAS-9)."""

import json
import os

import numpy as np
import pytest

from experiments import maml_digits
from jaxdl import cli

TINY = [
    "--preset",
    "quick",
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",  # episodes; divisible by the 8 simulated devices
    "--config.train.checkpoint_every=0",
    "--config.data.ways=3",
    "--config.model.features=4",
    "--config.model.blocks=2",
    "--config.eval.episodes=4",
    "--config.eval.chunk=4",
    "--config.eval.queries=2",
    "--config.eval.steps=2",
]


def test_two_steps_write_accuracy_for_both_domains(tmp_path):
    wd = str(tmp_path / "run")
    # first-order only: second-order MAML is checked in test_meta, and compiles slowly here
    results = maml_digits.main(["--workdir", wd, *TINY, "--config.methods=('fomaml', 'scratch')"])
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(results)) and saved["episodes"] == "3-way 1-shot"
    assert set(saved["methods"]) == {"fomaml", "scratch"}
    for row in saved["methods"].values():
        assert set(row) == {"mnist5k_test", "digits"}
        for r in row.values():
            assert len(r["accuracy_by_step"]) == 3
            assert r["accuracy"] == pytest.approx(r["accuracy_by_step"][-1], abs=1e-4)
            assert 0.0 <= r["accuracy"] <= 1.0
    assert os.path.isdir(os.path.join(wd, "fomaml", "checkpoints"))
    assert not os.path.exists(os.path.join(wd, "scratch"))  # the initialization, not trained


def test_digits_are_resized_and_padded_like_mnist():
    images, labels = maml_digits.digit_images("digits", "all")
    assert images.shape == (1797, 28, 28, 1) and images.dtype == np.uint8
    assert images[:, :4].max() == 0 and images[:, -4:].max() == 0  # the 4-pixel border
    assert images[:, 4:24, 4:24].max() == 255 and set(np.unique(labels)) == set(range(10))
    mnist, _ = maml_digits.digit_images("mnist5k", "test")
    assert mnist.shape == (1000, 28, 28, 1)


@pytest.mark.parametrize(
    "override, message",
    [
        ("--config.train.inner_steps=0", "inner_steps must be an int >= 1, got 0"),
        ("--config.methods=('maml', 'x')", r"unknown \['x'\]"),
        ("--config.eval.inner_lr=-1.0", "inner_lr must be > 0"),
    ],
)
def test_bad_settings_are_usage_errors(tmp_path, override, message):
    with pytest.raises(cli.ConfigError, match=message):
        maml_digits.main(["--workdir", str(tmp_path), *TINY, override])
    with pytest.raises(cli.ConfigError, match="unknown preset 'nope'"):
        maml_digits.get_config("nope")
