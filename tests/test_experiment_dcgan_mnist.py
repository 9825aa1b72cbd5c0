"""experiments.dcgan_mnist: every preset on both datasets (abstract step), a 2-step run through
main, PacGAN packing, the stacked-MNIST channel order, usage errors."""

import json
import os

import chex
import jax
import numpy as np
import pytest
from PIL import Image

from experiments import dcgan_mnist, mnist_classifier
from jaxdl import cli, gan
from jaxdl.data.stacked_mnist import stacked_mnist
from jaxdl.train import check_step

TINY = [
    "--config.train.total_steps=2",
    "--config.train.log_every=1",
    "--config.train.checkpoint_every=0",
    "--config.model.g_base=8",
    "--config.model.d_base=8",
    "--config.model.latent_dim=8",
    "--config.data.stacked_size=64",
    "--config.eval.num_samples=8",
    "--config.eval.eval_samples=8",
    "--config.eval.sample_batch=8",
]


def tiny_config(preset, data_name):
    config = dcgan_mnist.get_config(preset)
    cli.apply_overrides(config, [*TINY, f"--config.data.name={data_name}"])
    config.train.batch_size = 40 if preset == "wgan_gp" else 16  # 5 slices of 8 / 4 packs of 4
    return config


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("classifier"))
    c = mnist_classifier.get_config("quick")
    c.train.update(dict(total_steps=2, log_every=1, eval_every=0, checkpoint_every=0))
    c.model.update(dict(features=(4, 8), hidden=16))
    mnist_classifier.train_classifier(c, wd)
    return wd


@pytest.mark.parametrize("data_name", dcgan_mnist.DATASETS)
@pytest.mark.parametrize("preset", dcgan_mnist.PRESETS)
def test_every_preset_builds_a_step_on_both_datasets(preset, data_name):
    """Abstract (no compile): init, one real batch and a step that keeps the state's shapes."""
    config = tiny_config(preset, data_name)
    task = dcgan_mnist.build(config)
    state = jax.eval_shape(task.init_state, jax.random.PRNGKey(0))
    batch = next(iter(task.train_data))
    channels = 3 if data_name == "stacked_mnist" else 1
    chex.assert_shape(batch["image"], (config.train.batch_size, 28, 28, channels))
    assert batch["image"].min() >= -1.0 and batch["image"].max() <= 1.0
    d_in = state.d.params["down0"]
    kernel = d_in["layer_instance"]["kernel"] if config.model.spectral_norm else d_in["kernel"]
    assert kernel.shape[2] == channels * config.model.pack  # PacGAN: packs along channels
    assert ("batch_stats" in state.d.mutable) == (preset != "wgan_gp")
    check_step(task.train_step, state, batch)


def test_two_steps_write_samples_grid_and_results(tmp_path, classifier):
    """Through `main` once (the quick preset on stacked MNIST: packing, per-channel scores);
    every other preset and dataset is checked abstractly above."""
    wd = str(tmp_path / "run")
    argv = ["--preset", "quick", "--workdir", wd, *TINY, "--config.train.batch_size=16"]
    argv += ["--config.data.name=stacked_mnist", f"--config.eval.classifier_workdir={classifier}"]
    results = dcgan_mnist.main(argv)
    with open(os.path.join(wd, "results.json")) as f:
        assert json.load(f) == results
    assert (results["steps"], results["data"], results["num_samples"]) == (2, "stacked_mnist", 8)
    keys = {"frechet_distance", "confident_share", "classes_present", "modes_covered"}
    assert keys | {"kl_to_uniform"} <= set(results) and keys <= set(results["reference"])
    assert 1 <= results["modes_covered"] <= 8 and 0.0 <= results["confident_share"] <= 1.0
    assert np.isfinite(results["frechet_distance"]) and results["reference"]["num_samples"] == 8
    with np.load(os.path.join(wd, "samples.npz")) as f:
        x = f["images"]
    chex.assert_shape(x, (8, 28, 28, 3))
    assert x.dtype == np.uint8 and x.std() > 0
    assert Image.open(os.path.join(wd, "samples.png")).size == (92, 92)  # 3x3 grid, pad 2
    with open(os.path.join(wd, "metrics.jsonl")) as f:
        logged = [json.loads(line) for line in f]
    assert any("g/loss" in r and np.isfinite(r["d/loss"]) for r in logged)


def test_presets_follow_their_papers():
    dcgan, wgan_gp, sngan = (dcgan_mnist.get_config(p) for p in ("dcgan", "wgan_gp", "sngan"))
    assert dcgan_mnist.get_config(None).to_dict() == dcgan.to_dict()
    assert (dcgan.train.learning_rate, dcgan.train.b1, dcgan.train.loss) == (
        2e-4,
        0.5,
        "nonsaturating",
    )
    assert dcgan.model.batch_norm and not dcgan.model.spectral_norm
    t = wgan_gp.train
    assert (t.gp_weight, t.d_steps, t.d_batch, t.learning_rate, t.b1, t.b2) == (
        10.0,
        5,
        "slices",
        1e-4,
        0.0,
        0.9,
    )
    assert not wgan_gp.model.batch_norm and t.batch_size == 5 * dcgan.train.batch_size
    assert sngan.model.spectral_norm and sngan.train.loss == "hinge"


def test_pack_images_concatenates_samples_along_channels():
    x = np.random.default_rng(0).normal(size=(6, 4, 4, 3)).astype(np.float32)
    packed = np.asarray(dcgan_mnist.pack_images(x, 2))
    chex.assert_shape(packed, (3, 4, 4, 6))
    for i in range(3):  # PacGAN: D's input i is samples 2i and 2i+1 side by side in channels
        np.testing.assert_array_equal(packed[i], np.concatenate([x[2 * i], x[2 * i + 1]], -1))


def test_channel_digits_keep_the_mode_order():
    src = stacked_mnist("test", size=30, seed=5)
    x = np.stack([src[i]["image"] for i in range(len(src))])
    digits = dcgan_mnist.channel_digits(x)
    flat = src.triples.reshape(-1)
    np.testing.assert_array_equal(digits, src.digits.images[flat])
    labels3 = src.digits.labels[flat].reshape(len(src), 3)  # a perfect classifier's labels
    modes = np.array([src[i]["label"] for i in range(len(src))])
    np.testing.assert_array_equal(labels3 @ np.array([100, 10, 1]), modes)
    assert gan.stacked_mnist_modes(labels3)["modes_covered"] == len(set(modes.tolist()))


def test_unknown_names_exit_2_listing_the_valid_ones(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.run(dcgan_mnist.main, ["--preset", "nope", "--workdir", str(tmp_path)])
    assert e.value.code == 2 and "sngan" in capsys.readouterr().err
    for arg, valid in (("data.name=mnist3", "stacked_mnist"), ("train.loss=x", "hinge")):
        with pytest.raises(SystemExit) as e:
            cli.run(dcgan_mnist.main, ["--workdir", str(tmp_path), f"--config.{arg}"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and valid in err and len(err.strip().splitlines()) == 1
    with pytest.raises(cli.ConfigError, match="choose from"):
        dcgan_mnist.get_config("nope")


def test_inconsistent_settings_are_usage_errors():
    c = dcgan_mnist.get_config("dcgan")
    c.train.gp_weight = 10.0  # BatchNorm mixes the samples: no per-sample gradient penalty
    with pytest.raises(cli.ConfigError, match="batch_norm=False"):
        dcgan_mnist.check_config(c)
    c = dcgan_mnist.get_config("quick")
    c.train.batch_size = 66  # not a whole number of packs of 4
    with pytest.raises(cli.ConfigError, match="pack=4"):
        dcgan_mnist.check_config(c)
