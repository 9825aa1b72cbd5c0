"""Swin window attention: (shifted) windows, their mask, relative position bias.

Swin Transformer (Liu et al. 2021, arXiv:2103.14030). SPEC: RES-1 (SUNet's W-MSA/SW-MSA,
window 8, shift 4, qkv bias, `qk_scale`). Layouts follow the official code so that weights port
directly: `qkv` Dense (C, 3C) with q/k/v then heads on the output axis, `proj` Dense (C, C),
`relative_position_bias_table` ((2w-1)^2, heads). The official additive -100 mask is replaced
by an exact boolean mask (the two differ by ~exp(-100) in the weights).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.nn.attention import attention_weights


def _check_windows(shape: tuple[int, ...], window_size: int) -> None:
    if len(shape) != 4 or shape[1] % window_size or shape[2] % window_size:
        raise ValueError(
            f"expected NHWC (B, H, W, C) with H and W divisible by window_size={window_size}, "
            f"got {tuple(shape)}"
        )


def window_partition(x: jax.Array, window_size: int) -> jax.Array:
    """(B, H, W, C) -> (B * nW, ws, ws, C), windows in row-major order per image."""
    _check_windows(x.shape, window_size)
    b, h, w, c = x.shape
    ws = window_size
    x = x.reshape(b, h // ws, ws, w // ws, ws, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws, ws, c)


def window_reverse(windows: jax.Array, window_size: int, height: int, width: int) -> jax.Array:
    """Inverse of `window_partition`: (B * nW, ws, ws, C) -> (B, H, W, C)."""
    ws = window_size
    n_w = (height // ws) * (width // ws)
    if windows.ndim != 4 or windows.shape[1:3] != (ws, ws) or windows.shape[0] % n_w:
        raise ValueError(
            f"expected windows (B * {n_w}, {ws}, {ws}, C) for a {height}x{width} image, "
            f"got {windows.shape}"
        )
    x = windows.reshape(-1, height // ws, width // ws, ws, ws, windows.shape[-1])
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(-1, height, width, windows.shape[-1])


def relative_position_index(window_size: int, table_window: int | None = None) -> np.ndarray:
    """(N, N) indices into the ((2t-1)^2, heads) bias table, N = w^2 (Swin's layout).

    `table_window` t (default w, must be >= w) is the window the table was built for: a window
    smaller than the table's (a map smaller than the window) reads the same offsets' entries.
    """
    ws, tw = window_size, table_window or window_size
    if tw < ws:
        raise ValueError(f"table_window={tw} must be >= window_size={ws}")
    coords = np.stack(np.meshgrid(np.arange(ws), np.arange(ws), indexing="ij")).reshape(2, -1)
    rel = coords[:, :, None] - coords[:, None, :] + (tw - 1)  # (2, N, N), each in [0, 2t-2]
    return rel[0] * (2 * tw - 1) + rel[1]


def shifted_window_mask(height: int, width: int, window_size: int, shift: int) -> np.ndarray:
    """(nW, N, N) bool, True where two tokens of a window were neighbours before the shift.

    After rolling by -shift, the last window row/column mixes pixels from opposite image edges;
    tokens attend only within their own region (3 bands per axis, as Swin's `img_mask`).
    """
    _check_windows((1, height, width, 1), window_size)
    if not 0 <= shift < window_size:
        raise ValueError(f"shift must be in [0, window_size={window_size}), got {shift}")

    def band(n: int) -> np.ndarray:  # region of each (rolled) coordinate: 0, 1 or 2
        i = np.arange(n)
        return (i >= n - window_size).astype(int) + (i >= n - shift).astype(int)

    region = band(height)[:, None] * 3 + band(width)[None, :]
    win = np.asarray(window_partition(region[None, :, :, None], window_size))  # NumPy, static
    win = win.reshape(-1, window_size * window_size)
    return win[:, :, None] == win[:, None, :]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with relative position bias (W-MSA).

    x (B * nW, N, C), N = ws^2; optional mask (nW, N, N) bool (True = attend) -> (B * nW, N, C).
    `qk_scale` overrides head_dim^-1/2 (SUNet sets 8). `table_window` (default `window_size`)
    sizes the bias table, so windows shrunk to a small map share the full window's parameters.
    """

    dim: int
    window_size: int
    num_heads: int
    qkv_bias: bool = True
    qk_scale: float | None = None
    table_window: int | None = None

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        n = self.window_size**2
        if x.ndim != 3 or x.shape[1:] != (n, self.dim):
            raise ValueError(f"WindowAttention expects (B * nW, {n}, {self.dim}), got {x.shape}")
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} not divisible by num_heads={self.num_heads}")
        head_dim = self.dim // self.num_heads
        tw = self.table_window or self.window_size
        table = self.param(
            "relative_position_bias_table",
            nn.initializers.truncated_normal(0.02),
            ((2 * tw - 1) ** 2, self.num_heads),
        )
        bias = table[relative_position_index(self.window_size, tw)].transpose(2, 0, 1)  # (H, N, N)
        qkv = nn.Dense(3 * self.dim, use_bias=self.qkv_bias, name="qkv")(x)
        qkv = qkv.reshape(x.shape[0], n, 3, self.num_heads, head_dim).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B * nW, heads, N, head_dim)
        if mask is not None:
            n_w = mask.shape[0]
            if mask.shape != (n_w, n, n) or x.shape[0] % n_w:
                raise ValueError(f"mask must be (nW, {n}, {n}) with nW | B*nW, got {mask.shape}")
            mask = jnp.tile(mask[:, None], (x.shape[0] // n_w, 1, 1, 1))  # (B * nW, 1, N, N)
        w = attention_weights(q, k, mask=mask, bias=bias, scale=self.qk_scale)
        y = jnp.einsum("bhqk,bhkd->bqhd", w, v).reshape(x.shape)
        return nn.Dense(self.dim, name="proj")(y)


class ShiftedWindowAttention(nn.Module):
    """(S)W-MSA on NHWC maps: roll by -shift, partition, masked window attention, reverse, roll.

    `shift_size=0` is W-MSA, `window_size // 2` SW-MSA (Swin alternates them).
    Shapes: (B, H, W, C) -> (B, H, W, C), H and W divisible by `window_size`, C = `dim`.
    `table_window` as in `WindowAttention`.
    """

    dim: int
    num_heads: int
    window_size: int = 8
    shift_size: int = 0
    qkv_bias: bool = True
    qk_scale: float | None = None
    table_window: int | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_windows(x.shape, self.window_size)
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected NHWC (B, H, W, {self.dim}), got {x.shape}")
        b, h, w, c = x.shape
        ws, s = self.window_size, self.shift_size
        mask = None
        if s:
            mask = jnp.asarray(shifted_window_mask(h, w, ws, s))
            x = jnp.roll(x, (-s, -s), axis=(1, 2))
        win = window_partition(x, ws).reshape(-1, ws * ws, c)
        win = WindowAttention(
            self.dim,
            ws,
            self.num_heads,
            self.qkv_bias,
            self.qk_scale,
            self.table_window,
            name="attn",
        )(win, mask)
        x = window_reverse(win.reshape(-1, ws, ws, c), ws, h, w)
        return jnp.roll(x, (s, s), axis=(1, 2)) if s else x
