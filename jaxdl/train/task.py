"""`Task`: what an experiment hands to `fit`, and the check that its step keeps the state's form."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import numpy as np

from jaxdl.optim.rules import path_str

# evaluator(state) -> iterable of (name, value): a scalar, or an image (H, W, C) / grid of images
# (N, H, W, C), uint8 or float in [0, 1], written as PNG and to TensorBoard.
Evaluator = Callable[[Any], Iterable[tuple[str, Any]]]


@dataclasses.dataclass
class Task:
    """What an experiment's `build(config)` returns for `fit`.

    init_state: rng -> state, any pytree (e.g. a `flax.struct.dataclass`) with a `step` field
      (int32 scalar counting completed steps).
    train_step: pure `(state, batch) -> (state, metrics)`, metrics a dict of scalars; the
      returned state has the input's structure, shapes and dtypes. `fit` compiles it for the
      configured backend. Build both with `jaxdl.train.supervised` or `adversarial`, or write
      your own from `jaxdl.train.pieces`.
    train_data: a grain dataset (or any iterable) of this process's batches (dicts of numpy
      arrays); a grain iterator's state is checkpointed and restored.
    evaluators: callables `state -> iterable of (name, value)`, run every `eval_every` steps and
      at the end.
    """

    init_state: Callable[[jax.Array], Any]
    train_step: Callable[[Any, Any], tuple[Any, dict]]
    train_data: Iterable[Any]
    evaluators: Sequence[Evaluator] = ()


def _describe(leaf: Any) -> str:
    return f"{np.dtype(leaf.dtype).name}{list(leaf.shape)}"


def check_step(train_step: Callable, state: Any, batch: Any) -> None:
    """Traces `train_step` abstractly (no compute) and raises a ValueError naming every leaf whose
    structure, shape or dtype the step changes, or metrics that are not a dict of scalars."""
    strip = lambda t: jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype), t)  # noqa: E731
    state, batch = strip(state), strip(batch)
    if not hasattr(state, "step"):
        raise ValueError(f"the task's state ({type(state).__name__}) needs a `step` field")
    out = jax.eval_shape(train_step, state, batch)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise ValueError("train_step must return (state, metrics)")
    new, metrics = out
    if jax.tree.structure(new) != jax.tree.structure(state):
        old_paths = {path_str(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]}
        new_paths = {path_str(p) for p, _ in jax.tree_util.tree_flatten_with_path(new)[0]}
        missing, added = sorted(old_paths - new_paths)[:8], sorted(new_paths - old_paths)[:8]
        raise ValueError(
            "train_step returned a state whose structure differs from its input: "
            f"missing {missing}, added {added} (input {type(state).__name__}, output "
            f"{type(new).__name__})"
        )
    changed = [
        f"{path_str(p)}: {_describe(a)} -> {_describe(b)}"
        for (p, a), b in zip(
            jax.tree_util.tree_flatten_with_path(state)[0], jax.tree.leaves(new), strict=True
        )
        if a.shape != b.shape or a.dtype != b.dtype
    ]
    if changed:
        raise ValueError(
            f"train_step changes the shape or dtype of {len(changed)} state arrays: "
            + "; ".join(changed[:8])
            + (" ..." if len(changed) > 8 else "")
        )
    if not isinstance(metrics, dict):
        raise ValueError(f"train_step metrics must be a dict of scalars, got {type(metrics)}")
    bad = [f"{k}: shape {v.shape}" for k, v in metrics.items() if np.shape(v) != ()]
    if bad:
        raise ValueError(f"train_step metrics must be scalars; {', '.join(bad)}")
