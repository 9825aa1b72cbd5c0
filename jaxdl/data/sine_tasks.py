"""The sine-wave task distribution of MAML's few-shot regression (Finn et al. 2017, §5.1).

A task is y = A·sin(x + φ) with amplitude A ~ U[0.1, 5.0] and phase φ ~ U[0, π]; its points have
x ~ U[−5, 5]. Each task gives K support points (the inner, adaptation step) and a set of query
points (the meta-loss or the test error). SPEC: BAS-9.
"""

from __future__ import annotations

import jax
import numpy as np

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, np.pi)
X_RANGE = (-5.0, 5.0)


def sine(x: np.ndarray, amplitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """A·sin(x + φ); `amplitude` and `phase` broadcast against `x`."""
    return amplitude * np.sin(x + phase)


def sample_sine_tasks(
    rng: np.random.Generator, num_tasks: int, num_support: int, num_query: int
) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """`num_tasks` tasks with independent support and query points, float32:

    `{"support": {"x", "y"}, "query": {"x", "y"}, "amplitude", "phase"}` with x and y of shape
    (num_tasks, num_support or num_query, 1) and amplitude, phase of shape (num_tasks,).
    """
    for name, value in (("num_tasks", num_tasks), ("num_support", num_support)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if num_query < 0:
        raise ValueError(f"num_query must be >= 0, got {num_query}")
    amplitude = rng.uniform(*AMPLITUDE, size=num_tasks)
    phase = rng.uniform(*PHASE, size=num_tasks)
    x = rng.uniform(*X_RANGE, size=(num_tasks, num_support + num_query, 1))
    y = sine(x, amplitude[:, None, None], phase[:, None, None])
    x, y = x.astype(np.float32), y.astype(np.float32)
    return {
        "support": {"x": x[:, :num_support], "y": y[:, :num_support]},
        "query": {"x": x[:, num_support:], "y": y[:, num_support:]},
        "amplitude": amplitude.astype(np.float32),
        "phase": phase.astype(np.float32),
    }


class SineTaskStream:
    """Endless meta-batches `{"support": {"x", "y"}, "query": {"x", "y"}}` of sine tasks
    (leading axis: the `meta_batch_size` tasks; see `sample_sine_tasks`).

    Meta-batch i is drawn from `default_rng([seed, i, process_index])`: reproducible and
    resumable (`get_state`/`set_state` hold i, so `fit` checkpoints the position).
    `meta_batch_size` is global; each of P processes draws its share of the tasks.
    """

    def __init__(self, meta_batch_size: int, num_support: int, num_query: int, seed: int = 0):
        count = jax.process_count()
        if meta_batch_size % count:
            raise ValueError(
                f"meta_batch_size {meta_batch_size} is not divisible by {count} processes"
            )
        self.local, self.seed, self.index = meta_batch_size // count, seed, 0
        self.num_support, self.num_query = num_support, num_query
        sample_sine_tasks(np.random.default_rng(0), 1, num_support, num_query)  # validates

    def __iter__(self) -> SineTaskStream:
        return self

    def __next__(self) -> dict[str, dict[str, np.ndarray]]:
        rng = np.random.default_rng([self.seed, self.index, jax.process_index()])
        self.index += 1
        tasks = sample_sine_tasks(rng, self.local, self.num_support, self.num_query)
        return {"support": tasks["support"], "query": tasks["query"]}

    def get_state(self) -> dict:
        return {"index": self.index}

    def set_state(self, state: dict) -> None:
        self.index = int(state["index"])
