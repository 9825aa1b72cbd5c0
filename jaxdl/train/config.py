"""Typed views of an experiment config's `train` group: the loop's keys and the step's keys."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp

_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}
STEP_KEYS = (
    "accum_steps",
    "clip_norm",
    "ema_decay",
    "ema_warmup",
    "compute_dtype",
    "skip_nonfinite",
)


def resolve_dtype(dtype: Any) -> Any:
    """ "float32" / None -> None (no cast); "bfloat16" or a jnp dtype -> that dtype."""
    if dtype is None or not isinstance(dtype, str):
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(f"compute_dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    return _DTYPES[dtype]


def engine_config(**overrides: Any) -> Any:
    """A `config.train` group holding every engine key with its default, one per line; an
    experiment adds its own keys (learning rate, ...) and overrides defaults by keyword."""
    import ml_collections

    c = ml_collections.ConfigDict()
    c.total_steps = 1000
    c.batch_size = 128  # global, over all devices and hosts
    c.log_every = 50
    c.eval_every = 0  # 0: evaluate only at the end
    c.checkpoint_every = 1000  # 0: only at the end
    c.keep_checkpoints = 3
    c.async_checkpoint = True
    c.parallel = "jit"  # or "pmap" (one host)
    c.sharding = ()  # ((regex, spec), ...) rules on state paths, see jaxdl.train.sharding
    c.accum_steps = 1  # micro-batches per step (supervised step only)
    c.clip_norm = None  # global gradient-norm clipping
    c.ema_decay = None  # keep an EMA of the (generator's) params
    c.ema_warmup = False  # EMA decay min(d, (1 + t) / (10 + t))
    c.compute_dtype = "float32"  # or "bfloat16"
    c.skip_nonfinite = False  # skip NaN/Inf steps instead of stopping
    for key, value in overrides.items():
        if key not in c:
            raise KeyError(f"engine_config has no key {key!r}; keys: {sorted(c)}")
        c[key] = value
    return c


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
