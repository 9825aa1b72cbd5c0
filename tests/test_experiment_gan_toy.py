"""2-step runs of experiments.gan_toy: outputs a user reads, for three kinds of method."""

import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from experiments import gan_toy
from jaxdl import cli

TINY = [
    "--config.train.total_steps=2",
    "--config.train.batch_size=16",
    "--config.model.g_hidden=(16,)",
    "--config.model.d_hidden=(16,)",
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
    assert set(saved["summary"]) == {"modes_covered", "high_quality", "reverse_kl", "train_seconds"}
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


@pytest.mark.parametrize(
    "override, expected",
    [
        (
            "--config.model.num_generators=0",
            "config.model.num_generators=0: must be an integer >= 1",
        ),
        ("--config.train.d_steps=0", "config.train.d_steps=0: must be an integer >= 1"),
        ("--config.train.unroll_steps=-1", "config.train.unroll_steps=-1: must be an integer >= 0"),
        ("--config.seeds=0", "config.seeds=0: must be an integer >= 1"),
        ("--config.model.pack=3", "each critic batch (16) must be divisible by model.pack=3"),
        ("--config.train.d_steps=3 --config.train.d_batch=slices", "divisible by train.d_steps=3"),
        (
            "--config.train.d_steps=2 --config.train.d_batch=slices --config.model.pack=3",
            "each critic batch (8) must be divisible by model.pack=3",
        ),
        ("--config.data.name=moons", "config.data.name='moons': choose from ('ring', 'grid')"),
        ("--config.data.scale=-1.0", "config.data.scale=-1.0: must be >= 0"),
    ],
)
def test_bad_values_exit_2_with_one_line(tmp_path, capsys, override, expected):
    argv = ["--workdir", str(tmp_path), *TINY, *override.split()]
    with pytest.raises(SystemExit) as exit_info:
        cli.run(gan_toy.main, argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not os.path.exists(os.path.join(tmp_path, "seed_0"))  # refused before training


def test_madgan_batch_must_split_over_generators(tmp_path, capsys):
    argv = ["--preset", "madgan", "--workdir", str(tmp_path), *TINY]  # 16 rows, 8 generators
    with pytest.raises(SystemExit) as exit_info:
        cli.run(gan_toy.main, [*argv, "--config.model.num_generators=3"])
    assert exit_info.value.code == 2
    assert "divisible by model.num_generators=3" in capsys.readouterr().err


def test_bad_names_are_usage_errors(tmp_path):
    with pytest.raises(cli.ConfigError, match="choose from"):
        gan_toy.get_config("nope")
    with pytest.raises(cli.ConfigError, match="config.method='x'"):
        gan_toy.main(["--workdir", str(tmp_path), "--config.method=x", *TINY])


def test_grid_is_trained_scaled_and_sampled_in_data_units():
    config = gan_toy.get_config("nsgan")
    assert gan_toy.data_scale(config) == 1.0  # ring: centres on the unit circle
    config.data.name = "grid"
    config.train.batch_size, config.model.g_hidden, config.model.d_hidden = 8, (8,), (8,)
    assert gan_toy.data_scale(config) == 4.0  # grid: centres in [-4, 4]^2
    task, sample = gan_toy.build(config)
    assert np.abs(next(task.train_data)["x"]).max() < 1.5  # G and D see x / 4
    g_params = task.init_state(jax.random.PRNGKey(0)).g.params
    gen, _ = gan_toy._networks(config)
    rng = jax.random.PRNGKey(1)
    raw = gen.apply({"params": g_params}, jax.random.normal(rng, (5, config.model.latent_dim)))
    np.testing.assert_allclose(sample(g_params, rng, 5), 4.0 * raw, rtol=1e-5)


def test_pacgan_presets():
    ring, grid = gan_toy.get_config("pacgan"), gan_toy.get_config("pacgan_grid")
    assert (ring.data.name, grid.data.name) == ("ring", "grid")
    assert ring.model.pack == grid.model.pack == 4 and grid.train.lr_schedule == "linear"
    assert (
        grid.train.total_steps
        > ring.train.total_steps
        > gan_toy.get_config("quick").train.total_steps
    )
