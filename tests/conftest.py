"""Test setup: 8 simulated CPU devices and the fast CPU conv lowering, set before jax starts."""

from jaxdl._xla_flags import set_xla_flags

set_xla_flags(host_devices=8)
