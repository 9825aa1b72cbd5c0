"""Typed view of the training keys of an experiment's ConfigDict."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp

_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Keys `fit` reads from the experiment config (all experiments share them).

    total_steps, batch_size (global), seed, log_every, eval_every (0: only at the end),
    checkpoint_every (0: only at the end), keep_checkpoints, async_checkpoint,
    parallel ("jit" | "pmap"), sharding (list of (regex, spec) rules, see `jaxdl.train.sharding`),
    accum_steps, clip_norm, ema_decay, ema_warmup, compute_dtype ("float32" | "bfloat16"),
    skip_nonfinite.
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
    accum_steps: int = 1
    clip_norm: float | None = None
    ema_decay: float | None = None
    ema_warmup: bool = False
    compute_dtype: str = "float32"
    skip_nonfinite: bool = False

    @classmethod
    def from_config(cls, config: Any) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: config[k] for k in names if k in config}
        if "sharding" in kwargs:
            kwargs["sharding"] = tuple(tuple(r) for r in (kwargs["sharding"] or ()))
        tc = cls(**kwargs)
        tc.validate()
        return tc

    def validate(self) -> None:
        for key in ("total_steps", "batch_size", "accum_steps"):
            if getattr(self, key) < 1:
                raise ValueError(f"config.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("log_every", "eval_every", "checkpoint_every"):
            if getattr(self, key) < 0:
                raise ValueError(f"config.{key} must be >= 0, got {getattr(self, key)}")
        if self.compute_dtype not in _DTYPES:
            raise ValueError(
                f"config.compute_dtype must be one of {sorted(_DTYPES)}, got {self.compute_dtype!r}"
            )
        if self.parallel not in ("jit", "pmap"):
            raise ValueError(f"config.parallel must be 'jit' or 'pmap', got {self.parallel!r}")

    @property
    def dtype(self) -> Any:
        return _DTYPES[self.compute_dtype]
