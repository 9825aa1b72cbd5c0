"""Shared benchmark harness: repeated timed runs, median and spread, one JSON line per result.

Every benchmark reports compile (first call) time separately from the steady state, and prints
`{"bench": ..., "median_s": ..., "p10_s": ..., "p90_s": ..., ...}` lines to stdout and, when
`--out FILE` is given, appends them to FILE.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _block(x: Any) -> Any:
    import jax

    return jax.block_until_ready(x)


def time_fn(
    fn: Callable[[], Any], *, repeats: int = 10, warmup: int = 1, block: bool = True
) -> dict[str, float]:
    """Times `fn()` (which must return something `block_until_ready` accepts).

    The first `warmup` calls are timed separately as `first_call_s` (compile + run for jitted
    functions); the remaining `repeats` calls give the median, p10 and p90 seconds.
    `block=False` times synchronous code (PyTorch on CPU) without importing jax.
    """
    sync = _block if block else (lambda x: x)
    first = 0.0
    for i in range(max(warmup, 0)):
        t0 = time.perf_counter()
        sync(fn())
        if i == 0:
            first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    arr = np.asarray(times)
    return {
        "median_s": float(np.median(arr)),
        "p10_s": float(np.percentile(arr, 10)),
        "p90_s": float(np.percentile(arr, 90)),
        "repeats": repeats,
        "first_call_s": first,
    }


def machine_info() -> dict[str, Any]:
    import jax

    return {
        "backend": jax.default_backend(),
        "devices": jax.device_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
    }


class Reporter:
    """Collects JSON-lines records; prints each one and optionally appends it to a file."""

    def __init__(self, out: str | None = None):
        self.out = out
        self.records: list[dict[str, Any]] = []

    def emit(self, bench: str, **fields: Any) -> dict[str, Any]:
        record = {"bench": bench, **fields}
        self.records.append(record)
        line = json.dumps(record, sort_keys=False)
        print(line, flush=True)
        if self.out:
            with open(self.out, "a") as f:
                f.write(line + "\n")
        return record
