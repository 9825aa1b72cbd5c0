"""The one generic training loop: init -> shard -> restore -> step / log / checkpoint / eval.

Anchor: big_vision `train.py` (start-up order, auto-resume). Every experiment calls `fit`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxdl.train.checkpoint import Checkpointer
from jaxdl.train.config import TrainConfig
from jaxdl.train.parallel import make_backend
from jaxdl.train.state import TrainState, split_variables
from jaxdl.train.step import LossFn, make_train_step
from jaxdl.train.writers import MetricWriter

log = logging.getLogger(__name__)

Evaluator = Callable[[TrainState], Iterable[tuple[str, Any]]]


class NonFiniteLossError(FloatingPointError):
    """The loss or gradient norm became NaN/Inf (and `skip_nonfinite` is off)."""


class Preempted(SystemExit):
    """Raised after SIGTERM once a checkpoint is written; exits the process with code 143."""

    def __init__(self, step: int):
        super().__init__(143)
        self.step = step


@dataclasses.dataclass
class Task:
    """What an experiment's `build(config)` returns for `fit`.

    init_fn: rng -> params, or Flax variables {"params": ..., "batch_stats": ...}.
    loss_fn: see `make_train_step` (with `has_mutable=True` it also receives/returns the
      non-param collections).
    train_data: a grain dataset (or any iterable) of this process's batches (dicts of numpy
      arrays); a grain iterator's state is checkpointed and restored.
    evaluators: callables `state -> iterable of (name, value)`, run every `eval_every` steps and
      at the end.
    """

    init_fn: Callable[[jax.Array], Any]
    loss_fn: LossFn
    tx: optax.GradientTransformation
    train_data: Iterable[Any]
    evaluators: Sequence[Evaluator] = ()
    has_mutable: bool = False


def save_config(workdir: str, config: Any) -> None:
    """Writes `config.json`; warns with the changed keys if a different one is already there."""
    if jax.process_index() != 0:
        return
    text = (
        config.to_json_best_effort(indent=2, sort_keys=True)
        if hasattr(config, "to_json_best_effort")
        else json.dumps(dict(config), indent=2, sort_keys=True, default=str)
    )
    path = os.path.join(workdir, "config.json")
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        new = json.loads(text)
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            print(f"WARNING: config differs from the saved run in keys {changed}", flush=True)
    with open(path, "w") as f:
        f.write(text + "\n")


class _SigtermFlag:
    """Records SIGTERM so the loop can checkpoint and exit cleanly (main thread only)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def fit(task: Task, config: Any, workdir: str) -> TrainState:
    """Trains `task` for `config.total_steps` steps in `workdir`, resuming if it has checkpoints.

    Writes `config.json`, `metrics.jsonl`, TensorBoard events and `checkpoints/`. Returns the
    final state (unreplicated; sharded as configured for the jit backend).
    """
    tc = TrainConfig.from_config(config)
    backend = make_backend(tc.parallel, tc.sharding)
    if tc.parallel == "pmap" and jax.process_count() > 1:
        raise ValueError("parallel='pmap' runs on one host; use parallel='jit' on several hosts")
    global_devices = jax.device_count()
    if tc.batch_size % (global_devices * tc.accum_steps):
        raise ValueError(
            f"config.batch_size={tc.batch_size} must be divisible by the number of devices "
            f"({global_devices}) times accum_steps ({tc.accum_steps})"
        )
    os.makedirs(workdir, exist_ok=True)
    save_config(workdir, config)

    init_rng, state_rng = jax.random.split(jax.random.PRNGKey(tc.seed))

    def init_state_fn():
        params, mutable = split_variables(task.init_fn(init_rng))
        return TrainState.create(
            params=params, tx=task.tx, rng=state_rng, mutable=mutable,
            ema=tc.ema_decay is not None,
        )

    ckpt = Checkpointer(
        os.path.join(workdir, "checkpoints"), keep=tc.keep_checkpoints,
        async_save=tc.async_checkpoint,
    )
    data_iter = iter(task.train_data)
    restored = ckpt.restore_latest(backend.abstract_state(init_state_fn))
    if restored is not None:
        step, state, data_state = restored
        state = backend.from_checkpoint(state)
        if "iterator" in data_state and hasattr(data_iter, "set_state"):
            data_iter.set_state(data_state["iterator"])
        _say(f"resumed from checkpoint at step {step} in {workdir}")
    else:
        step, state = 0, backend.init_state(init_state_fn)

    train_step = backend.compile_step(
        make_train_step(
            task.loss_fn, task.tx, accum_steps=tc.accum_steps, clip_norm=tc.clip_norm,
            ema_decay=tc.ema_decay, ema_warmup=tc.ema_warmup, compute_dtype=tc.dtype,
            skip_nonfinite=tc.skip_nonfinite,
            has_mutable=task.has_mutable, axis_name=backend.axis_name,
        )
    )
    writer = MetricWriter(workdir)
    runner = _Runner(tc, backend, ckpt, writer, data_iter)
    try:
        with _SigtermFlag() as sigterm:
            state = runner.run(state, step, train_step, task.evaluators, sigterm)
    finally:
        ckpt.close()
        writer.close()
    return backend.to_checkpoint(state)


class _Runner:
    """Host-side bookkeeping of `fit`: metric draining, NaN checks, logging, saving, evals."""

    def __init__(self, tc: TrainConfig, backend, ckpt: Checkpointer, writer: MetricWriter, it):
        self.tc, self.backend, self.ckpt, self.writer, self.it = tc, backend, ckpt, writer, it
        self.pending: deque = deque()
        self.sums: dict[str, float] = {}
        self.count = 0
        self.skipped = 0
        self.last_saved = -1

    def drain(self, keep: int = 0) -> None:
        """Moves finished steps' metrics to the host and checks them for NaN/Inf."""
        while len(self.pending) > keep:
            step, metrics = self.pending.popleft()
            host = self.backend.metrics_to_host(metrics)
            if int(host.pop("nonfinite")):
                if not self.tc.skip_nonfinite:
                    raise NonFiniteLossError(
                        f"non-finite loss or gradient at step {step} (loss={float(host['loss'])}, "
                        f"grad_norm={float(host['grad_norm'])}); the last checkpoint is kept. "
                        "Set config.skip_nonfinite=True to skip such steps instead."
                    )
                self.skipped += 1
                log.warning("skipped non-finite step %d", step)
                continue
            for k, v in host.items():
                self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.count += 1

    def save(self, step: int, state: Any) -> None:
        if step == self.last_saved:
            return
        self.drain()
        data = {"iterator": self.it.get_state()} if hasattr(self.it, "get_state") else {}
        self.ckpt.save(step, self.backend.to_checkpoint(state), data)
        self.last_saved = step

    def run(self, state, step, train_step, evaluators, sigterm) -> Any:
        tc = self.tc
        first_step = step
        if step >= tc.total_steps:
            _say(f"run already complete at step {step}")
        pbar = tqdm(
            total=tc.total_steps, initial=step, unit="step", dynamic_ncols=True,
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
            disable=jax.process_index() != 0,
        )
        t0 = time.perf_counter()
        t_log, step_log = t0, step
        while step < tc.total_steps:
            try:
                batch = next(self.it)
            except StopIteration:
                raise RuntimeError(
                    f"training data ran out at step {step} of {tc.total_steps}; use a repeating "
                    "pipeline (num_epochs=None) or lower config.total_steps"
                ) from None
            state, metrics = train_step(state, self.backend.put_batch(batch))
            if step == first_step:
                jax.block_until_ready(metrics)
                first_step_s = time.perf_counter() - t0  # includes compilation
            step += 1
            self.pending.append((step, metrics))
            self.drain(keep=1)
            pbar.update(1)
            last = step == tc.total_steps
            if (tc.log_every and step % tc.log_every == 0) or last:
                self.drain()
                now = time.perf_counter()
                scalars = {k: v / max(self.count, 1) for k, v in self.sums.items()}
                scalars["steps_per_sec"] = (step - step_log) / max(now - t_log, 1e-9)
                if self.skipped:
                    scalars["skipped_steps"] = self.skipped
                if step_log == first_step:
                    scalars["first_step_s"] = first_step_s
                self.writer.write(step, scalars)
                pbar.set_postfix(loss=f"{scalars.get('loss', float('nan')):.4g}")
                self.sums, self.count, self.skipped = {}, 0, 0
                t_log, step_log = now, step
            if (tc.checkpoint_every and step % tc.checkpoint_every == 0) or last:
                self.save(step, state)
            if (tc.eval_every and step % tc.eval_every == 0) or last:
                self.evaluate(step, state, evaluators)
            if sigterm.requested:
                self.save(step, state)
                self.ckpt.wait()
                pbar.close()
                _say(f"SIGTERM: checkpoint written at step {step}; exiting")
                raise Preempted(step)
        pbar.close()
        self.drain()
        return state

    def evaluate(self, step: int, state: Any, evaluators: Sequence[Evaluator]) -> None:
        if not evaluators:
            return
        canonical = self.backend.to_checkpoint(state)
        results = {}
        for evaluator in evaluators:
            for name, value in evaluator(canonical):
                results[name] = np.asarray(value).item() if np.ndim(value) == 0 else value
        self.writer.write(step, results)
        if results:
            _say(f"step {step}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in results.items()))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _say(msg: str) -> None:
    if jax.process_index() == 0:
        tqdm.write(msg)
