"""Freeze / unfreeze schedules over block groups, as `(regex, start_step)` rules. SPEC: BAS-10.

A schedule maps each group of parameters (a regex over "/"-joined parameter paths, see
`jaxdl.optim.rules`) to the optimizer step at which it starts training; `None` keeps it frozen
for the whole run. Groups are given input to output (e.g. `SmallResNet.groups()`: stem, stages,
head). Gradual unfreezing (Howard & Ruder 2018, ULMFiT §3.3) trains the last group first and
unfreezes the next lower one every `every` steps; the recipe of the notes (Keras Xception with a
new classifier head) is the frozen-backbone schedule followed by fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

Schedule = Sequence[tuple[str, int | None]]


def _check_groups(groups: Sequence[str]) -> list[str]:
    groups = list(groups)
    if not groups or not all(isinstance(g, str) for g in groups):
        raise ValueError(f"groups must be a non-empty list of regexes, got {groups!r}")
    if len(set(groups)) != len(groups):
        raise ValueError(f"groups must be distinct, got {groups!r}")
    return groups


def check_schedule(schedule: Schedule) -> list[tuple[str, int | None]]:
    """The schedule as a list; raises ValueError naming a bad entry."""
    items = list(schedule)
    if not items:
        raise ValueError("a schedule needs at least one (regex, start_step) rule")
    for item in items:
        ok = isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str)
        start = item[1] if ok else None
        if not ok or not (start is None or (isinstance(start, int) and start >= 0)):
            raise ValueError(f"a schedule rule is (regex, start_step >= 0 or None), got {item!r}")
    return [(p, s) for p, s in items]


def gradual_unfreezing(groups: Sequence[str], every: int, start: int = 0) -> Schedule:
    """ULMFiT's gradual unfreezing: the last group trains from `start`, and every `every` steps
    one more group below it is unfrozen; group i of n (input first) starts at
    `start + (n - 1 - i) * every`."""
    groups = _check_groups(groups)
    if not (isinstance(every, int) and every >= 1) or not (isinstance(start, int) and start >= 0):
        raise ValueError(f"every must be >= 1 and start >= 0 (ints), got {every=}, {start=}")
    n = len(groups)
    return [(g, start + (n - 1 - i) * every) for i, g in enumerate(groups)]


def frozen_backbone(groups: Sequence[str], trainable: int = 1) -> Schedule:
    """The last `trainable` groups (the head) train from step 0; the others never do."""
    groups = _check_groups(groups)
    if not 1 <= trainable <= len(groups):
        raise ValueError(f"trainable must be in [1, {len(groups)}], got {trainable}")
    cut = len(groups) - trainable
    return [(g, None if i < cut else 0) for i, g in enumerate(groups)]


def frozen_at(schedule: Schedule, step: int) -> tuple[str, ...]:
    """The regexes of the groups that do not train at `step`."""
    return tuple(p for p, s in check_schedule(schedule) if s is None or s > step)


class Phase(NamedTuple):
    """Steps [start, end) during which the same groups (`frozen`, regexes) are frozen."""

    start: int
    end: int
    frozen: tuple[str, ...]


def phases(schedule: Schedule, total_steps: int) -> list[Phase]:
    """Splits [0, total_steps) where the frozen set changes: one compiled step per phase (the
    frozen blocks' BatchNorm mode and stopped gradients are static inside a step)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    starts = {s for _, s in check_schedule(schedule) if s is not None and 0 < s < total_steps}
    bounds = [0, *sorted(starts), total_steps]
    return [Phase(a, b, frozen_at(schedule, a)) for a, b in zip(bounds, bounds[1:], strict=False)]
