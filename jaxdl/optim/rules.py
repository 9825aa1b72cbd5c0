"""Regex rules on parameter paths: the one place that turns pytree key paths into strings.

A parameter's path is its pytree key path joined with "/" (dict keys, attribute names and
sequence indices), e.g. `Dense_0/kernel` or `params/Conv_1/bias`. A rule is a `(regex, value)`
pair matched with `re.search` (so `kernel` matches anywhere; anchor with `^...$` for exact
matches). The first matching rule wins. Used for per-layer learning rates, freezing and
weight-decay masks here, and reusable for sharding rules. Anchor: big_vision `optax.py:make`.
SPEC: OPT-7, OPT-8.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import jax

Rules = Sequence[tuple[str, Any]] | Mapping[str, Any]

_NO_DEFAULT = object()
_SHOWN_PATHS = 8


def path_str(keypath: tuple) -> str:
    """'/'-joined readable path of a pytree key path (dict keys, attribute names, indices)."""
    parts = []
    for k in keypath:
        if isinstance(k, jax.tree_util.DictKey):
            parts.append(str(k.key))
        elif isinstance(k, jax.tree_util.GetAttrKey):
            parts.append(k.name)
        elif isinstance(k, jax.tree_util.SequenceKey):
            parts.append(str(k.idx))
        elif isinstance(k, jax.tree_util.FlattenedIndexKey):
            parts.append(str(k.key))
        else:
            parts.append(str(k))
    return "/".join(parts)


def tree_paths(tree: Any) -> Any:
    """A tree of the same structure whose leaves are their '/'-joined path strings."""
    return jax.tree_util.tree_map_with_path(lambda kp, _: path_str(kp), tree)


def _normalize(rules: Rules) -> list[tuple[str, Any]]:
    items = list(rules.items()) if isinstance(rules, Mapping) else list(rules)
    out = []
    for item in items:
        if not (isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"a rule must be a (regex, value) pair, got {item!r}")
        try:
            re.compile(item[0])
        except re.error as e:
            raise ValueError(f"invalid regex {item[0]!r} in rules: {e}") from e
        out.append((item[0], item[1]))
    return out


def _sample(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:_SHOWN_PATHS])
    more = f", ... ({len(paths)} in all)" if len(paths) > _SHOWN_PATHS else ""
    return shown + more


def match_rules(tree: Any, rules: Rules, *, default: Any = _NO_DEFAULT, strict: bool = True) -> Any:
    """Maps each leaf of `tree` to the value of the first rule whose regex `re.search`es its path.

    Args:
      tree: any pytree (parameters, gradients, abstract shapes).
      rules: `(regex, value)` pairs (or an ordered mapping), first match wins.
      default: value for leaves no rule matches; without it such a leaf raises ValueError.
      strict: raise ValueError if a rule matches no path at all (a typo guard).
    Returns:
      A tree of the matched values with the structure of `tree`.
    """
    rules = _normalize(rules)
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    paths = [path_str(kp) for kp, _ in flat]
    if strict:
        for pattern, _ in rules:
            if not any(re.search(pattern, p) for p in paths):
                raise ValueError(
                    f"rule {pattern!r} matches no parameter; available paths: {_sample(paths)}"
                )
    values = []
    for p in paths:
        for pattern, value in rules:
            if re.search(pattern, p):
                values.append(value)
                break
        else:
            if default is _NO_DEFAULT:
                raise ValueError(
                    f"parameter {p!r} matches no rule and no default was given; rules: "
                    f"{[r for r, _ in rules]}"
                )
            values.append(default)
    return jax.tree_util.tree_unflatten(treedef, values)
