"""Layer-wise learning-rate decay (discriminative learning rates) by block depth. SPEC: OPT-8.

Group i of n (input first, e.g. `SmallResNet.groups()`) trains at `decay ** (n - 1 - i)` times
the base rate: the head at the full rate, each block below at `decay` times the one above
(Howard & Ruder 2018 §3.2 use 1 / 2.6 per layer; Clark et al. 2020 and Bao et al. 2022 call it
layer-wise LR decay). The rules are `jaxdl.optim.lr_multipliers` rules, which scale each
parameter's final update: for SGD and Adam alike that is its learning rate times the multiplier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def layer_decay_rules(groups: Sequence[str], decay: float) -> list[tuple[str, float]]:
    """`[(group_regex, decay ** depth_from_top)]` for `jaxdl.optim.lr_multipliers`."""
    groups = list(groups)
    if not groups or not all(isinstance(g, str) for g in groups):
        raise ValueError(f"groups must be a non-empty list of regexes, got {groups!r}")
    if not (isinstance(decay, int | float) and math.isfinite(decay) and 0 < decay <= 1):
        raise ValueError(f"decay must be in (0, 1], got {decay!r}")
    n = len(groups)
    return [(g, float(decay) ** (n - 1 - i)) for i, g in enumerate(groups)]
