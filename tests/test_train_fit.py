"""The `fit` loop: outputs, exact resume, NaN handling, corrupt checkpoints, SIGTERM/SIGKILL,
and a 2-process multi-host run on loopback."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import chex
import jax
import numpy as np
import portpicker
import pytest
from fit_script import build, get_config

from jaxdl.train import NonFiniteLossError, fit, load_params
from jaxdl.train.writers import read_metrics

SCRIPT = os.path.join(os.path.dirname(__file__), "fit_script.py")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_script(*args, timeout=240):
    env = {**os.environ, "PYTHONPATH": ROOT, "XLA_FLAGS": ""}
    return subprocess.run(
        [sys.executable, SCRIPT, *map(str, args)],
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
    )


def _start(workdir, *args):
    """A long-running fit_script process (stdout+stderr merged) to be stopped by SIGTERM."""
    env = {**os.environ, "PYTHONPATH": ROOT, "XLA_FLAGS": ""}
    cmd = [
        sys.executable,
        SCRIPT,
        str(workdir),
        "--total_steps",
        "100000",
        "--checkpoint_every",
        "100000",
        *map(str, args),
    ]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_outputs_and_load_params(tmp_path):
    wd = str(tmp_path / "run")
    config = get_config(total_steps=10, checkpoint_every=5, log_every=5)
    state = fit(build(config, evaluators=[lambda s: [("eval/x", 1.5)]]), config, wd)
    assert int(state.step) == 10
    assert sorted(os.listdir(wd)) == ["checkpoints", "config.json", "metrics.jsonl", "tensorboard"]
    assert glob.glob(os.path.join(wd, "tensorboard", "events.out.tfevents.*"))
    with open(os.path.join(wd, "config.json")) as f:
        assert json.load(f)["train"]["total_steps"] == 10
    records = read_metrics(wd)
    assert [r["step"] for r in records if "loss" in r] == [5, 10]
    assert any(r.get("eval/x") == 1.5 for r in records)
    params = load_params(wd)
    chex.assert_trees_all_close(params, state.params)
    assert all(isinstance(x, np.ndarray) for x in jax.tree.leaves(params))
    chex.assert_trees_all_close(load_params(wd, ema=True), state.ema_params)
    assert load_params(wd, step=5)["Dense_0"]["kernel"].shape == (64, 32)
    with pytest.raises(FileNotFoundError, match="step 7"):
        load_params(wd, step=7)


def test_resume_equals_uninterrupted(tmp_path):
    full = fit(build(get_config(total_steps=12)), get_config(total_steps=12), str(tmp_path / "a"))
    wd = str(tmp_path / "b")
    fit(build(get_config(total_steps=7)), get_config(total_steps=7), wd)
    resumed = fit(build(get_config(total_steps=12)), get_config(total_steps=12), wd)
    chex.assert_trees_all_equal(resumed.params, full.params)
    chex.assert_trees_all_equal(resumed.opt_state, full.opt_state)
    chex.assert_trees_all_equal(resumed.ema_params, full.ema_params)


def test_nonfinite_loss_stops_with_step(tmp_path):
    config = get_config(total_steps=10)
    with pytest.raises(NonFiniteLossError, match="at step 1 "):
        fit(build(config, loss_scale=float("nan")), config, str(tmp_path / "nan"))


def test_nonfinite_midway_stops_naming_the_step_and_keeps_the_checkpoint(tmp_path):
    import jax.numpy as jnp
    import optax

    from jaxdl.train import Task, supervised

    rs = np.random.RandomState(0)
    batches = [{"x": rs.randn(16, 3).astype(np.float32)} for _ in range(10)]
    batches[6]["x"][2, 1] = np.inf  # the 7th step

    def loss_fn(p, b, rng):
        return jnp.mean((b["x"] @ p["w"]) ** 2), {}

    init_state, step = supervised(loss_fn, optax.sgd(0.01), init_fn=lambda r: {"w": jnp.ones((3,))})
    wd = str(tmp_path / "run")
    config = get_config(total_steps=10, checkpoint_every=5, ema_decay=None)
    with pytest.raises(NonFiniteLossError, match=r"at step 7 \(.*loss=inf"):
        fit(Task(init_state, step, iter(batches)), config, wd)
    assert sorted(int(d) for d in os.listdir(os.path.join(wd, "checkpoints")) if d.isdigit()) == [5]
    np.testing.assert_array_equal(load_params(wd)["w"], load_params(wd, step=5)["w"])
    assert np.isfinite(load_params(wd)["w"]).all()


def test_nonfinite_steps_skipped_when_configured(tmp_path):
    config = get_config(total_steps=6, skip_nonfinite=True, ema_decay=None)
    wd = str(tmp_path / "skip")
    state = fit(build(config, loss_scale=float("inf")), config, wd)
    assert int(state.step) == 6
    init_params = build(config).init_state(jax.random.PRNGKey(config.seed)).params
    chex.assert_trees_all_equal(state.params, init_params)
    skipped = sum(r.get("skipped_steps", 0) for r in read_metrics(wd))
    assert skipped == 6


def _damage(step_dir, mode):
    """truncate: every state file cut to a third; flip_data: 32 bytes inverted in the middle of
    the largest array data file (size unchanged; orbax restores such a file without error, only
    the checksums notice); flip_metadata: the same in the state's _METADATA."""
    files = [
        f
        for f in glob.glob(os.path.join(step_dir, "state", "**", "*"), recursive=True)
        if os.path.isfile(f) and os.path.getsize(f) > 0
    ]
    if mode == "flip_data":
        data = [f for f in files if os.sep + "d" + os.sep in f]
        files = [max(data, key=os.path.getsize)]
    elif mode == "flip_metadata":
        files = [os.path.join(step_dir, "state", "_METADATA")]
    assert files
    for f in files:
        size = os.path.getsize(f)
        with open(f, "r+b") as fh:
            if mode == "truncate":
                fh.truncate(max(size // 3, 1) - 1)
                continue
            fh.seek(size // 2 - 16)
            chunk = fh.read(32)
            fh.seek(size // 2 - 16)
            fh.write(bytes(b ^ 0xFF for b in chunk))
            assert os.path.getsize(f) == size


@pytest.fixture(scope="module")
def uninterrupted_10(tmp_path_factory):
    wd = str(tmp_path_factory.mktemp("ref") / "run")
    return fit(build(get_config(total_steps=10), hidden=512), get_config(total_steps=10), wd)


@pytest.mark.parametrize("mode", ["truncate", "flip_data", "flip_metadata"])
def test_damaged_latest_checkpoint_falls_back(tmp_path, capsys, mode, uninterrupted_10):
    wd = str(tmp_path / "run")
    config = get_config(total_steps=10, checkpoint_every=5)
    fit(build(config, hidden=512), config, wd)  # arrays large enough to be stored uncompressed
    ckdir = os.path.join(wd, "checkpoints")
    _damage(os.path.join(ckdir, "10"), mode)
    capsys.readouterr()
    state = fit(build(config, hidden=512), config, wd)
    out = capsys.readouterr().out
    assert "checkpoint at step 10" in out and "could not be restored" in out
    if mode == "flip_data":
        assert "checksum mismatch in 1 arrays of step 10" in out
    assert "resumed from checkpoint at step 5" in out
    assert int(state.step) == 10
    quarantined = glob.glob(os.path.join(ckdir, "corrupt", "10-*"))
    assert len(quarantined) == 1, "the damaged checkpoint must be kept aside, not deleted"
    chex.assert_trees_all_equal(state.params, uninterrupted_10.params)
    chex.assert_trees_all_equal(state.opt_state, uninterrupted_10.opt_state)
    chex.assert_trees_all_equal(state.ema_params, uninterrupted_10.ema_params)


def test_sigkill_mid_training_then_resume_is_bitwise_identical(tmp_path):
    ref = _run_script(tmp_path / "ref", "--total_steps", 30)
    assert ref.returncode == 0, ref.stderr[-2000:]
    killed = _run_script(tmp_path / "run", "--total_steps", 30, "--kill_at", 15)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not os.path.exists(tmp_path / "run" / "checkpoints" / "30")
    resumed = _run_script(tmp_path / "run", "--total_steps", 30)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from checkpoint at step" in resumed.stderr + resumed.stdout
    chex.assert_trees_all_equal(load_params(tmp_path / "run"), load_params(tmp_path / "ref"))
    chex.assert_trees_all_equal(
        load_params(tmp_path / "run", ema=True), load_params(tmp_path / "ref", ema=True)
    )


def test_sigterm_writes_checkpoint_and_resumes_to_the_uninterrupted_result(tmp_path):
    wd = tmp_path / "run"
    proc = _start(wd)
    deadline = time.time() + 180
    while time.time() < deadline and not os.path.exists(wd / "metrics.jsonl"):
        time.sleep(0.5)
    assert os.path.exists(wd / "metrics.jsonl"), "training never started"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out[-2000:]
    assert "SIGTERM: checkpoint written at step" in out
    steps = [int(d) for d in os.listdir(wd / "checkpoints") if d.isdigit()]
    assert len(steps) == 1 and steps[0] >= 5
    end = steps[0] + 3
    resumed = _run_script(wd, "--total_steps", end, "--checkpoint_every", 100000)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed from checkpoint at step {steps[0]}" in resumed.stderr + resumed.stdout
    ref = _run_script(tmp_path / "ref", "--total_steps", end, "--checkpoint_every", 100000)
    assert ref.returncode == 0, ref.stderr[-2000:]
    chex.assert_trees_all_equal(load_params(wd), load_params(tmp_path / "ref"))
    chex.assert_trees_all_equal(load_params(wd, ema=True), load_params(tmp_path / "ref", ema=True))


def _two_processes(workdir, total_steps, port):
    env = {**os.environ, "PYTHONPATH": ROOT, "XLA_FLAGS": ""}
    common = [
        "--total_steps",
        total_steps,
        "--coordinator_address",
        f"127.0.0.1:{port}",
        "--num_processes",
        2,
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, SCRIPT, str(workdir), *map(str, common), "--process_id", str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-3000:]
        assert "processes=2 devices=2" in out, out[-3000:]  # one CPU device per process
    return outs


def test_two_process_multihost_equals_one_process_and_resumes(tmp_path):
    _two_processes(tmp_path / "multi", 5, portpicker.pick_unused_port())
    single = _run_script(tmp_path / "single", "--total_steps", 5)
    assert single.returncode == 0, single.stderr[-2000:]
    assert "processes=1 devices=1" in single.stdout
    multi, one = load_params(tmp_path / "multi"), load_params(tmp_path / "single")
    chex.assert_trees_all_close(multi, one, atol=1e-6, rtol=1e-6)
    # Resume the 2-process run from its step-5 checkpoint to step 8.
    outs = _two_processes(tmp_path / "multi", 8, portpicker.pick_unused_port())
    assert "resumed from checkpoint at step 5" in outs[0]
    single = _run_script(tmp_path / "single", "--total_steps", 8)
    assert single.returncode == 0, single.stderr[-2000:]
    chex.assert_trees_all_close(
        load_params(tmp_path / "multi"), load_params(tmp_path / "single"), atol=1e-6, rtol=1e-6
    )


def test_checkpoint_from_other_architecture_is_refused_and_kept(tmp_path):
    import jax.numpy as jnp

    from jaxdl.train.checkpoint import CheckpointError

    wd = str(tmp_path / "run")
    config = get_config(total_steps=5, checkpoint_every=5)
    fit(build(config), config, wd)

    def wider(rng):  # hidden width 48 instead of 32, plus an extra layer
        dense = lambda i, o: {"kernel": jnp.zeros((i, o)), "bias": jnp.zeros((o,))}  # noqa: E731
        return {
            "params": {"Dense_0": dense(64, 48), "Dense_1": dense(48, 10), "Dense_2": dense(10, 10)}
        }

    task = build(config, init_fn=wider)
    with pytest.raises(
        CheckpointError,
        match=r"different model architecture.*not in the "
        r"checkpoint \(\d+\): params/Dense_2/bias, params/Dense_2/kernel.*shape "
        r"differs.*params/Dense_0/bias: checkpoint \(32,\), model \(48,\)",
    ):
        fit(task, get_config(total_steps=10, checkpoint_every=5), wd)
    ckdir = os.path.join(wd, "checkpoints")
    assert os.path.isdir(os.path.join(ckdir, "5"))
    assert not os.path.exists(os.path.join(ckdir, "corrupt"))


def test_two_process_sigterm_to_one_host_saves_same_step_on_both(tmp_path):
    """SIGTERM reaches only process 1: both processes agree on a step, save it and exit 143."""
    port = portpicker.pick_unused_port()
    wd = tmp_path / "multi"
    procs = [
        _start(
            wd,
            "--coordinator_address",
            f"127.0.0.1:{port}",
            "--num_processes",
            2,
            "--process_id",
            i,
        )
        for i in range(2)
    ]
    deadline = time.time() + 240
    while time.time() < deadline and not os.path.exists(wd / "metrics.jsonl"):
        time.sleep(0.5)
    assert os.path.exists(wd / "metrics.jsonl"), "training never started"
    time.sleep(2)
    procs[1].send_signal(signal.SIGTERM)
    outs = [p.communicate(timeout=180)[0] for p in procs]
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 143, out[-3000:]
    assert "SIGTERM: checkpoint written at step" in outs[0]
    steps = [int(d) for d in os.listdir(wd / "checkpoints") if d.isdigit()]
    assert len(steps) == 1 and steps[0] >= 5, steps
    saved = load_params(wd, step=steps[0])
    assert saved["Dense_0"]["kernel"].shape == (64, 32)
