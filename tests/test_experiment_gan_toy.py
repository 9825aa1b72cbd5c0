"""2-step runs of experiments.gan_toy: outputs a user reads, for three kinds of method."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from experiments import gan_toy
from jaxdl import cli

TINY = [
    "--config.train.total_steps=2",
    "--config.train.batch_size=16",
    "--config.model.hidden=(16,)",
    "--config.model.latent_dim=4",
    "--config.eval.num_samples=40",
    "--config.train.checkpoint_every=0",
]


@pytest.mark.parametrize("preset", ["pacgan", "madgan", "meg"])
def test_two_steps_write_results_samples_and_plot(tmp_path, preset):
    wd = str(tmp_path / preset)
    seeds = 2 if preset == "pacgan" else 1  # the seed loop once; MAD-GAN and MEG build once
    results = gan_toy.main(["--preset", preset, "--workdir", wd, *TINY, f"--config.seeds={seeds}"])
    with open(os.path.join(wd, "results.json")) as f:
        saved = json.load(f)
    assert saved["method"] == preset and len(saved["per_seed"]) == saved["seeds"] == seeds
    assert set(saved["summary"]) == {"modes_covered", "high_quality", "reverse_kl"}
    assert results["summary"]["modes_covered"]["mean"] == np.mean(
        [r["modes_covered"] for r in saved["per_seed"]]
    )
    for seed in range(seeds):
        samples = np.load(os.path.join(wd, f"seed_{seed}", "samples.npz"))["samples"]
        assert samples.shape == (40, 2) and samples.dtype == np.float32
        assert np.isfinite(samples).all()
        assert Image.open(os.path.join(wd, f"seed_{seed}", "samples.png")).size[0] > 100
    if seeds == 2:
        a = np.load(os.path.join(wd, "seed_0", "samples.npz"))["samples"]
        b = np.load(os.path.join(wd, "seed_1", "samples.npz"))["samples"]
        assert not np.allclose(a, b)  # the seeds really differ


def test_bad_names_are_usage_errors(tmp_path):
    with pytest.raises(cli.ConfigError, match="choose from"):
        gan_toy.get_config("nope")
    with pytest.raises(cli.ConfigError, match="config.method='x'"):
        gan_toy.main(["--workdir", str(tmp_path), "--config.method=x", *TINY])
