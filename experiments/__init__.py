"""Experiments: `python -m experiments.NAME [--preset P] [--workdir DIR] [--config.a.b=V]`.

Importing the package sets jaxdl's XLA flags (`jaxdl._xla_flags.set_xla_flags`) before jax starts
a backend; `python -m experiments.NAME` and `from experiments import NAME` both import it first.
"""

from jaxdl._xla_flags import set_xla_flags

set_xla_flags()
