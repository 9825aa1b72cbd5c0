"""Test setup, before jax starts: 8 simulated CPU devices, the fast CPU conv lowering, and the
non-partitionable threefry PRNG.

Random values stay sharding- and jit-invariant either way; on jaxlib 0.10.2 CPU the partitionable
threefry (jax's default, kept for users) compiles each random op several times slower, which made
up about a third of the CPU time of init-heavy tests (78 vs 53 CPU-s for the SUNet bad-input
test). The environment variable also reaches the subprocesses of the multi-process tests.
"""

import os

from jaxdl._xla_flags import set_xla_flags

set_xla_flags(host_devices=8)
os.environ.setdefault("JAX_THREEFRY_PARTITIONABLE", "0")
