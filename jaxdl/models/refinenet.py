"""RefineNet (Lin et al. 2017, arXiv:1611.06612): multi-path refinement networks. SPEC: SEG-2.

A ResNet encoder in 4 blocks feeds RefineNet units from the deepest up: RefineNet-4 takes
ResNet-4; RefineNet-k (k = 3, 2, 1) takes ResNet-k and RefineNet-(k+1)'s output. A unit runs,
per input path, 2 residual conv units (`RCU`), fuses the paths (a 3x3 conv per path, bilinear
upsampling to the largest, sum), applies ReLU and chained residual pooling (`CRP`), and ends
in one more RCU. The light-weight variant (Nekrasov et al. 2018, arXiv:1810.03272) drops the
RCUs and uses 1x1 convs in fusion and CRP.

`RCU` and `CRP` follow the seed code of the SPEC row with its bugs fixed: the RCU returns its
result, the convs are named (``conv{block}_{stage}``, ``conv{stage}``), and input channels must
equal ``features`` (the unit projects each path with a 1x1 conv first). Images NHWC.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxdl.models.classic import BasicBlock, Bottleneck, _check_nhwc, _conv
from jaxdl.nn.norm import BatchNorm
from jaxdl.nn.pooling import max_pool
from jaxdl.nn.resize import resize


def _check_features(x: jax.Array, features: int, name: str) -> None:
    if x.shape[-1] != features:
        raise ValueError(
            f"{name} expects {features} input channels (its residual sums need in == out), got "
            f"shape {x.shape}; project the input to {features} channels first"
        )


class RCU(nn.Module):
    """Residual conv units: ``n_blocks`` x [keep x; ``n_stages`` x (ReLU, 3x3 conv, bias only in
    stage 1); add x]. SPEC: SEG-2 (n_blocks = n_stages = 2 per path). (N,H,W,C) -> same."""

    features: int
    n_blocks: int = 2
    n_stages: int = 2

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_features(x, self.features, "RCU")
        for i in range(1, self.n_blocks + 1):
            residual = x
            for j in range(1, self.n_stages + 1):
                x = _conv(self.features, 3, use_bias=j == 1, name=f"conv{i}_{j}")(nn.relu(x))
            x = x + residual
        return x


class CRP(nn.Module):
    """Chained residual pooling: ``top = x``; per stage ``top = conv(maxpool5x5/s1/p2(top))``,
    ``x = x + top``; returns ``x``. The pool pads with -inf (torch); convs have no bias and are
    ``kernel_size`` (3, or 1 in the light-weight variant). SPEC: SEG-2. (N,H,W,C) -> same."""

    features: int
    n_stages: int = 3
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_features(x, self.features, "CRP")
        top = x
        for i in range(1, self.n_stages + 1):
            top = max_pool(top, 5, 1, 2)
            top = _conv(self.features, self.kernel_size, name=f"conv{i}")(top)
            x = x + top
        return x


class RefineNetUnit(nn.Module):
    """One RefineNet unit over 1+ paths (any resolutions; output at the largest).

    Per path: 1x1 projection to ``features`` (when needed) and `RCU` (2 blocks; none if
    ``light``); multi-resolution fusion for 2+ paths; ReLU; `CRP`; output `RCU` (1 block; none
    if ``light``). ``light`` uses 1x1 convs in fusion and CRP.
    """

    features: int
    light: bool = False
    crp_stages: int = 3

    @nn.compact
    def __call__(self, paths: Sequence[jax.Array]) -> jax.Array:
        k = 1 if self.light else 3
        outs = []
        for p, x in enumerate(paths):
            if x.shape[-1] != self.features:
                x = _conv(self.features, 1, name=f"proj{p}")(x)
            outs.append(x if self.light else RCU(self.features, name=f"rcu{p}")(x))
        if len(outs) > 1:
            size = max((o.shape[1:3] for o in outs), key=lambda hw: hw[0] * hw[1])
            fused = 0.0
            for p, o in enumerate(outs):
                o = _conv(self.features, k, name=f"fuse{p}")(o)
                fused = fused + (o if o.shape[1:3] == size else resize(o, size, "bilinear"))
            x = fused
        else:
            x = outs[0]
        x = CRP(self.features, self.crp_stages, k, name="crp")(nn.relu(x))
        return x if self.light else RCU(self.features, n_blocks=1, name="rcu_out")(x)


class ResNetEncoder(nn.Module):
    """ResNet in 4 blocks returning each block's output (shallow first). SPEC: SEG-2, BAS-7.

    ``stem="imagenet"``: 7x7/2 conv + BN + ReLU + 3x3/2 max pool (torchvision; block strides
    4, 8, 16, 32). ``stem="small"``: 3x3 conv with ``stem_stride`` + BN + ReLU (block strides
    stem_stride x 1, 2, 4, 8), for small images. Blocks: `BasicBlock` / `Bottleneck`, widths
    ``width * 2**i`` (x4 for bottlenecks), stride 2 from the second block.
    """

    stage_sizes: Sequence[int] = (2, 2, 2, 2)
    block: str = "basic"  # "basic" | "bottleneck"
    width: int = 64
    stem: str = "imagenet"  # "imagenet" | "small"
    stem_stride: int = 1

    @property
    def stride(self) -> int:
        """Output stride of the deepest block."""
        return (4 if self.stem == "imagenet" else self.stem_stride) * 8

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> list[jax.Array]:
        if self.block not in ("basic", "bottleneck") or self.stem not in ("imagenet", "small"):
            raise ValueError(
                f"block must be 'basic'|'bottleneck' and stem 'imagenet'|'small', got "
                f"{self.block!r}, {self.stem!r}"
            )
        if len(self.stage_sizes) != 4:
            raise ValueError(f"RefineNet's encoder has 4 blocks, got {self.stage_sizes=}")
        if self.stem == "imagenet":
            x = _conv(self.width, 7, 2, name="stem")(x)
            x = nn.relu(BatchNorm(use_running_average=not train, name="stem_bn")(x))
            x = max_pool(x, 3, 2, 1)
        else:
            x = _conv(self.width, 3, self.stem_stride, name="stem")(x)
            x = nn.relu(BatchNorm(use_running_average=not train, name="stem_bn")(x))
        feats = []
        for i, n_blocks in enumerate(self.stage_sizes):
            width = self.width * 2**i
            for j in range(n_blocks):
                strides = 2 if i > 0 and j == 0 else 1
                name = f"block{i + 1}_{j + 1}"
                if self.block == "basic":
                    x = BasicBlock(width, strides, name=name)(x, train)
                else:
                    x = Bottleneck(4 * width, width, strides, name=name)(x, train)
            feats.append(x)
        return feats


class RefineNet(nn.Module):
    """4-cascade RefineNet. Shapes: (N, H, W, C) -> logits (N, H, W, num_classes).

    H and W must be multiples of the encoder stride (32 for the ImageNet stem). ``features``:
    RefineNet-1..4 widths (the paper uses 256, 256, 256, 512). Head: dropout, 3x3 conv to
    classes at stride-4 (or the small stem's) resolution, bilinear upsampling to the input.
    """

    num_classes: int
    encoder: ResNetEncoder = ResNetEncoder()
    features: Sequence[int] = (256, 256, 256, 512)
    light: bool = False
    crp_stages: int = 3
    dropout: float = 0.0

    @property
    def stride(self) -> int:
        return self.encoder.stride

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        _check_nhwc(x, "RefineNet")
        h, w = x.shape[1:3]
        if h % self.stride or w % self.stride:
            raise ValueError(
                f"RefineNet: image size {h}x{w} is not divisible by the backbone stride "
                f"{self.stride}; pad or resize to multiples of {self.stride}"
            )
        feats = self.encoder(x, train)
        y = None
        for k in range(4, 0, -1):
            paths = [feats[k - 1]] if y is None else [feats[k - 1], y]
            unit = RefineNetUnit(
                self.features[k - 1], self.light, self.crp_stages, name=f"refine{k}"
            )
            y = unit(paths)
        y = nn.Dropout(self.dropout, deterministic=not train)(y)
        y = _conv(self.num_classes, 3, use_bias=True, name="classifier")(y)
        return resize(y, (h, w), "bilinear")
