"""Fine-tuning a pretrained network: freeze / unfreeze schedules, layer-wise LR decay, frozen
gradients. SPEC: BAS-10, OPT-8.

A pretrained backbone and a new head are split into block groups (regexes over parameter
paths, input to output); a schedule says when each group starts training (`gradual_unfreezing`,
`frozen_backbone`), `unfreeze_schedule` applies it to any optimizer, `layer_decay_rules` gives
each group its learning-rate multiplier for `jaxdl.optim.lr_multipliers`, and `phases` splits a
run where the frozen set changes. BatchNorm stays in inference mode in frozen blocks through the
model (`jaxdl.models.small_resnet.SmallResNet(frozen=...)`). `experiments/finetune_digits.py`
compares the recipes.
"""

from jaxdl.finetune.freezing import StartAtState, start_at, stop_frozen_gradients, unfreeze_schedule
from jaxdl.finetune.lr_decay import layer_decay_rules
from jaxdl.finetune.schedules import (
    Phase,
    Schedule,
    check_schedule,
    frozen_at,
    frozen_backbone,
    gradual_unfreezing,
    phases,
)

__all__ = [
    "Phase",
    "Schedule",
    "StartAtState",
    "check_schedule",
    "frozen_at",
    "frozen_backbone",
    "gradual_unfreezing",
    "layer_decay_rules",
    "phases",
    "start_at",
    "stop_frozen_gradients",
    "unfreeze_schedule",
]
