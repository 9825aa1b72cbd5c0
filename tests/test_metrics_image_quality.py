"""RES-5 image-quality metrics vs scikit-image, a float64 NumPy MS-SSIM and pytorch-msssim."""

import functools

import chex
import jax
import numpy as np
import pytest
import pytorch_msssim
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from jaxdl import metrics

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _images(rng, shape, noise=0.1, scale=1.0):
    """Smooth random images in [0, scale] and a noisy, shifted copy."""
    clean = gaussian_filter(rng.uniform(size=shape), sigma=(0, 2, 2, 0))
    clean = (clean - clean.min()) / (clean.max() - clean.min())
    noisy = np.clip(0.9 * clean + 0.05 + noise * rng.normal(size=shape), 0, 1)
    return (noisy * scale).astype(np.float32), (clean * scale).astype(np.float32)


def sk_ssim(x, y, max_val):
    return [
        structural_similarity(
            a.astype(np.float64),
            b.astype(np.float64),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=max_val,
            channel_axis=-1,
        )
        for a, b in zip(x, y, strict=True)
    ]


@pytest.mark.parametrize("max_val,noise", [(1.0, 0.1), (255.0, 0.3), (1.0, 0.02)])
def test_ssim_and_psnr_match_skimage(max_val, noise):
    rng = np.random.default_rng(int(noise * 100))
    pred, target = _images(rng, (3, 23, 30, 3), noise, max_val)
    ours = jax.jit(functools.partial(metrics.ssim, max_val=max_val))(pred, target)
    # Measured: SSIM 9.5e-7, PSNR 2.5e-6 dB (docs/losses_metrics.md).
    np.testing.assert_allclose(ours, sk_ssim(pred, target, max_val), rtol=0, atol=5e-6)
    ref = [
        peak_signal_noise_ratio(t.astype(np.float64), p.astype(np.float64), data_range=max_val)
        for p, t in zip(pred, target, strict=True)
    ]
    np.testing.assert_allclose(metrics.psnr(pred, target, max_val), ref, rtol=0, atol=1e-5)


def _y255(rgb01):
    """BT.601 Y on [0, 255] from RGB in [0, 1] (MATLAB rgb2ycbcr)."""
    return 16.0 + 65.481 * rgb01[..., 0] + 128.553 * rgb01[..., 1] + 24.966 * rgb01[..., 2]


def test_y_channel_and_crop_border_follow_sr_convention():
    rng = np.random.default_rng(7)
    pred, target = _images(rng, (2, 28, 26, 3), 0.1)
    b = 4
    yp = _y255(pred.astype(np.float64))[:, b:-b, b:-b, None]
    yt = _y255(target.astype(np.float64))[:, b:-b, b:-b, None]

    @jax.jit
    def run(p, t):
        kw = dict(crop_border=b, y_channel=True)
        return metrics.psnr(p, t, **kw), metrics.ssim(p, t, **kw), metrics.rgb_to_y(p)

    psnr, ssim, y = run(pred, target)
    np.testing.assert_allclose(y[..., 0] * 255, _y255(pred.astype(np.float64)), rtol=5e-7)
    ref_psnr = [peak_signal_noise_ratio(t, p, data_range=255) for p, t in zip(yp, yt, strict=True)]
    np.testing.assert_allclose(psnr, ref_psnr, rtol=0, atol=1e-5)  # measured 2.9e-6 dB
    np.testing.assert_allclose(ssim, sk_ssim(yp, yt, 255.0), rtol=0, atol=5e-6)  # 2.6e-6
    assert 16 <= float(y.min() * 255) and float(y.max() * 255) <= 235 + 1e-3


def numpy_ms_ssim(x, y, max_val, weights=WEIGHTS):
    """Wang et al. 2003 in float64: Gaussian(1.5, 11 taps) valid window, 2x2 mean pooling."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    out = np.ones(len(x))
    for j, w in enumerate(weights):

        def filt(a):
            return gaussian_filter(a, sigma=(0, 1.5, 1.5, 0), truncate=3.5)[:, 5:-5, 5:-5, :]

        mx, my = filt(x), filt(y)
        vx, vy, vxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
        cs = (2 * vxy + c2) / (vx + vy + c2)
        lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
        last = j == len(weights) - 1
        val = (lum * cs if last else cs).mean(axis=(1, 2, 3))
        out *= np.maximum(val, 0) ** w
        n, h, wd, c = x.shape
        x = x[:, : h // 2 * 2, : wd // 2 * 2].reshape(n, h // 2, 2, wd // 2, 2, c).mean((2, 4))
        y = y[:, : h // 2 * 2, : wd // 2 * 2].reshape(n, h // 2, 2, wd // 2, 2, c).mean((2, 4))
    return out


def test_ms_ssim_matches_numpy_float64():
    rng = np.random.default_rng(3)
    pred, target = _images(rng, (2, 177, 180, 3), 0.15)
    ours = jax.jit(metrics.ms_ssim)(pred, target)
    ref = numpy_ms_ssim(pred, target, 1.0)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6)  # measured 2.2e-8
    assert metrics.MS_SSIM_WEIGHTS == WEIGHTS
    # Fewer scales for small images: 3 scales need H, W >= 44.
    small_p, small_t = pred[:, :50, :47], target[:, :50, :47]
    w3 = tuple(np.array(WEIGHTS[:3]) / sum(WEIGHTS[:3]))
    ours3 = jax.jit(functools.partial(metrics.ms_ssim, weights=w3))(small_p, small_t)
    np.testing.assert_allclose(  # measured 6.2e-7
        ours3, numpy_ms_ssim(small_p, small_t, 1.0, w3), rtol=0, atol=2e-6
    )
    with pytest.raises(ValueError, match="176"):
        metrics.ms_ssim(small_p, small_t)


def _nchw64(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).double()


def _torch_ms_ssim(x, y, max_val, weights=None):
    """pytorch-msssim in float64, with the float64 window: its default window is float32, whose
    taps sum to 1 only to ~1e-7, which moves MS-SSIM by ~5e-7."""
    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    win = torch.from_numpy(taps / taps.sum()).reshape(1, 1, 1, 11).repeat(x.shape[-1], 1, 1, 1)
    out = pytorch_msssim.ms_ssim(
        _nchw64(x), _nchw64(y), data_range=max_val, size_average=False, win=win, weights=weights
    )
    return out.numpy()


def test_ms_ssim_matches_pytorch_msssim():
    """An outside implementation, pytorch-msssim, in float64: largest difference 2.5e-6 (float32
    cancellation in E[x²] - E[x]², asserted 5e-6). Sides stay even down to the coarsest scale (it
    zero-pads an odd side before pooling where we drop it, as tf.image). One channel at a time:
    for C > 1 it averages the per-channel MS-SSIM values, checked here on RGB images against
    our per-channel values; our `ms_ssim` of an RGB image averages each scale's cs over the
    channels before the product instead."""
    rng = np.random.default_rng(5)
    pred, target = _images(rng, (2, 176, 192, 3), 0.15)
    ms_ssim = jax.jit(metrics.ms_ssim)
    per_channel = []
    for c in range(3):
        p, t = pred[..., c : c + 1], target[..., c : c + 1]
        per_channel.append(np.asarray(ms_ssim(p, t)))
        np.testing.assert_allclose(per_channel[-1], _torch_ms_ssim(p, t, 1.0), rtol=0, atol=5e-6)
    ref = _torch_ms_ssim(pred, target, 1.0)
    np.testing.assert_allclose(np.mean(per_channel, 0), ref, rtol=0, atol=5e-6)
    # 255 scale, three scales.
    p, t = pred[..., :1] * 255, target[..., :1] * 255
    w3 = tuple(np.array(WEIGHTS[:3]) / sum(WEIGHTS[:3]))
    ours = jax.jit(functools.partial(metrics.ms_ssim, max_val=255.0, weights=w3))(p, t)
    np.testing.assert_allclose(ours, _torch_ms_ssim(p, t, 255.0, list(w3)), rtol=0, atol=5e-6)


def test_identical_images():
    x = np.random.default_rng(0).uniform(size=(2, 12, 12, 1)).astype(np.float32)

    @jax.jit
    def run(x):
        return metrics.psnr(x, x), metrics.ssim(x, x)

    psnr, ssim = run(x)
    assert np.all(np.isinf(psnr))
    np.testing.assert_allclose(ssim, 1.0, rtol=1e-6)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(11, 16), w=st.integers(11, 16), c=st.sampled_from([1, 3]))
def test_shapes_per_image(n, h, w, c):
    x = np.full((n, h, w, c), 0.5, np.float32)

    @jax.jit
    def run(x, y):
        return metrics.psnr(x, y), metrics.ssim(x, y)

    psnr, ssim = run(x, x * 0.9)
    chex.assert_shape([psnr, ssim], (n,))
    chex.assert_tree_all_finite(psnr)


def test_bad_layout_errors():
    nchw = np.zeros((2, 3, 32, 32), np.float32)
    with pytest.raises(ValueError, match=r"NCHW.*transpose"):
        metrics.ssim(nchw, nchw)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        metrics.psnr(np.zeros((32, 32, 3)), np.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match=">= 11"):
        metrics.ssim(np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        metrics.psnr(np.zeros((1, 8, 8, 1)), np.zeros((1, 8, 8, 1)), y_channel=True)
