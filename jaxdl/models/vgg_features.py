"""VGG16/VGG19 convolutional features for perceptual losses (Simonyan & Zisserman 2015,
arXiv:1409.1556). SPEC: RES-2, RES-3, RES-4.

`VGGFeatures(layers=...)` returns {name: NHWC feature map} for the named layers, running the
network only as deep as the deepest one. Names are `conv{b}_{i}` (the conv's output, before the
ReLU), `relu{b}_{i}` (after it) and `pool{b}`, b = block 1..5. ESRGAN's perceptual loss uses
`conv5_4` (before ReLU), SRGAN's φ5,4 is `relu5_4` (SPEC RES-3, RES-2). Inputs are RGB in
[0, 1]; `input_norm=True` (default) subtracts the ImageNet mean and divides by its std, as
torchvision's weights expect.

`depth=16` with `ceil_mode=True` and layer `conv5_3` is ESRGAN's MINCNet (VGG16 trained on the
MINC material dataset): 2x2 stride-2 max pools in ceil mode, so odd sizes keep the partial
window (SPEC RES-3). Conv parameters are named after the layers (`conv1_1/kernel`);
`jaxdl.convert.vgg` maps torchvision's `features.N.*` keys onto them.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.nn.conv import Conv2d
from jaxdl.nn.pooling import max_pool

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_BLOCKS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}  # convs per block
VGG_WIDTHS = (64, 128, 256, 512, 512)


def vgg_layer_names(depth: int = 19) -> tuple[str, ...]:
    """All layer names in torchvision's `features` order, e.g. conv1_1, relu1_1, ..., pool5.

    The index of a name is its index in torchvision's `vgg{depth}().features`.
    """
    if depth not in VGG_BLOCKS:
        raise ValueError(f"VGG depth must be one of {sorted(VGG_BLOCKS)}, got {depth!r}")
    names = []
    for b, n in enumerate(VGG_BLOCKS[depth], 1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return tuple(names)


class VGGFeatures(nn.Module):
    """NHWC RGB images in [0, 1] → {layer name: (N, h, w, c)} for `layers` (SPEC RES-3)."""

    layers: Sequence[str] = ("conv5_4",)
    depth: int = 19
    input_norm: bool = True
    ceil_mode: bool = False

    def __post_init__(self):
        names = vgg_layer_names(self.depth)
        unknown = [name for name in self.layers if name not in names]
        if unknown or not self.layers:
            raise ValueError(
                f"unknown VGG{self.depth} layer(s) {unknown or list(self.layers)}; valid names: "
                + ", ".join(names)
            )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"VGGFeatures expects NHWC RGB images (N, H, W, 3), got {x.shape}")
        names = vgg_layer_names(self.depth)
        last = max(names.index(name) for name in self.layers)
        if self.input_norm:
            x = (x - jnp.asarray(IMAGENET_MEAN, x.dtype)) / jnp.asarray(IMAGENET_STD, x.dtype)
        out = {}
        for name in names[: last + 1]:
            if name.startswith("conv"):
                width = VGG_WIDTHS[int(name[4]) - 1]
                x = Conv2d(width, 3, 1, 1, name=name)(x)
            elif name.startswith("relu"):
                x = nn.relu(x)
            else:
                x = max_pool(x, 2, 2, ceil_mode=self.ceil_mode)
            if name in self.layers:
                out[name] = x
        return out
