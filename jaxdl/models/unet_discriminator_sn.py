"""U-Net discriminator with spectral normalization (Wang et al. 2021). SPEC: RES-4, GAN-7.

Per-pixel realness logits: conv3 C→f, three SN conv4/s2 (no bias) f→2f→4f→8f, then three
[bilinear ×2 (torch `align_corners=False`), SN conv3] back to f with skip sums from the down
path, two SN conv3 f→f and a conv3 f→1; LeakyReLU 0.2 after every conv but the last. Layer names
conv0…conv9 follow BasicSR's `UNetDiscriminatorSN`, so `jaxdl.convert.realesrgan` maps its
checkpoints one to one.
"""

import flax.linen as nn
import jax

from jaxdl.models.sr_common import TORCH_DEFAULT_INIT
from jaxdl.nn.activations import leaky_relu
from jaxdl.nn.conv import Conv2d
from jaxdl.nn.resize import resize
from jaxdl.nn.spectral_norm import SpectralNorm


class UNetDiscriminatorSN(nn.Module):
    """Images (N, H, W, C), H and W multiples of 8 → logits (N, H, W, 1). SPEC: RES-4, GAN-7.

    The SN layers keep u, v and σ in `batch_stats`: `train=True` runs `sn_steps` power
    iterations and needs `mutable=["batch_stats"]`; `train=False` reuses the stored vectors (as
    PyTorch's `spectral_norm` in eval mode).
    """

    num_feat: int = 64
    skip_connection: bool = True
    sn_steps: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if x.ndim != 4 or x.shape[1] % 8 or x.shape[2] % 8:
            raise ValueError(
                "UNetDiscriminatorSN expects NHWC images (N, H, W, C) with H and W multiples "
                f"of 8, got {x.shape}"
            )
        f = self.num_feat

        def act(y):
            return leaky_relu(y, 0.2)

        def sn_conv(y, features, k, stride, name):
            conv = Conv2d(
                features, k, stride, 1, use_bias=False, kernel_init=TORCH_DEFAULT_INIT, parent=None
            )
            return SpectralNorm(conv, n_steps=self.sn_steps, name=name)(y, update_stats=train)

        def up(y):
            return resize(y, method="bilinear", scale_factor=2)

        x0 = act(Conv2d(f, 3, 1, 1, kernel_init=TORCH_DEFAULT_INIT, name="conv0")(x))
        x1 = act(sn_conv(x0, 2 * f, 4, 2, "conv1"))
        x2 = act(sn_conv(x1, 4 * f, 4, 2, "conv2"))
        x3 = act(sn_conv(x2, 8 * f, 4, 2, "conv3"))
        h = x3
        for name, features, skip in (("conv4", 4 * f, x2), ("conv5", 2 * f, x1), ("conv6", f, x0)):
            h = act(sn_conv(up(h), features, 3, 1, name))
            if self.skip_connection:
                h = h + skip
        h = act(sn_conv(h, f, 3, 1, "conv7"))
        h = act(sn_conv(h, f, 3, 1, "conv8"))
        return Conv2d(1, 3, 1, 1, kernel_init=TORCH_DEFAULT_INIT, name="conv9")(h)
