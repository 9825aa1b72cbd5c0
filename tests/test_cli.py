"""Shared experiment flags: presets, typed `--config.key=value` overrides, unknown keys."""

import ml_collections
import pytest

from jaxdl.cli import ConfigError, apply_overrides, parse


def get_config(preset=None):
    c = ml_collections.ConfigDict(dict(seed=0, total_steps=100, learning_rate=1e-3,
                                       flip=True, name="x", features=(32, 64), clip=None))
    c.model = ml_collections.ConfigDict(dict(width=8))
    if preset == "quick":
        c.total_steps = 5
    return c


def test_overrides_keep_types():
    c = get_config()
    apply_overrides(c, ["--config.total_steps=7", "--config.learning_rate=1", "--config.flip",
                        "false", "--config.model.width=16", "--config.features=(1,2,3)",
                        "--config.name=hello", "--config.clip=1.0"])
    assert c.total_steps == 7 and isinstance(c.learning_rate, float) and c.learning_rate == 1.0
    assert c.flip is False and c.model.width == 16 and tuple(c.features) == (1, 2, 3)
    assert c.name == "hello" and c.clip == 1.0


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown config key 'totl_steps'.*model.width"):
        apply_overrides(get_config(), ["--config.totl_steps=3"])


def test_wrong_type_rejected():
    with pytest.raises(ConfigError, match="expected a value of type int"):
        apply_overrides(get_config(), ["--config.total_steps=abc"])
    with pytest.raises(ConfigError, match="unrecognized argument"):
        apply_overrides(get_config(), ["--bogus"])


def test_parse_preset_and_workdir():
    config, args = parse(["--preset", "quick", "--config.seed=3"], get_config, name="demo",
                         presets=("quick", "full"))
    assert config.total_steps == 5 and config.seed == 3
    assert args.workdir.endswith("demo-quick") and args.mode == "train"
    with pytest.raises(SystemExit):
        parse(["--preset", "nope"], get_config, name="demo", presets=("quick",))


def test_aliases_set_config_keys_with_their_types():
    def get_config(preset):
        c = ml_collections.ConfigDict()
        c.sample_steps, c.sampler = 1000, "ddpm"
        return c

    config, _ = parse(["--steps", "50", "--sampler", "ddim"], get_config, name="x",
                          presets=(), aliases={"steps": "sample_steps", "sampler": "sampler"})
    assert config.sample_steps == 50 and isinstance(config.sample_steps, int)
    assert config.sampler == "ddim"
    with pytest.raises((ValueError, ConfigError), match="sample_steps"):
        parse(["--steps", "many"], get_config, name="x", presets=(),
                  aliases={"steps": "sample_steps"})
