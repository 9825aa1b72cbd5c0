"""Metric writers for a run's workdir: `metrics.jsonl` and TensorBoard event files."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import jax


class MetricWriter:
    """Appends `{"step": s, name: value, ...}` lines to `metrics.jsonl` and writes the same
    scalars to TensorBoard (`<workdir>/tensorboard`). Only process 0 writes."""

    def __init__(self, workdir: str, *, tensorboard: bool = True):
        self.active = jax.process_index() == 0
        self.path = os.path.join(workdir, "metrics.jsonl")
        self._tb = None
        if self.active and tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

    def write(self, step: int, scalars: dict[str, Any]) -> None:
        if not self.active:
            return
        values = {k: _to_python(v) for k, v in scalars.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": int(step), **values}) + "\n")
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, int(step))
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _to_python(v: Any) -> Any:
    try:
        v = v.item()
    except AttributeError:
        pass
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def read_metrics(workdir: str) -> list[dict[str, Any]]:
    """All records of `metrics.jsonl` in order."""
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]
