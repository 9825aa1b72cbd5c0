"""SIGTERM handling that keeps every host on the same step.

One process: a Python SIGTERM handler sets a flag the loop checks after each step. Several
processes (`jax.distributed`): JAX's preemption service catches SIGTERM on whichever host gets
it, tells the others through the coordination service, and
`multihost_utils.reached_preemption_sync_point(step)` becomes true on every host at the same,
agreed step; all hosts save that step and exit.
"""

from __future__ import annotations

import signal
import threading

import jax


class Preempted(SystemExit):
    """Raised after SIGTERM once a checkpoint is written; exits the process with code 143."""

    def __init__(self, step: int):
        super().__init__(143)
        self.step = step


def _sync_manager_running() -> bool:
    from jax._src import distributed

    return distributed.global_state.preemption_sync_manager is not None


class PreemptionWatch:
    """Context manager; `reached(step)` is true at the step every host should save and exit."""

    def __init__(self):
        self._requested = False
        self._previous = None
        self._multihost = jax.process_count() > 1

    def __enter__(self):
        if self._multihost:
            if not _sync_manager_running():
                raise RuntimeError(
                    "multi-host preemption needs JAX's preemption service "
                    "(jax_enable_preemption_service, on by default in jax.distributed)"
                )
        elif threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self._requested = True

    def reached(self, step: int) -> bool:
        """Call once per completed step, on every host."""
        if self._multihost:
            from jax.experimental import multihost_utils

            return bool(multihost_utils.reached_preemption_sync_point(step))
        return self._requested

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
