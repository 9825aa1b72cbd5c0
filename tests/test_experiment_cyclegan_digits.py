"""experiments.cyclegan_digits (GAN-5): a 2-step run writes its outputs; usage errors exit 2."""

import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from experiments import cyclegan_digits
from jaxdl import cli, data
from jaxdl.train import Checkpointer

TINY = [
    "--preset=quick",
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",
    "--config.train.checkpoint_every=0",
    "--config.model.g_base=4",
    "--config.model.g_blocks=1",
    "--config.model.g_downsampling=1",
    "--config.model.d_base=4",
    "--config.model.d_layers=1",
    "--config.eval.classifier_steps=2",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("cyclegan_digits"))
    # Test speed only: on CPU jaxlib 0.10 each random op compiles ~10x faster this way.
    with jax.threefry_partitionable(False):
        results = cyclegan_digits.main(["--workdir", workdir, *TINY])
    return workdir, results


def test_two_steps_write_results_and_pictures(run):
    workdir, results = run
    with open(os.path.join(workdir, "results.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(results))
    assert saved["steps"] == 2 and saved["image_size"] == 16
    sizes = {
        "mnist_to_digits": len(data.mnist5k("test")),
        "digits_to_mnist": len(data.digits("test")),
    }
    for direction, n in sizes.items():
        r = saved[direction]
        assert r["num_images"] == n
        for key in ("label_kept", "input_label_kept"):
            assert 0.0 <= r[key] <= 1.0
            assert (r[key] * n) == pytest.approx(round(r[key] * n))  # a share of the n images
        assert r["cycle_l1"] > 0 and r["frechet_distance"] > 0
    assert set(saved["classifier_test_accuracy"]) == {"mnist5k", "digits"}
    # input / translated / reconstructed for both directions: 6 rows of 10 16x16 images
    grid = np.asarray(Image.open(os.path.join(workdir, "images/translations/step_00000002.png")))
    assert grid.shape[:2] == (6 * 18 + 2, 10 * 18 + 2)
    assert Image.open(os.path.join(workdir, "translations.png")).size[0] > 300


def test_the_image_pools_are_checkpointed(run):
    workdir, _ = run
    ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), async_save=False)
    step, state, _ = ckpt.restore_latest(None)
    ckpt.close()
    pools = state["d"]["mutable"]["pool"]
    assert step == 2
    for k in ("a", "b"):  # two D updates of 8 fakes each
        assert int(pools[k]["count"]) == 16 and pools[k]["images"].shape == (50, 16, 16, 1)
        assert np.abs(np.asarray(pools[k]["images"][:16])).sum() > 0


def test_domains_use_the_fixed_splits_only():
    config = cyclegan_digits.get_config("quick")
    for domain, name in cyclegan_digits.DOMAINS.items():
        n = len(data.get_source(name, "all"))
        train, test = data.split_indices(n, "train"), data.split_indices(n, "test")
        assert not set(train) & set(test) and len(train) + len(test) == n
        np.testing.assert_array_equal(test, data.split_indices(n, "test"))
        src = cyclegan_digits.domain_data(domain, "test", config)
        assert src.images.shape == (len(test), 16, 16, 1) and src.images.dtype == np.uint8


def test_usage_errors_exit_2_with_the_valid_choices(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        cli.run(cyclegan_digits.main, ["--preset", "nope"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "nope" in err and "cyclegan" in err and "quick" in err
    with pytest.raises(cli.ConfigError, match=r"choose from \('cyclegan', 'quick'\)"):
        cyclegan_digits.get_config("nope")
    with pytest.raises(SystemExit) as e:
        cli.run(cyclegan_digits.main, ["--config.train.pool_sise=3"])
    assert e.value.code == 2 and "pool_size" in capsys.readouterr().err
    for bad in ("--config.train.parallel=pmap", "--config.data.mnist_crop=25"):
        with pytest.raises(SystemExit) as e:
            cli.run(cyclegan_digits.main, ["--workdir", str(tmp_path), bad])
        assert e.value.code == 2 and bad.split(".")[-1].split("=")[0] in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # refused before anything trained
