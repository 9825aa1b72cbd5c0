"""FID InceptionV3: the network of pytorch-fid (`fid_inception_v3`), in Flax linen, NHWC.

Szegedy et al. 2016 (Inception-v3) with the weights of TensorFlow's 2015-12-05 graph, the
network behind FID (Heusel et al. 2017) and Inception Score (Salimans et al. 2016). SPEC: DIF-6
(DDPM CIFAR-10: FID 3.17, IS 9.46). jaxdl ships no weights: load pytorch-fid's state dict with
`jaxdl.convert.load_inception` (docs/fid_inception.md). Blocks: `jaxdl.models.inception_blocks`.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.inception_blocks import MIXED, BasicConv2d
from jaxdl.nn.pooling import max_pool
from jaxdl.nn.resize import resize

INPUT_SIZE = 299
NUM_CLASSES = 1008  # the 2015 graph's classifier: 1000 ImageNet classes + 8 unused
POOL3_DIM = 2048


def preprocess(images: jax.Array) -> jax.Array:
    """(N, H, W, 3) uint8 in [0, 255] or float in [0, 1] -> float32 (N, 299, 299, 3) in [-1, 1].

    As pytorch-fid: bilinear resize to 299x299 equal to torch `F.interpolate(...,
    mode="bilinear", align_corners=False)` (no antialias; `jaxdl.nn.resize`), then 2x - 1.
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"preprocess expects NHWC RGB images (N, H, W, 3), got {images.shape}")
    if jnp.issubdtype(images.dtype, jnp.integer):
        x = images.astype(jnp.float32) / 255.0
    else:
        x = images.astype(jnp.float32)
    if x.shape[1:3] != (INPUT_SIZE, INPUT_SIZE):
        x = resize(x, INPUT_SIZE, "bilinear", align_corners=False)
    return 2.0 * x - 1.0


class FIDInceptionV3(nn.Module):
    """pytorch-fid's FID InceptionV3, inference only (BatchNorm uses its running statistics).

    Input: (N, 299, 299, 3) float in [-1, 1] (see `preprocess`). Returns (pool3, logits):
    pool3 (N, 2048), the global average of Mixed_7c that FID uses; logits (N, 1008) = fc(pool3).
    The original Inception Score code uses pool3 @ fc.weight without the bias (torch-fidelity's
    `logits_unbiased`); `jaxdl.metrics.generative.inception` does that. Other sizes >= 75x75
    run too.
    `precision` is the conv/dense matmul precision; "highest" keeps float32 on TPU/GPU (TF32
    would move the features by ~1e-3).
    """

    precision: str | None = "highest"

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"FIDInceptionV3 expects NHWC RGB images (N, H, W, 3), got {x.shape}")
        p = self.precision
        x = BasicConv2d(32, 3, strides=2, precision=p, name="Conv2d_1a_3x3")(x)
        x = BasicConv2d(32, 3, precision=p, name="Conv2d_2a_3x3")(x)
        x = BasicConv2d(64, 3, padding=1, precision=p, name="Conv2d_2b_3x3")(x)
        x = max_pool(x, 3, 2)
        x = BasicConv2d(80, 1, precision=p, name="Conv2d_3b_1x1")(x)
        x = BasicConv2d(192, 3, precision=p, name="Conv2d_4a_3x3")(x)
        x = max_pool(x, 3, 2)
        for name, block, kwargs in MIXED:
            x = block(precision=p, name=name, **kwargs)(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        logits = nn.Dense(NUM_CLASSES, precision=p, name="fc")(pool3)
        return pool3, logits
