"""Shared command line of every experiment: `--workdir`, `--preset`, `--config.a.b=value`.

    python -m experiments.NAME [--preset quick] [--workdir DIR] [--config.train.total_steps=100]

Unknown config keys are rejected with the list of valid ones; values are parsed as Python
literals and must keep the type of the preset's value. Multi-host runs add
`--multihost` (auto-detected cluster: TPU pods, SLURM, ...) or the explicit
`--coordinator_address HOST:PORT --num_processes N --process_id I`.

`run(main)` is every entry point's `__main__`: a user's mistake (`UsageError`: a bad config key,
value or preset, a missing input file or workdir; or a TFDS dataset that is not prepared) ends
with its message on stderr and exit code 2; any other exception keeps its traceback.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import ml_collections


class UsageError(Exception):
    """A mistake on the command line, reported by `run` without a traceback (exit code 2)."""


class ConfigError(UsageError, ValueError):
    """A bad `--config.*` override, config value or preset name."""


class MissingInputError(UsageError, FileNotFoundError):
    """An input the command line names or needs (weights, statistics, a trained workdir) is
    missing."""


def write_results(workdir: str, results: Any, echo: bool = True) -> str:
    """Write `results` to `workdir/results.json` (atomically: a reader never sees half a file) and,
    with `echo`, print it; returns the path."""
    path = os.path.join(workdir, "results.json")
    os.makedirs(workdir, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(results, f, indent=2)
    os.replace(path + ".tmp", path)
    if echo:
        print(json.dumps(results, indent=2))
    return path


def image_file_pairs(input_path: str, output_path: str, mode: str) -> list[tuple[Path, Path]]:
    """`--input` (an image file or a folder of images) and `--output` (a file, or a folder that
    receives `<stem>.png` per input) as (input, output) path pairs; usage errors otherwise."""
    if not input_path or not output_path:
        raise ConfigError(f"--mode {mode} needs --input PATH and --output PATH")
    src = Path(input_path)
    if src.is_dir():
        from jaxdl.data.image_folder import list_images

        try:
            inputs = list_images(input_path)
        except FileNotFoundError as e:
            raise MissingInputError(str(e)) from None
        return [(p, Path(output_path) / (p.stem + ".png")) for p in inputs]
    if src.is_file():
        return [(src, Path(output_path))]
    raise MissingInputError(f"--input {input_path!r}: no such file or folder")


def map_image_files(pairs: Sequence[tuple[Path, Path]], fn: Callable[[Any, int], Any]) -> list[str]:
    """Read each input as RGB in [0, 1] (grey/RGBA converted, with a note), write
    `fn(image, index)` clipped to 8 bits as PNG and print one line per file; returns the
    written paths."""
    import numpy as np
    from PIL import Image

    from jaxdl.images import read_rgb

    written = []
    for i, (path, target) in enumerate(pairs):
        try:
            rgb, note = read_rgb(str(path))
        except ValueError as e:
            raise MissingInputError(str(e)) from None
        if note:
            print(f"note: {note}")
        out = np.asarray(fn(rgb.astype(np.float32) / 255.0, i))
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.clip(out, 0, 1) * 255).round().astype(np.uint8)).save(target)
        written.append(str(target))
        h, w = rgb.shape[:2]
        print(f"{path} -> {target} ({w}x{h} -> {out.shape[1]}x{out.shape[0]})")
    return written


def require_checkpoints(workdir: str, hint: str = "") -> str:
    """`workdir` if it holds a `checkpoints/` directory (a trained run); otherwise a
    `MissingInputError` naming it, followed by `hint`."""
    if not os.path.isdir(os.path.join(workdir, "checkpoints")):
        raise MissingInputError(
            f"no trained run in workdir {workdir!r} (no checkpoints/ in it)"
            + (f"; {hint}" if hint else "")
        )
    return workdir


def data_source(dataset: str, split: str, data_dir: str = ""):
    """The source `config.data.dataset` names (`jaxdl.data.get_source`): embedded sets as they
    are, TFDS ones read from `data_dir` ("" = TFDS default). A name `get_source` rejects is a
    `ConfigError`; a TFDS dataset that is not prepared raises `DatasetNotFoundError`."""
    from jaxdl import data

    try:
        if dataset in data.catalog.EMBEDDED:
            return data.get_source(dataset, split)
        return data.get_source(dataset, split, data_dir=data_dir or None)
    except ValueError as e:
        raise ConfigError(f"--config.data.dataset={dataset!r}: {e}") from e


def is_usage_error(error: BaseException) -> bool:
    """`UsageError`s and a TFDS dataset that is not prepared (`jaxdl.data.DatasetNotFoundError`,
    whose message names the fixes)."""
    if isinstance(error, UsageError):
        return True
    from jaxdl.data.tfds_source import DatasetNotFoundError

    return isinstance(error, DatasetNotFoundError)


def run(main: Callable[[list[str]], Any], argv: Sequence[str] | None = None) -> NoReturn:
    """Calls `main(argv)` (default: `sys.argv[1:]`) and exits: 0 when it returns, 2 with
    "PROG: error: MESSAGE" on stderr for a usage error (`is_usage_error`). Other exceptions
    propagate with their traceback."""
    module = main.__module__
    if module == "__main__":  # `python -m experiments.NAME`: the module's name is in its spec
        module = getattr(getattr(sys.modules["__main__"], "__spec__", None), "name", None)
    prog = f"python -m {module}" if module else os.path.basename(sys.argv[0])
    try:
        main(list(sys.argv[1:] if argv is None else argv))
    except Exception as e:
        if not is_usage_error(e):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    sys.exit(0)


def _valid_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in config.items():
        name = f"{prefix}{k}"
        if isinstance(v, ml_collections.ConfigDict):
            keys.extend(_valid_keys(v, name + "."))
        else:
            keys.append(name)
    return sorted(keys)


def _parse_value(text: str, old: Any, key: str) -> Any:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if old is None or value is None:
        return value
    if isinstance(old, bool):
        if isinstance(value, bool):
            return value
        if str(text).lower() in ("true", "false"):
            return str(text).lower() == "true"
    elif isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    elif isinstance(old, (list, tuple)) and isinstance(value, (list, tuple)):
        return type(old)(value)
    elif isinstance(value, type(old)) and not (isinstance(value, bool) and type(old) is int):
        return value
    raise ConfigError(
        f"--config.{key}={text}: expected a value of type {type(old).__name__} like {old!r}"
    )


def apply_overrides(config: ml_collections.ConfigDict, overrides: Sequence[str]) -> None:
    """Applies `--config.a.b=value` (or `--config.a.b value`) overrides in place."""
    valid = _valid_keys(config)
    items = list(overrides)
    i = 0
    while i < len(items):
        arg = items[i]
        if not arg.startswith("--config."):
            raise ConfigError(
                f"unrecognized argument {arg!r}; config overrides look like --config.key=value"
            )
        body = arg[len("--config.") :]
        if "=" in body:
            key, text = body.split("=", 1)
        else:
            if i + 1 >= len(items):
                raise ConfigError(f"{arg} needs a value")
            key, text = body, items[i + 1]
            i += 1
        if key not in valid:
            raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")
        *parents, leaf = key.split(".")
        node = config
        for p in parents:
            node = node[p]
        with node.unlocked():
            node[leaf] = _parse_value(text, node[leaf], key)
        i += 1


def parse(
    argv: Sequence[str] | None,
    get_config: Callable[[str | None], ml_collections.ConfigDict],
    *,
    name: str,
    presets: Sequence[str],
    modes: Sequence[str] = ("train",),
    aliases: dict[str, str] | None = None,
) -> tuple[ml_collections.ConfigDict, argparse.Namespace]:
    """Parses the shared flags; returns the config (preset + overrides) and the other flags.

    aliases: short flags for config keys, e.g. {"steps": "eval.sample_steps"} makes `--steps 50`
    the same as `--config.eval.sample_steps=50` (typed like the key; applied after overrides).
    """
    parser = argparse.ArgumentParser(prog=f"python -m experiments.{name}")
    parser.add_argument(
        "--preset",
        default=None,
        choices=list(presets),
        help="named preset (default: the paper/full setting)",
    )
    parser.add_argument(
        "--workdir", default=None, help=f"run directory (default: workdirs/{name}-<preset>)"
    )
    if len(modes) > 1:
        parser.add_argument("--mode", default=modes[0], choices=list(modes))
    parser.add_argument(
        "--multihost",
        action="store_true",
        help="call jax.distributed.initialize() with cluster auto-detection",
    )
    parser.add_argument("--coordinator_address", default=None)
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--process_id", type=int, default=None)
    for flag, key in (aliases or {}).items():
        parser.add_argument(f"--{flag}", default=None, help=f"same as --config.{key}=VALUE")
    args, rest = parser.parse_known_args(argv)
    config = get_config(args.preset)
    apply_overrides(config, rest)
    alias_overrides = [
        f"--config.{key}={getattr(args, flag)}"
        for flag, key in (aliases or {}).items()
        if getattr(args, flag) is not None
    ]
    apply_overrides(config, alias_overrides)
    if args.workdir is None:
        args.workdir = os.path.join("workdirs", f"{name}-{args.preset or 'full'}")
    if not hasattr(args, "mode"):
        args.mode = modes[0]
    return config, args


def init_distributed(args: argparse.Namespace) -> None:
    """Starts `jax.distributed` when the flags ask for a multi-host run (before any jax use)."""
    if not (args.multihost or args.coordinator_address):
        return
    import jax

    if args.coordinator_address:
        if args.num_processes is None or args.process_id is None:
            raise ConfigError("--coordinator_address needs --num_processes and --process_id")
        jax.distributed.initialize(
            coordinator_address=args.coordinator_address,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    else:
        jax.distributed.initialize()
