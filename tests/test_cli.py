"""Shared experiment flags: presets, typed `--config.a.b=value` overrides, unknown keys; the
`run` wrapper's exit codes (2 and a message for a user's mistake, a traceback otherwise)."""

import json
import os
import subprocess
import sys

import ml_collections
import pytest

from jaxdl import cli
from jaxdl.cli import ConfigError, apply_overrides, parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def get_config(preset=None):
    c = ml_collections.ConfigDict(dict(seed=0, name="x"))
    c.train = ml_collections.ConfigDict(
        dict(total_steps=100, learning_rate=1e-3, clip=None, flip=True, features=(32, 64))
    )
    c.model = ml_collections.ConfigDict(dict(width=8))
    if preset == "quick":
        c.train.total_steps = 5
    elif preset not in (None, "full"):
        raise ConfigError(f"unknown preset {preset!r}")
    return c


def test_overrides_keep_types():
    c = get_config()
    apply_overrides(
        c,
        [
            "--config.train.total_steps=7",
            "--config.train.learning_rate=1",
            "--config.train.flip",
            "false",
            "--config.model.width=16",
            "--config.train.features=(1,2,3)",
            "--config.name=hello",
            "--config.train.clip=1.0",
        ],
    )
    assert c.train.total_steps == 7 and isinstance(c.train.learning_rate, float)
    assert c.train.learning_rate == 1.0 and c.train.flip is False and c.model.width == 16
    assert tuple(c.train.features) == (1, 2, 3) and c.name == "hello" and c.train.clip == 1.0


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown config key 'train.totl_steps'.*model.width"):
        apply_overrides(get_config(), ["--config.train.totl_steps=3"])
    with pytest.raises(ConfigError, match="unknown config key 'total_steps'.*train.total_steps"):
        apply_overrides(get_config(), ["--config.total_steps=3"])  # not at the top level


def test_wrong_type_rejected():
    with pytest.raises(ConfigError, match="expected a value of type int"):
        apply_overrides(get_config(), ["--config.train.total_steps=abc"])
    with pytest.raises(ConfigError, match="unrecognized argument"):
        apply_overrides(get_config(), ["--bogus"])


def test_parse_preset_and_workdir():
    config, args = parse(
        ["--preset", "quick", "--config.seed=3"], get_config, name="demo", presets=("quick", "full")
    )
    assert config.train.total_steps == 5 and config.seed == 3
    assert args.workdir.endswith("demo-quick") and args.mode == "train"
    with pytest.raises(SystemExit):
        parse(["--preset", "nope"], get_config, name="demo", presets=("quick",))


def test_aliases_set_config_keys_with_their_types():
    def get_config(preset):
        c = ml_collections.ConfigDict()
        c.eval = ml_collections.ConfigDict(dict(sample_steps=1000, sampler="ddpm"))
        return c

    aliases = {"steps": "eval.sample_steps", "sampler": "eval.sampler"}
    config, _ = parse(
        ["--steps", "50", "--sampler", "ddim"], get_config, name="x", presets=(), aliases=aliases
    )
    assert config.eval.sample_steps == 50 and isinstance(config.eval.sample_steps, int)
    assert config.eval.sampler == "ddim"
    with pytest.raises(ConfigError, match="eval.sample_steps"):
        parse(["--steps", "many"], get_config, name="x", presets=(), aliases=aliases)


def _demo_main(argv):
    config, _ = parse(argv, get_config, name="demo", presets=("quick", "full"))
    if config.name == "bug":
        raise KeyError("a programming error")
    if config.name == "missing":
        cli.require_checkpoints("/nonexistent/run", "train it first")
    return config


def test_run_exits_2_with_the_message_for_usage_errors(capsys):
    for argv, message in [
        (["--config.train.totl_steps=3"], "unknown config key 'train.totl_steps'"),
        (["--config.train.total_steps=abc"], "expected a value of type int"),
        (["--config.name=missing"], "no trained run in workdir '/nonexistent/run'"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            cli.run(_demo_main, argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:
        cli.run(_demo_main, ["--preset", "nope"])  # argparse's own usage error
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.run(_demo_main, ["--config.train.total_steps=3"])
    assert exit_info.value.code == 0


def test_run_keeps_programming_errors():
    with pytest.raises(KeyError, match="a programming error"):
        cli.run(_demo_main, ["--config.name=bug"])


def test_missing_tfds_dataset_is_a_usage_error(tmp_path):
    with pytest.raises(cli.UsageError, match="data.dataset='nope'.*valid names"):
        cli.data_source("nope", "train")
    from jaxdl.data import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError) as info:
        cli.data_source("tfds:mnist", "test", str(tmp_path / "none"))
    assert cli.is_usage_error(info.value) and not cli.is_usage_error(KeyError("x"))


def _experiment(*argv):
    return subprocess.run(
        [sys.executable, "-m", "experiments.mnist_classifier", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--config.train.totl_steps=3"], "unknown config key 'train.totl_steps'; valid keys:"),
        (["--preset", "nope"], "invalid choice: 'nope'"),
        (
            ["--config.data.dataset=tfds:mnist", "--config.data.data_dir=/nonexistent"],
            "TFDS dataset 'mnist' is not prepared",
        ),
    ],
)
def test_experiment_command_line_mistakes_exit_2(argv, message, tmp_path):
    proc = _experiment(*argv, "--workdir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "python -m experiments.mnist_classifier" in proc.stderr


def test_write_results_replaces_the_file_whole(tmp_path, capsys):
    path = cli.write_results(str(tmp_path / "w"), {"psnr": 30.5})
    assert json.loads(open(path).read()) == {"psnr": 30.5}
    assert '"psnr": 30.5' in capsys.readouterr().out
    cli.write_results(str(tmp_path / "w"), [1, 2], echo=False)
    assert json.loads(open(path).read()) == [1, 2] and capsys.readouterr().out == ""
    assert sorted(os.listdir(tmp_path / "w")) == ["results.json"]  # no temporary left behind
