"""Training engine: train state, pure step factory, parallel backends, checkpoints, `fit`."""

from jaxdl.train.checkpoint import Checkpointer, CheckpointError, load_params
from jaxdl.train.config import TrainConfig
from jaxdl.train.loop import NonFiniteLossError, Preempted, Task, fit
from jaxdl.train.parallel import JitBackend, PmapBackend, make_backend
from jaxdl.train.sharding import make_mesh, put_batch, tree_shardings
from jaxdl.train.state import TrainState
from jaxdl.train.step import make_train_step

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "JitBackend",
    "NonFiniteLossError",
    "PmapBackend",
    "Preempted",
    "Task",
    "TrainConfig",
    "TrainState",
    "fit",
    "load_params",
    "make_backend",
    "make_mesh",
    "make_train_step",
    "put_batch",
    "tree_shardings",
]
