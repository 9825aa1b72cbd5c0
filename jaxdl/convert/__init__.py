"""Weight conversion from PyTorch checkpoints to jaxdl params (SPEC: DIF-6).

See docs/ddpm_weights.md for loading the official DDPM CIFAR-10 weights (google/ddpm-cifar10-32),
and docs/fid_inception.md for pytorch-fid's FID InceptionV3 weights (FID / Inception Score).
"""

from jaxdl.convert.diffusers_unet import (
    load_diffusers_unet,
    unet_from_diffusers_config,
    unet_params_from_diffusers,
    unet_state_dict_from_params,
)
from jaxdl.convert.inception_torch import (
    FID_WEIGHTS_URL,
    inception_params_from_torch,
    load_inception,
)
from jaxdl.convert.loading import find_weights_file, load_state_dict, to_numpy

__all__ = [
    "FID_WEIGHTS_URL",
    "find_weights_file",
    "inception_params_from_torch",
    "load_diffusers_unet",
    "load_inception",
    "load_state_dict",
    "to_numpy",
    "unet_from_diffusers_config",
    "unet_params_from_diffusers",
    "unet_state_dict_from_params",
]
