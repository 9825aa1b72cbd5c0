"""Metric writers for a run's workdir: `metrics.jsonl`, TensorBoard event files and PNG images."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import jax
import numpy as np

from jaxdl import images as img


class MetricWriter:
    """Appends `{"step": s, name: value, ...}` lines to `metrics.jsonl` and writes the same
    scalars to TensorBoard (`<workdir>/tensorboard`); images go to TensorBoard and to
    `<workdir>/images/<name>/step_<step>.png`. Only process 0 writes."""

    def __init__(self, workdir: str, *, tensorboard: bool = True):
        self.active = jax.process_index() == 0
        self.workdir = workdir
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

    def write_images(self, step: int, images: dict[str, Any]) -> dict[str, str]:
        """Writes each image (H, W, C) or batch (N, H, W, C) as one PNG (a grid for a batch);
        uint8, or floats in [0, 1]. Returns name -> PNG path."""
        if not self.active:
            return {}
        paths = {}
        for name, value in images.items():
            grid = as_image(value, name)
            path = os.path.join(
                self.workdir, "images", name.replace("/", "_"), f"step_{int(step):08d}.png"
            )
            img.save_grid(grid[None], path, nrow=1, pad=0)
            paths[name] = path
            if self._tb is not None:
                self._tb.add_image(name, grid, int(step), dataformats="HWC")
        if self._tb is not None:
            self._tb.flush()
        return paths

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


def is_image(value: Any) -> bool:
    """An evaluator value that is an image: an array with 3 or 4 dimensions."""
    return np.ndim(value) in (3, 4)


def as_image(value: Any, name: str = "image") -> np.ndarray:
    """(H, W, C) or (N, H, W, C), uint8 or float in [0, 1] -> one uint8 (H', W', C) image."""
    x = np.asarray(value)
    if x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"image {name!r}: expected 1, 3 or 4 channels last, got shape {x.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"image {name!r}: expected uint8 or float in [0, 1], got {x.dtype}")
        x = np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
    return img.make_grid(x) if x.ndim == 4 else x
