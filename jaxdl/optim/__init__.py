"""Hand-written optimizers, schedules, per-layer rules, clipping and EMA. SPEC: OPT-1..OPT-9.

Every optimizer is an `optax.GradientTransformation` (a NamedTuple state and a `scale_by_*` core
chained with the learning-rate scale), drop-in next to optax, with torch.optim defaults and update
equations. `learning_rate` is a float or an optax schedule.
"""

from jaxdl.optim.adagrad import AdagradState, adagrad, scale_by_adagrad
from jaxdl.optim.adam import AdamState, adam, adamw, scale_by_adam
from jaxdl.optim.clipping import (
    clip_by_global_norm,
    clip_by_rules,
    clip_weights,
    global_norm,
    weight_clipping,
)
from jaxdl.optim.ema import EwmaState, ema_decay, ema_update, ewma, interpolate, tree_lerp
from jaxdl.optim.layerwise import freeze, lr_multipliers, per_param
from jaxdl.optim.momentum import (
    MomentumState,
    VelocityState,
    momentum,
    scale_by_ema_momentum,
    scale_by_momentum,
    velocity_momentum,
)
from jaxdl.optim.rmsprop import RmspropState, rmsprop, scale_by_rmsprop
from jaxdl.optim.rules import match_rules, path_str, tree_paths
from jaxdl.optim.schedules import (
    constant,
    cosine,
    linear_warmup,
    multistep,
    poly,
    step_decay,
    warmup_cosine,
    warmup_poly,
)
from jaxdl.optim.sgd import ScaleByLearningRateState, scale_by_learning_rate, sgd
from jaxdl.optim.weight_decay import (
    DEFAULT_DECAY_MASK,
    add_decayed_weights,
    add_l2,
    decoupled_weight_decay,
)

__all__ = [
    "DEFAULT_DECAY_MASK",
    "AdagradState",
    "AdamState",
    "EwmaState",
    "MomentumState",
    "RmspropState",
    "ScaleByLearningRateState",
    "VelocityState",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "add_l2",
    "clip_by_global_norm",
    "clip_by_rules",
    "clip_weights",
    "constant",
    "cosine",
    "decoupled_weight_decay",
    "ema_decay",
    "ema_update",
    "ewma",
    "freeze",
    "global_norm",
    "interpolate",
    "linear_warmup",
    "lr_multipliers",
    "match_rules",
    "momentum",
    "multistep",
    "path_str",
    "per_param",
    "poly",
    "rmsprop",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_ema_momentum",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_rmsprop",
    "sgd",
    "step_decay",
    "tree_lerp",
    "tree_paths",
    "velocity_momentum",
    "warmup_cosine",
    "warmup_poly",
    "weight_clipping",
]
