"""Checkpoints with orbax `CheckpointManager`: keep the last N, async save, safe restore.

A checkpoint holds the train state, the data-iterator state (JSON) and a CRC32 per array
(`jaxdl.train.checksums`). Restore walks back from the latest step: a step that fails to load
(truncated, bytes changed: checksum mismatch, unreadable metadata) is reported, moved aside to
`checkpoints/corrupt/<step>-<time>` (never deleted or overwritten), and the previous good one is
used. Orbax writes each save to a temporary directory and renames it when complete, so a run
killed mid-save leaves no half-written step behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import zlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxdl.optim.rules import path_str
from jaxdl.train import checksums

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """No usable checkpoint could be restored."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint's bytes differ from the checksums written with it."""


def _json_crc(data: dict) -> str:
    return f"{zlib.crc32(json.dumps(data, sort_keys=True).encode()):08x}"


class Checkpointer:
    def __init__(self, directory: str, *, keep: int = 3, async_save: bool = True):
        self.directory = os.path.abspath(directory)
        self.keep = keep
        self.async_save = async_save
        self._manager = self._make_manager()

    def _make_manager(self) -> ocp.CheckpointManager:
        options = ocp.CheckpointManagerOptions(
            max_to_keep=self.keep,
            create=True,
            enable_async_checkpointing=self.async_save,
            cleanup_tmp_directories=True,
        )
        handlers = {
            "state": ocp.StandardCheckpointHandler(),
            "data": ocp.JsonCheckpointHandler(),
            "checksums": ocp.JsonCheckpointHandler(),
        }
        return ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, data_state: dict | None = None) -> None:
        if step in self._manager.all_steps():
            raise CheckpointError(
                f"a checkpoint for step {step} already exists in {self.directory}; "
                "refusing to overwrite it"
            )
        args = {
            "state": ocp.args.StandardSave(state),
            "data": ocp.args.JsonSave(data_state or {}),
            "checksums": ocp.args.JsonSave(
                {"arrays": checksums.tree_checksums(state), "data": _json_crc(data_state or {})}
            ),
        }
        self._manager.save(step, args=ocp.args.Composite(**args))

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def _host_target(self, step: int) -> Any:
        """Abstract state from the checkpoint's metadata, placed on this process's first device
        (works whatever topology saved it)."""
        meta = self._manager.item_metadata(step)["state"]
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        return jax.tree.map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), dict(meta.tree)
        )

    def _restore_step(self, step: int, target: Any) -> tuple[Any, dict]:
        """Restores and verifies a step; raises CorruptCheckpointError on a checksum mismatch."""
        target = self._host_target(step) if target is None else target
        has_sums = os.path.isdir(os.path.join(self.directory, str(step), "checksums"))
        items = {"state": ocp.args.StandardRestore(target), "data": ocp.args.JsonRestore()}
        if has_sums:
            items["checksums"] = ocp.args.JsonRestore()
        restored = self._manager.restore(step, args=ocp.args.Composite(**items))
        state, data = restored["state"], dict(restored["data"] or {})
        if not has_sums:
            log.warning("checkpoint at step %d has no checksums (older jaxdl); not verified", step)
            return state, data
        sums = restored["checksums"]
        bad = checksums.mismatches(state, sums["arrays"])
        if sums.get("data") != _json_crc(data):
            bad.append("<data iterator state>")
        if bad:
            raise CorruptCheckpointError(
                f"checksum mismatch in {len(bad)} arrays of step {step}: {', '.join(bad[:8])}"
                + (" ..." if len(bad) > 8 else "")
            )
        return state, data

    def _quarantine(self, step: int) -> str:
        src = os.path.join(self.directory, str(step))
        dst = os.path.join(self.directory, "corrupt", f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
        if jax.process_index() == 0 and os.path.exists(src):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.move(src, dst)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"jaxdl_quarantine_{step}")
        return dst

    def _check_same_form(self, step: int, target: Any) -> None:
        """Raise CheckpointError naming the differences when the checkpoint's state was written by
        a different model or optimizer (a readable checkpoint, not a damaged one: it is left in
        place)."""
        try:
            saved = self._manager.item_metadata(step)["state"].tree
        except Exception:  # unreadable metadata: let the restore attempt decide (quarantine)
            return
        have, want = _leaf_shapes(saved), _leaf_shapes(target)
        order = lambda paths: sorted(paths, key=lambda p: (len(p), p))  # params before moments  # noqa: E731
        missing = order(set(want) - set(have))
        unexpected = order(set(have) - set(want))
        differ = [
            f"{k}: checkpoint {have[k]}, model {want[k]}"
            for k in order(set(have) & set(want))
            if have[k] != want[k]
        ]
        if missing or unexpected or differ:
            parts = [
                f"{name} ({len(items)}): {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}"
                for name, items in (
                    ("not in the checkpoint", missing),
                    ("not in the model", unexpected),
                    ("shape differs", differ),
                )
                if items
            ]
            raise CheckpointError(
                f"checkpoint at step {step} in {self.directory} was written by a different model "
                f"architecture or optimizer; {'; '.join(parts)}. Use a new --workdir, or the "
                "config that wrote it (config.json in the workdir). The checkpoint was left "
                "untouched."
            )

    def restore_latest(self, target: Any) -> tuple[int, Any, dict] | None:
        """Restores the newest loadable step as (step, state, data_state); None if no checkpoint.

        `target` is an abstract state (`jax.ShapeDtypeStruct`s with shardings) or None.
        """
        steps = self.all_steps()
        for step in reversed(steps):
            if target is not None:
                self._check_same_form(step, target)
            try:
                state, data = self._restore_step(step, target)
            except Exception as e:  # orbax/tensorstore raise many types for damaged files
                dst = self._quarantine(step)
                msg = (
                    f"checkpoint at step {step} in {self.directory} could not be restored "
                    f"({type(e).__name__}: {str(e)[:300]}); moved it to {dst} and trying the "
                    "previous one"
                )
                log.warning(msg)
                print(f"WARNING: {msg}", flush=True)
                self._manager.close()
                self._manager = self._make_manager()
                continue
            return step, state, data
        if steps:
            raise CheckpointError(
                f"none of the checkpoints {steps} in {self.directory} could be restored; "
                f"the damaged ones were moved to {os.path.join(self.directory, 'corrupt')}"
            )
        return None


def _leaf_shapes(tree: Any) -> dict[str, tuple[int, ...]]:
    """'params/a/kernel' -> shape for every array leaf of a state, its abstract form or its
    checkpoint metadata."""
    flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: hasattr(x, "shape"))[0]
    return {path_str(path): tuple(leaf.shape) for path, leaf in flat if hasattr(leaf, "shape")}


def load_params(
    workdir: str, step: int | None = None, *, ema: bool = False, key: str | None = None
) -> Any:
    """Saved params of a run (latest step by default) as a pytree of numpy arrays.

    ema=True returns the EMA params (`ema_params`) instead; `key` picks any part of the saved
    state by its '/'-path, e.g. "g/params" or "g_ema" of an adversarial run.
    """
    directory = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no checkpoints directory in workdir {workdir!r}")
    ckpt = Checkpointer(directory, async_save=False)
    try:
        steps = ckpt.all_steps()
        if not steps:
            raise FileNotFoundError(f"no checkpoints in {directory}")
        step = steps[-1] if step is None else step
        if step not in steps:
            raise FileNotFoundError(f"no checkpoint for step {step} in {directory}; have {steps}")
        state, _ = ckpt._restore_step(step, None)
    finally:
        ckpt.close()
    key = key or ("ema_params" if ema else "params")
    node = state
    for part in key.split("/"):
        if not isinstance(node, dict) or node.get(part) is None:
            have = sorted(node) if isinstance(node, dict) else []
            raise KeyError(f"checkpoint at step {step} has no {key!r} (at {part!r}: have {have})")
        node = node[part]
    return jax.tree.map(np.asarray, node)
