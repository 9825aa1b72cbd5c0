"""Training engine: `fit` runs any `Task` (its own state and pure step) with backends,
checkpoints, writers and evaluators; `supervised` and `adversarial` build the common steps from
the small pieces in `jaxdl.train.pieces`."""

from jaxdl.train.adversarial import AdversarialState, Player, adversarial
from jaxdl.train.checkpoint import Checkpointer, CheckpointError, load_params
from jaxdl.train.config import TrainConfig, engine_config, step_options
from jaxdl.train.loop import NonFiniteLossError, fit
from jaxdl.train.parallel import JitBackend, PmapBackend, make_backend
from jaxdl.train.preemption import Preempted
from jaxdl.train.sharding import make_mesh, put_batch, tree_shardings
from jaxdl.train.state import TrainState
from jaxdl.train.supervised import supervised
from jaxdl.train.task import Task, check_step

__all__ = [
    "AdversarialState",
    "CheckpointError",
    "Checkpointer",
    "JitBackend",
    "NonFiniteLossError",
    "Player",
    "PmapBackend",
    "Preempted",
    "Task",
    "TrainConfig",
    "TrainState",
    "adversarial",
    "check_step",
    "engine_config",
    "fit",
    "load_params",
    "make_backend",
    "make_mesh",
    "put_batch",
    "step_options",
    "supervised",
    "tree_shardings",
]
