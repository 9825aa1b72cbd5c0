"""Benchmarks: `python -m benchmarks.NAME`, JSON lines on stdout (see `benchmarks.harness`).

Importing the package sets jaxdl's XLA flags (`jaxdl._xla_flags.set_xla_flags`) before jax starts
a backend; `python -m benchmarks.NAME` imports it first.
"""

from jaxdl._xla_flags import set_xla_flags

set_xla_flags()
