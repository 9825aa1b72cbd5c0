"""A PyTorch re-expression of SUNet written from the papers (Fan et al. 2022; Liu et al. 2021,
Swin), with the official state-dict names, used as the parity reference (SPEC RES-1).

Tokens are (B, H*W, C) inside the network as in the Swin papers; the masks of shifted windows
are built from the paper's 3x3 region labelling with -inf (exact) instead of -100.
"""

import torch
from torch import nn as tnn
from torch.nn import functional as F


class TorchPatchMerging(tnn.Module):
    """Swin patch merging: 2x2 neighbours (row offset first) concatenated, LN(4C), Linear 4C->2C."""

    def __init__(self, input_resolution, dim):
        super().__init__()
        self.input_resolution, self.dim = input_resolution, dim
        self.reduction = tnn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = tnn.LayerNorm(4 * dim)

    def forward(self, x):
        h, w = self.input_resolution
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        x0, x1 = x[:, 0::2, 0::2, :], x[:, 1::2, 0::2, :]
        x2, x3 = x[:, 0::2, 1::2, :], x[:, 1::2, 1::2, :]
        x = torch.cat([x0, x1, x2, x3], -1).view(b, -1, 4 * c)
        return self.reduction(self.norm(x))


class TorchUpSample(tnn.Module):
    """SUNet's dual up-sampler on NCHW: PixelShuffle branch || bilinear branch, 1x1 fuse."""

    def __init__(self, c, factor):
        super().__init__()
        out, mid = (c // 2, 2 * c) if factor == 2 else (c, 16 * c)
        self.conv = tnn.Conv2d(2 * out, out, 1, bias=False)
        self.up_p = tnn.Sequential(
            tnn.Conv2d(c, mid, 1, bias=False),
            tnn.PReLU(),
            tnn.PixelShuffle(factor),
            tnn.Conv2d(out, out, 1, bias=False),
        )
        self.up_b = tnn.Sequential(
            tnn.Conv2d(c, c, 1),
            tnn.PReLU(),
            tnn.Upsample(scale_factor=factor, mode="bilinear", align_corners=False),
            tnn.Conv2d(c, out, 1, bias=False),
        )

    def forward(self, x):
        return self.conv(torch.cat([self.up_p(x), self.up_b(x)], dim=1))


def _windows(x, ws):  # (B, H, W, C) -> (B * nW, ws * ws, C), windows row-major
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def _unwindows(x, ws, b, h, w):
    c = x.shape[-1]
    x = x.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


class TorchWindowAttention(tnn.Module):
    def __init__(self, dim, ws, heads, qk_scale):
        super().__init__()
        self.heads, self.ws = heads, ws
        self.scale = qk_scale or (dim // heads) ** -0.5
        self.relative_position_bias_table = tnn.Parameter(torch.randn((2 * ws - 1) ** 2, heads))
        ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
        pos = torch.stack([ys.flatten(), xs.flatten()], -1)  # (N, 2)
        rel = pos[:, None, :] - pos[None, :, :] + ws - 1
        self.register_buffer("relative_position_index", rel[..., 0] * (2 * ws - 1) + rel[..., 1])
        self.qkv = tnn.Linear(dim, 3 * dim)
        self.proj = tnn.Linear(dim, dim)

    def forward(self, x, mask=None):
        bw, n, c = x.shape
        q, k, v = self.qkv(x).view(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        logits = (q * self.scale) @ k.transpose(-1, -2)
        bias = self.relative_position_bias_table[self.relative_position_index]  # (N, N, heads)
        logits = logits + bias.permute(2, 0, 1)[None]
        if mask is not None:  # (nW, N, N) additive
            nw = mask.shape[0]
            logits = (logits.view(bw // nw, nw, self.heads, n, n) + mask[None, :, None]).view_as(
                logits
            )
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(bw, n, c)
        return self.proj(out)


class TorchMlp(tnn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = tnn.Linear(dim, hidden), tnn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class TorchSwinBlock(tnn.Module):
    def __init__(self, dim, res, heads, window, shift, mlp_ratio, qk_scale):
        super().__init__()
        self.res = res
        if min(res) <= window:
            window, shift = min(res), 0
        self.ws, self.shift = window, shift
        self.norm1, self.norm2 = tnn.LayerNorm(dim), tnn.LayerNorm(dim)
        self.attn = TorchWindowAttention(dim, window, heads, qk_scale)
        self.mlp = TorchMlp(dim, int(dim * mlp_ratio))
        mask = None
        if shift:
            h, w = res
            labels = torch.zeros(1, h, w, 1)
            cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
            for i, hs in enumerate(cuts):
                for j, vs in enumerate(cuts):
                    labels[:, hs, vs] = 3 * i + j
            lw = _windows(labels, window)[..., 0]  # (nW, N)
            same = lw[:, :, None] == lw[:, None, :]
            mask = torch.zeros(same.shape).masked_fill(~same, float("-inf"))
            self.register_buffer("attn_mask", mask)
        self.mask = mask

    def forward(self, x):
        (h, w), (b, _, c) = self.res, x.shape
        y = self.norm1(x).view(b, h, w, c)
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), (1, 2))
        y = _unwindows(self.attn(_windows(y, self.ws), self.mask), self.ws, b, h, w)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), (1, 2))
        x = x + y.reshape(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class TorchStage(tnn.Module):
    def __init__(self, dim, res, depth, heads, window, mlp_ratio, qk_scale, down=False, up=False):
        super().__init__()
        self.blocks = tnn.ModuleList(
            TorchSwinBlock(
                dim, res, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio, qk_scale
            )
            for i in range(depth)
        )
        self.res = res
        if down:
            self.downsample = TorchPatchMerging(res, dim)
        if up:
            self.upsample = TorchUpSample(dim, 2)

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        if hasattr(self, "downsample"):
            x = self.downsample(x)
        if hasattr(self, "upsample"):
            x = _up_tokens(self.upsample, x, self.res)
        return x


def _up_tokens(up, x, res):  # tokens (B, H*W, C) -> up-sampled tokens
    b, _, c = x.shape
    y = up(x.transpose(1, 2).reshape(b, c, *res))
    return y.flatten(2).transpose(1, 2)


class TorchPatchEmbed(tnn.Module):
    def __init__(self, dim, patch):
        super().__init__()
        self.proj = tnn.Conv2d(dim, dim, patch, patch)
        self.norm = tnn.LayerNorm(dim)


class TorchSUNet(tnn.Module):
    """SUNet for a fixed input size (B, 3, H, W), official attribute names."""

    def __init__(
        self,
        hw,
        embed=96,
        depths=(8, 8, 8, 8),
        heads=(8, 8, 8, 8),
        window=8,
        patch=4,
        mlp_ratio=4.0,
        qk_scale=8.0,
    ):
        super().__init__()
        n = len(depths)
        dims = [embed * 2**i for i in range(n)]
        res = [(hw[0] // patch // 2**i, hw[1] // patch // 2**i) for i in range(n)]
        self.patch = patch
        self.res = res
        self.prelu = tnn.PReLU()  # unused; present in the official state dict
        self.conv_first = tnn.Conv2d(3, embed, 3, 1, 1)
        self.patch_embed = TorchPatchEmbed(embed, patch)
        self.layers = tnn.ModuleList(
            TorchStage(
                dims[i], res[i], depths[i], heads[i], window, mlp_ratio, qk_scale, down=i < n - 1
            )
            for i in range(n)
        )
        self.layers_up = tnn.ModuleList([TorchUpSample(dims[-1], 2)])
        self.concat_back_dim = tnn.ModuleList([tnn.Identity()])
        for j in range(1, n):
            i = n - 1 - j
            self.layers_up.append(
                TorchStage(
                    dims[i], res[i], depths[i], heads[i], window, mlp_ratio, qk_scale, up=j < n - 1
                )
            )
            self.concat_back_dim.append(tnn.Linear(2 * dims[i], dims[i]))
        self.norm, self.norm_up = tnn.LayerNorm(dims[-1]), tnn.LayerNorm(embed)
        self.up = TorchUpSample(embed, patch)
        self.output = tnn.Conv2d(embed, 3, 3, 1, 1, bias=False)

    def forward(self, img):
        x = self.conv_first(img)
        x = self.patch_embed.norm(self.patch_embed.proj(x).flatten(2).transpose(1, 2))
        skips = []
        for layer in self.layers:
            skips.append(x)
            x = layer(x)
        x = _up_tokens(self.layers_up[0], self.norm(x), self.res[-1])
        for j in range(1, len(self.layers)):
            x = self.concat_back_dim[j](torch.cat([x, skips[len(self.layers) - 1 - j]], -1))
            x = self.layers_up[j](x)
        x = self.norm_up(x)
        b, _, c = x.shape
        x = self.up(x.transpose(1, 2).reshape(b, c, *self.res[0]))
        return self.output(x)


def randomize(module, seed, scale=0.5):
    """Every parameter ~ N(0, scale^2) (PReLU slopes around 0.25), from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale + (0.25 if p.numel() == 1 else 0))
