"""Weight conversion from PyTorch checkpoints to jaxdl params (SPEC: DIF-6).

See docs/ddpm_weights.md for loading the official DDPM CIFAR-10 weights (google/ddpm-cifar10-32),
and docs/fid_inception.md for pytorch-fid's FID InceptionV3 weights (FID / Inception Score).
Hugging Face BERT/ALBERT/RoBERTa and torch.nn.Transformer: docs/sequence_models.md (SPEC: SEQ-3,
SEQ-4).
BasicSR / ESRGAN super-resolution checkpoints and VGG perceptual-loss weights:
docs/super_resolution.md (SPEC: RES-2, RES-3).
"""

from jaxdl.convert.basicsr import (
    load_msrresnet,
    load_rrdbnet,
    load_vgg_discriminator,
    msrresnet_params_from_basicsr,
    rrdbnet_params_from_basicsr,
    vgg_discriminator_variables_from_basicsr,
)
from jaxdl.convert.diffusers_unet import (
    load_diffusers_unet,
    unet_from_diffusers_config,
    unet_params_from_diffusers,
    unet_state_dict_from_params,
)
from jaxdl.convert.hf_bert import bert_params_from_hf, config_from_hf
from jaxdl.convert.inception_torch import (
    FID_WEIGHTS_URL,
    inception_params_from_torch,
    load_inception,
)
from jaxdl.convert.loading import find_weights_file, load_state_dict, to_numpy
from jaxdl.convert.torch_transformer import transformer_params_from_torch
from jaxdl.convert.vgg import load_vgg, vgg_params_from_torch

__all__ = [
    "load_msrresnet",
    "load_rrdbnet",
    "load_vgg",
    "load_vgg_discriminator",
    "msrresnet_params_from_basicsr",
    "rrdbnet_params_from_basicsr",
    "vgg_discriminator_variables_from_basicsr",
    "vgg_params_from_torch",
    "bert_params_from_hf",
    "config_from_hf",
    "FID_WEIGHTS_URL",
    "find_weights_file",
    "inception_params_from_torch",
    "load_diffusers_unet",
    "load_inception",
    "load_state_dict",
    "to_numpy",
    "transformer_params_from_torch",
    "unet_from_diffusers_config",
    "unet_params_from_diffusers",
    "unet_state_dict_from_params",
]
