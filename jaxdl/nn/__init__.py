"""jaxdl.nn: Flax linen layers and functional ops, NHWC (see docs/nn_conv_resample.md)."""

# Conv arithmetic, convolution, pooling, RoI ops, resampling, SUNet sampling (SPEC BAS-3, BAS-4,
# SEG-4, RES-1). Normalization, attention, Swin window attention, dropout, activations,
# embeddings, spectral norm (SPEC BAS-1, BAS-5, BAS-6, GAN-7, SEQ-3, RES-1;
# docs/nn_norm_attention_models.md).
from jaxdl.nn.activations import (
    DCGAN_LEAKY_SLOPE,
    PReLU,
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    maxout,
    relu,
    sigmoid,
    sigmoid_grad,
    silu,
    softmax,
    tanh,
    tanh_grad,
)
from jaxdl.nn.arithmetic import (
    TransposedConvEquivalent,
    conv_mult_count,
    conv_output_size,
    conv_param_count,
    conv_transpose_output_size,
    effective_kernel_size,
    padding_for,
    param_count,
    pool_output_size,
    receptive_field,
    transposed_conv_equivalent,
)
from jaxdl.nn.attention import (
    MultiHeadAttention,
    attention_weights,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)
from jaxdl.nn.conv import (
    Conv1x1,
    Conv2d,
    ConvTranspose,
    DepthwiseSeparableConv,
    conv2d,
    conv_transpose2d,
    from_torch_conv_transpose_weight,
    from_torch_conv_weight,
)
from jaxdl.nn.dropout import Dropout, dropout
from jaxdl.nn.embeddings import sinusoidal_position_embedding, timestep_embedding
from jaxdl.nn.norm import BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from jaxdl.nn.pixel_shuffle import PixelShuffle, PixelUnshuffle, pixel_shuffle, pixel_unshuffle
from jaxdl.nn.pooling import (
    AvgPool,
    MaxPool,
    avg_pool,
    global_avg_pool,
    global_max_pool,
    max_pool,
)
from jaxdl.nn.resize import interpolation_taps, resize, resize_output_size
from jaxdl.nn.roi import roi_align, roi_pool
from jaxdl.nn.spectral_norm import SpectralNorm, kernel_matrix, power_iteration
from jaxdl.nn.sunet_sampling import DualUpSample, PatchMerging
from jaxdl.nn.window_attention import (
    ShiftedWindowAttention,
    WindowAttention,
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

__all__ = [
    "avg_pool",
    "AvgPool",
    "Conv1x1",
    "Conv2d",
    "conv2d",
    "conv_mult_count",
    "conv_output_size",
    "conv_param_count",
    "conv_transpose2d",
    "conv_transpose_output_size",
    "ConvTranspose",
    "DepthwiseSeparableConv",
    "DualUpSample",
    "effective_kernel_size",
    "from_torch_conv_transpose_weight",
    "from_torch_conv_weight",
    "global_avg_pool",
    "global_max_pool",
    "interpolation_taps",
    "max_pool",
    "MaxPool",
    "padding_for",
    "param_count",
    "PatchMerging",
    "pixel_shuffle",
    "pixel_unshuffle",
    "PixelShuffle",
    "PixelUnshuffle",
    "pool_output_size",
    "receptive_field",
    "resize",
    "resize_output_size",
    "roi_align",
    "roi_pool",
    "transposed_conv_equivalent",
    "TransposedConvEquivalent",
]

__all__ += [
    "attention_weights",
    "BatchNorm",
    "causal_mask",
    "DCGAN_LEAKY_SLOPE",
    "Dropout",
    "dropout",
    "elu",
    "gelu",
    "GroupNorm",
    "InstanceNorm",
    "kernel_matrix",
    "LayerNorm",
    "leaky_relu",
    "log_softmax",
    "maxout",
    "MultiHeadAttention",
    "padding_mask",
    "power_iteration",
    "PReLU",
    "relative_position_index",
    "relu",
    "scaled_dot_product_attention",
    "ShiftedWindowAttention",
    "shifted_window_mask",
    "sigmoid",
    "sigmoid_grad",
    "silu",
    "sinusoidal_position_embedding",
    "softmax",
    "SpectralNorm",
    "tanh",
    "tanh_grad",
    "timestep_embedding",
    "window_partition",
    "window_reverse",
    "WindowAttention",
]
