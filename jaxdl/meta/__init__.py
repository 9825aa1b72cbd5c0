"""Meta-learning: MAML and first-order MAML (Finn et al. 2017) with `jax.grad` through the inner
updates, vmapped over tasks, and Reptile (Nichol et al. 2018) for comparison. Each method's
meta-update is a train step for `jaxdl.train.fit` (the batch is a meta-batch of tasks).
SPEC: BAS-9.
"""

from jaxdl.meta.maml import adapt, adaptation_losses, maml, maml_loss, maml_step, split_tasks
from jaxdl.meta.reptile import reptile, reptile_step, reptile_task

__all__ = [
    "adapt",
    "adaptation_losses",
    "maml",
    "maml_loss",
    "maml_step",
    "reptile",
    "reptile_step",
    "reptile_task",
    "split_tasks",
]
