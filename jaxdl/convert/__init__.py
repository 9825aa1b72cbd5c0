"""Weight conversion from PyTorch checkpoints to jaxdl params (SPEC: DIF-6).

See docs/ddpm_weights.md for loading the official DDPM CIFAR-10 weights (google/ddpm-cifar10-32).
"""

from jaxdl.convert.diffusers_unet import (
    load_diffusers_unet,
    unet_from_diffusers_config,
    unet_params_from_diffusers,
    unet_state_dict_from_params,
)
from jaxdl.convert.loading import find_weights_file, load_state_dict, to_numpy

__all__ = [
    "find_weights_file",
    "load_diffusers_unet",
    "load_state_dict",
    "to_numpy",
    "unet_from_diffusers_config",
    "unet_params_from_diffusers",
    "unet_state_dict_from_params",
]
