"""XLA flags that must be set before jax initializes a backend (before the first computation or
device query; importing jax is fine). `experiments/` and `benchmarks/` set them on import."""

import os
from importlib import metadata

# On jaxlib 0.10.x the default CPU lowering of convolutions/dots through YNN fusions is slow;
# turning the individual fusions off made a conv net's train step 1.6-1.8x faster in our runs.
_YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution,-individual_dot"


def _jaxlib_version() -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in metadata.version("jaxlib").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return ()


def set_xla_flags(*, host_devices: int | None = None, fast_cpu_conv: bool = True) -> None:
    """Append jaxdl's XLA flags to ``XLA_FLAGS``. No effect once jax has initialized a backend.

    host_devices: simulate this many CPU devices (tests of sharded code).
    fast_cpu_conv: the faster CPU convolution lowering, applied only on jaxlib 0.10.x where the
      flag exists (an unknown XLA flag aborts the process).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if host_devices and "xla_force_host_platform_device_count" not in flags:
        flags += f" --xla_force_host_platform_device_count={host_devices}"
    if fast_cpu_conv and _jaxlib_version() == (0, 10) and "ynn_fusion_type" not in flags:
        flags += " " + _YNN_FLAG
    os.environ["XLA_FLAGS"] = flags.strip()
