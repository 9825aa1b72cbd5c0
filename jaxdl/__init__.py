"""jaxdl: clean, fast, faithful JAX/Flax implementations of deep-learning systems."""

__version__ = "0.1.0"
