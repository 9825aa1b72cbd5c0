"""Typed views of an experiment config's `train` group: the loop's keys and the step's keys."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp

_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}
STEP_KEYS = ("accum_steps", "clip_norm", "ema_decay", "ema_warmup", "compute_dtype",
             "skip_nonfinite")


def resolve_dtype(dtype: Any) -> Any:
    """"float32" / None -> None (no cast); "bfloat16" or a jnp dtype -> that dtype."""
    if dtype is None or not isinstance(dtype, str):
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(f"compute_dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    return _DTYPES[dtype]


def step_options(train: Any) -> dict[str, Any]:
    """The step keys present in `config.train` as keyword arguments for `supervised` /
    `adversarial` (accum_steps, clip_norm, ema_decay, ema_warmup, compute_dtype,
    skip_nonfinite)."""
    return {k: train[k] for k in STEP_KEYS if k in train}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The keys `fit` reads from `config.train` (other keys there are the experiment's own).

    total_steps, batch_size (global), log_every, eval_every (0: only at the end),
    checkpoint_every (0: only at the end), keep_checkpoints, async_checkpoint,
    parallel ("jit" | "pmap"), sharding (list of (regex, spec) rules, see `jaxdl.train.sharding`).
    `seed` is read from the config's top level.
    """

    total_steps: int
    batch_size: int
    seed: int = 0
    log_every: int = 50
    eval_every: int = 0
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    async_checkpoint: bool = True
    parallel: str = "jit"
    sharding: tuple = ()

    @classmethod
    def from_config(cls, config: Any) -> TrainConfig:
        if "train" not in config:
            raise ValueError("the config has no 'train' group (config.train.total_steps, ...)")
        train = config.train
        names = {f.name for f in dataclasses.fields(cls)} - {"seed"}
        kwargs = {k: train[k] for k in names if k in train}
        for key in ("total_steps", "batch_size"):
            if key not in kwargs:
                raise ValueError(f"config.train.{key} is required")
        if "sharding" in kwargs:
            kwargs["sharding"] = tuple(tuple(r) for r in (kwargs["sharding"] or ()))
        tc = cls(seed=config.get("seed", 0), **kwargs)
        tc.validate()
        return tc

    def validate(self) -> None:
        for key in ("total_steps", "batch_size"):
            if getattr(self, key) < 1:
                raise ValueError(f"config.train.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("log_every", "eval_every", "checkpoint_every"):
            if getattr(self, key) < 0:
                raise ValueError(f"config.train.{key} must be >= 0, got {getattr(self, key)}")
        if self.parallel not in ("jit", "pmap"):
            raise ValueError(
                f"config.train.parallel must be 'jit' or 'pmap', got {self.parallel!r}"
            )
