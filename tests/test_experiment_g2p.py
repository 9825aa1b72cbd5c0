"""experiments.g2p_seq2seq: 2-step runs through `main` (attention with its alignment picture,
the transformer), the presets' models, config mistakes as usage errors."""

import json
import os

import pytest

from experiments import g2p_seq2seq
from jaxdl import cli
from jaxdl.models import transformer

TINY = [
    "--config.train.total_steps=2",
    "--config.train.batch_size=8",
    "--config.train.eval_every=0",
    "--config.eval.valid_words=16",
    "--config.eval.test_words=32",
    "--config.eval.max_len=4",
    "--config.eval.batch_size=16",
]


@pytest.mark.parametrize(
    "preset,extra",
    [
        ("quick", ["--config.model.hidden=8", "--config.model.embed=8"]),
        (
            "transformer",
            [
                "--config.model.d_model=16",
                "--config.model.transformer_layers=1",
                "--config.model.dim_feedforward=16",
            ],
        ),
    ],
)
def test_two_steps_write_results(tmp_path, preset, extra):
    workdir = str(tmp_path / preset)
    results = g2p_seq2seq.main(["--preset", preset, "--workdir", workdir, *TINY, *extra])
    with open(os.path.join(workdir, "results.json")) as f:
        saved = json.load(f)
    assert saved["steps"] == 2 and saved["test"]["words"] == 32
    assert 0 <= saved["test"]["wer"] <= 1 and saved["test"]["per"] >= 0
    assert saved == json.loads(json.dumps(results))
    assert os.path.exists(os.path.join(workdir, "alignment.png")) == (preset == "quick")


def test_presets_build_their_models():
    sizes = (30, 42)
    plain = g2p_seq2seq.make_model(g2p_seq2seq.get_config("no_attention"), *sizes)
    assert plain.attention is None and plain.num_layers == 2 and plain.bidirectional
    full = g2p_seq2seq.make_model(g2p_seq2seq.get_config(), *sizes)
    assert full.attention == "general" and full.hidden == 256
    assert g2p_seq2seq.get_config().eval.beam_size == 5
    tf = g2p_seq2seq.make_model(g2p_seq2seq.get_config("transformer"), *sizes)
    assert isinstance(tf, transformer.Transformer) and tf.norm_first


def test_config_mistakes_are_usage_errors(tmp_path):
    with pytest.raises(cli.ConfigError, match="config.model.attention='cosine'; choose from"):
        g2p_seq2seq.main(["--workdir", str(tmp_path), "--config.model.attention=cosine"])
    with pytest.raises(cli.ConfigError, match="decodes greedily"):
        g2p_seq2seq.main(
            ["--preset", "transformer", "--workdir", str(tmp_path), "--config.eval.beam_size=5"]
        )
