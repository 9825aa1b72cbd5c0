"""The one generic training loop: init -> shard -> restore -> step / log / checkpoint / eval.

`fit` knows nothing of params, optimizers or EMA: the task's `init_state` and pure `train_step`
own them (`jaxdl.train.supervised`, `adversarial`, or a family's own step). Anchor: big_vision
`train.py` (start-up order, auto-resume). Every experiment calls `fit`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxdl.train.checkpoint import Checkpointer
from jaxdl.train.config import TrainConfig
from jaxdl.train.parallel import make_backend
from jaxdl.train.preemption import Preempted, PreemptionWatch
from jaxdl.train.task import Evaluator, Task, check_step
from jaxdl.train.writers import MetricWriter, is_image

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """A step's loss or gradient norm became NaN/Inf and the step did not skip it."""


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
            old = _flatten(json.load(f))
        new = _flatten(json.loads(text))
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            print(f"WARNING: config differs from the saved run in keys {changed}", flush=True)
    with open(path, "w") as f:
        f.write(text + "\n")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def fit(task: Task, config: Any, workdir: str) -> Any:
    """Trains `task` for `config.train.total_steps` steps in `workdir`, resuming if it has
    checkpoints.

    Reads `config.seed` and the loop keys of `config.train` (`jaxdl.train.TrainConfig`). Writes
    `config.json`, `metrics.jsonl`, TensorBoard events, `images/` and `checkpoints/`. Returns the
    final state (unreplicated; sharded as configured for the jit backend).
    """
    tc = TrainConfig.from_config(config)
    backend = make_backend(tc.parallel, tc.sharding)
    if tc.parallel == "pmap" and jax.process_count() > 1:
        raise ValueError("parallel='pmap' runs on one host; use parallel='jit' on several hosts")
    if tc.batch_size % jax.device_count():
        raise ValueError(
            f"config.train.batch_size={tc.batch_size} must be divisible by the number of "
            f"devices ({jax.device_count()})"
        )
    os.makedirs(workdir, exist_ok=True)
    save_config(workdir, config)

    def init_state_fn():
        return task.init_state(jax.random.PRNGKey(tc.seed))

    ckpt = Checkpointer(
        os.path.join(workdir, "checkpoints"),
        keep=tc.keep_checkpoints,
        async_save=tc.async_checkpoint,
    )
    data_iter = iter(task.train_data)
    abstract = backend.abstract_state(init_state_fn)
    restored = ckpt.restore_latest(abstract)
    if restored is not None:
        step, state, data_state = restored
        state = backend.from_checkpoint(state)
        if "iterator" in data_state and hasattr(data_iter, "set_state"):
            data_iter.set_state(data_state["iterator"])
        _say(f"resumed from checkpoint at step {step} in {workdir}")
    else:
        step, state = 0, backend.init_state(init_state_fn)

    writer = MetricWriter(workdir)
    runner = _Runner(tc, backend, ckpt, writer, data_iter)
    checked = [False]

    def train_step(state, batch):
        if not checked[0]:  # before the first real step, so no work is lost
            check_step(task.train_step, abstract, batch)
            checked[0] = True
        return compiled(state, backend.put_batch(batch))

    compiled = backend.compile_step(task.train_step)
    try:
        with PreemptionWatch() as preemption:
            state = runner.run(state, step, train_step, task.evaluators, preemption)
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
            nonfinite = int(host.pop("nonfinite", 0))
            if int(host.pop("skipped", 0)):
                self.skipped += 1
                log.warning("skipped non-finite step %d", step)
                continue
            if nonfinite:
                values = ", ".join(f"{k}={float(v):.4g}" for k, v in host.items())
                raise NonFiniteLossError(
                    f"non-finite loss or gradient at step {step} ({values}); the last checkpoint "
                    "is kept. Set config.train.skip_nonfinite=True to skip such steps instead."
                )
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

    def run(self, state, step, train_step, evaluators, preemption) -> Any:
        tc = self.tc
        first_step = step
        if step >= tc.total_steps:
            _say(f"run already complete at step {step}")
        pbar = tqdm(
            total=tc.total_steps,
            initial=step,
            unit="step",
            dynamic_ncols=True,
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
            state, metrics = train_step(state, batch)
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
                pbar.set_postfix({k: f"{v:.4g}" for k, v in scalars.items() if "loss" in k[-5:]})
                self.sums, self.count, self.skipped = {}, 0, 0
                t_log, step_log = now, step
            if (tc.checkpoint_every and step % tc.checkpoint_every == 0) or last:
                self.save(step, state)
            if (tc.eval_every and step % tc.eval_every == 0) or last:
                self.evaluate(step, state, evaluators)
            if preemption.reached(step):
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
        results, pictures = {}, {}
        for evaluator in evaluators:
            for name, value in evaluator(canonical):
                if is_image(value):
                    pictures[name] = value
                else:
                    results[name] = np.asarray(value).item() if np.ndim(value) == 0 else value
        paths = self.writer.write_images(step, pictures)
        results.update(
            {f"{k}_png": os.path.relpath(v, self.writer.workdir) for k, v in paths.items()}
        )
        if results:
            self.writer.write(step, results)
            _say(f"step {step}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in results.items()))


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _say(msg: str) -> None:
    if jax.process_index() == 0:
        tqdm.write(msg)
