"""Real-ESRGAN degradations (SPEC RES-4) against BasicSR 1.4.2 (`basicsr_ref`) and PyTorch."""

import dataclasses
import math

import chex
import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from basicsr_ref import load

from jaxdl.data import ArraySource, make_pipeline
from jaxdl.data.degradations import (
    KERNEL_TYPES,
    BlurConfig,
    DegradationConfig,
    RealESRGANDegradation,
    StageConfig,
    degrade,
    ops,
    sample_degradation,
)
from jaxdl.data.degradations import kernels as K
from jaxdl.data.degradations.examples import degradation_steps, save_degradation_examples


@pytest.fixture(scope="module")
def deg():
    return load("basicsr.data.degradations")


@pytest.fixture(scope="module")
def imgproc():
    return load("basicsr.utils.img_process_util")


@pytest.fixture(scope="module")
def photo():
    """A 64×64 crop of a real photo, float32 [0, 1] RGB."""
    return (skimage.data.astronaut()[100:164, 180:244] / np.float32(255)).astype(np.float32)


class _Legacy:
    """numpy's legacy global stream behind the Generator methods the ops call, so they see the
    same draws as BasicSR's `np.random.randn` / `np.random.poisson` after `np.random.seed`."""

    def __init__(self, seed):
        self.rs = np.random.RandomState(seed)

    def standard_normal(self, size, dtype=np.float64):
        return self.rs.standard_normal(size).astype(dtype)

    def poisson(self, lam):
        return self.rs.poisson(lam)


def _nchw(img):
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def _hwc(t):
    return t[0].numpy().transpose(1, 2, 0)


@pytest.mark.parametrize("size", [7, 21])
def test_kernel_builders_match_basicsr(deg, size):
    sx, sy, theta, beta = 1.7, 0.6, 0.9, 2.5
    cases = [
        (K.gaussian_kernel(size, sx), deg.bivariate_Gaussian(size, sx, sx, 0, isotropic=True)),
        (
            K.gaussian_kernel(size, sx, sy, theta),
            deg.bivariate_Gaussian(size, sx, sy, theta, isotropic=False),
        ),
        (
            K.generalized_gaussian_kernel(size, sx, 0.7),
            deg.bivariate_generalized_Gaussian(size, sx, sx, 0, 0.7, isotropic=True),
        ),
        (
            K.generalized_gaussian_kernel(size, sx, beta, sy, theta),
            deg.bivariate_generalized_Gaussian(size, sx, sy, theta, beta, isotropic=False),
        ),
        (K.plateau_kernel(size, sx, 1.3), deg.bivariate_plateau(size, sx, sx, 0, 1.3)),
        (
            K.plateau_kernel(size, sx, beta, sy, -theta),
            deg.bivariate_plateau(size, sx, sy, -theta, beta, isotropic=False),
        ),
        (K.circular_lowpass_kernel(1.3, size), deg.circular_lowpass_kernel(1.3, size)),
        (
            K.circular_lowpass_kernel(2.9, size, pad_to=23),
            deg.circular_lowpass_kernel(2.9, size, pad_to=23),
        ),
    ]
    for ours, ref in cases:
        chex.assert_trees_all_close(ours, ref, atol=1e-6, rtol=0)
        assert math.isclose(ours.sum(), 1.0, abs_tol=1e-9)


def test_filter2d_matches_basicsr_filter2D(imgproc):
    img = np.random.default_rng(0).random((23, 30, 3), dtype=np.float32)
    kernels = (
        K.gaussian_kernel(21, 2.0, 0.7, 0.4),  # FFT path
        K.circular_lowpass_kernel(1.1, 13),
        K.gaussian_kernel(15, 1.3),  # rank 1: separable path
    )
    for kernel in kernels:
        ref = imgproc.filter2D(_nchw(img), torch.from_numpy(kernel).float()[None])
        out = ops.filter2d(img, kernel)
        chex.assert_shape(out, img.shape)
        chex.assert_trees_all_close(out, _hwc(ref), atol=2e-6, rtol=0)


def test_usm_matches_basicsr_usmsharp_and_usm_sharp(imgproc, photo):
    ours = ops.usm_sharpen(photo)
    ref_torch = _hwc(imgproc.USMSharp()(_nchw(photo)))
    ref_numpy = imgproc.usm_sharp(photo[..., ::-1].copy())[..., ::-1]  # OpenCV wants BGR
    chex.assert_type(ours, np.float32)
    chex.assert_trees_all_close(ours, ref_torch, atol=1e-5, rtol=0)
    chex.assert_trees_all_close(ours, ref_numpy, atol=1e-5, rtol=0)
    assert np.abs(ours - photo).max() > 0.01  # it does sharpen


@pytest.mark.parametrize("gray", [False, True])
def test_gaussian_noise_matches_basicsr_given_the_same_draws(deg, photo, gray):
    np.random.seed(5)
    ref = deg.generate_gaussian_noise(photo, sigma=17.5, gray_noise=gray)
    ours = ops.gaussian_noise(photo.shape, 17.5, gray, _Legacy(5))
    chex.assert_type(ours, np.float32)
    np.testing.assert_array_equal(ours, ref)
    np.random.seed(5)
    ref_added = deg.add_gaussian_noise(photo, sigma=17.5, gray_noise=gray)
    np.testing.assert_allclose(ops.add_noise(photo, ours), ref_added, atol=1e-7)


@pytest.mark.parametrize("gray", [False, True])
def test_poisson_noise_matches_basicsr_given_the_same_draws(deg, photo, gray):
    np.random.seed(9)
    if gray:  # BasicSR's grey conversion reads BGR
        bgr = np.ascontiguousarray(photo[..., ::-1])
        ref = deg.generate_poisson_noise(bgr, scale=2.2, gray_noise=True)
    else:
        ref = deg.generate_poisson_noise(photo, scale=2.2, gray_noise=False)
    ours = ops.poisson_noise(photo, 2.2, gray, _Legacy(9))
    chex.assert_type(ours, np.float32)
    # Equal up to float rounding, except where OpenCV's luma and ours round to different levels
    # (a handful of pixels on a rounding boundary; the noise then moves by at most 2 levels).
    diff = np.abs(ours - ref)
    assert (diff > 1e-6).mean() < 1e-3 and diff.max() < 2.2 * 2 / 255
    assert np.abs(ours).mean() > 1e-3


@pytest.mark.parametrize("mode", ["area", "bilinear", "bicubic"])
def test_resize_matches_torch_interpolate(photo, mode):
    x = photo[:50, :37]
    for size, factor in [((21, 16), None), ((80, 45), None), (None, 0.37), (None, 1.31)]:
        if factor is None:
            ref = F.interpolate(_nchw(x), size=size, mode=mode)
        else:
            ref = F.interpolate(_nchw(x), scale_factor=factor, mode=mode)
            size = (math.floor(50 * factor), math.floor(37 * factor))
        out = ops.resize(x, size, mode, factor)
        chex.assert_trees_all_close(out, _hwc(ref), atol=2e-6, rtol=0)


def test_jpeg_matches_the_opencv_codec_basicsr_uses(deg, photo):
    for q in (30, 77):
        ours = ops.jpeg(photo, q)
        ref = deg.add_jpg_compression(photo[..., ::-1].copy(), q)[..., ::-1]
        assert np.abs(ours - ref).max() <= 2 / 255
        assert np.abs(ours - photo).mean() > 1e-3
    with pytest.raises(ValueError, match="RGB"):
        ops.jpeg(photo[..., :1].copy(), 50)


def _freq(values, value):
    return np.mean([v == value for v in values])


def _close(freq, p, n):
    assert abs(freq - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1e-9, (freq, p)


def test_sampled_parameters_follow_the_configured_probabilities():
    cfg = DegradationConfig()
    rng = np.random.default_rng(0)
    n = 4000
    draws = [sample_degradation(rng, cfg) for _ in range(n)]
    s1 = [d.stage1 for d in draws]
    s2 = [d.stage2 for d in draws]
    kinds1 = [s.kernel.kind for s in s1]
    _close(_freq(kinds1, "sinc"), 0.1, n)
    for kind, p in zip(KERNEL_TYPES, cfg.stage1.blur.kernel_probs, strict=True):
        _close(_freq(kinds1, kind), 0.9 * p, n)
    sizes = [s.kernel.size for s in s1]
    assert set(sizes) == set(range(7, 22, 2))
    for size in range(7, 22, 2):
        _close(_freq(sizes, size), 1 / 8, n)
    _close(_freq([s.kernel is None for s in s2], True), 0.2, n)
    for stage, cfg_s in ((s1, cfg.stage1), (s2, cfg.stage2)):
        for direction, p in zip(("up", "down", "keep"), cfg_s.resize_probs, strict=True):
            _close(_freq([s.resize for s in stage], direction), p, n)
        _close(_freq([s.noise for s in stage], "gaussian"), 0.5, n)
        _close(_freq([s.gray_noise for s in stage], True), 0.4, n)
        sig = np.array([s.noise_level for s in stage if s.noise == "gaussian"])
        lo, hi = cfg_s.noise_range
        assert lo <= sig.min() and sig.max() <= hi
        assert abs(sig.mean() - (lo + hi) / 2) < 4.5 * (hi - lo) / math.sqrt(12 * len(sig))
        q = np.array([s.jpeg_quality for s in stage])
        assert 30 <= q.min() and q.max() <= 95
    blur_sigmas = np.array([s.kernel.sigma_x for s in s2 if s.kernel and s.kernel.kind != "sinc"])
    assert 0.2 <= blur_sigmas.min() and blur_sigmas.max() <= 1.5
    _close(_freq([d.final_sinc is not None for d in draws], True), 0.8, n)
    _close(_freq([d.resize_first for d in draws], True), 0.5, n)
    omegas = np.array([d.final_sinc.omega for d in draws if d.final_sinc is not None])
    assert np.pi / 3 <= omegas.min() and omegas.max() <= np.pi


def test_degrade_is_reproducible_from_the_seed_and_has_the_lr_shape():
    hr = skimage.data.astronaut()[:64, :96]
    cfg = DegradationConfig()
    a, b, c = degrade(hr, cfg, 7), degrade(hr, cfg, 7), degrade(hr, cfg, 8)
    chex.assert_shape(a["lr"], (16, 24, 3))
    chex.assert_type([a["lr"], a["hr"], a["hr_usm"]], np.float32)
    np.testing.assert_array_equal(a["lr"], b["lr"])
    assert not np.array_equal(a["lr"], c["lr"])
    np.testing.assert_array_equal(a["lr"], np.round(a["lr"] * 255) / 255)
    steps = []
    degrade(hr, cfg, 7, steps=steps)
    assert steps[0][0] == "HR (USM)" and len(steps) >= 8
    np.testing.assert_array_equal(np.round(steps[-1][1] * 255) / 255, a["lr"])


def test_degradation_examples_picture(tmp_path):
    hr = skimage.data.astronaut()[:32, :32]
    cfg = DegradationConfig(scale=2)
    steps = degradation_steps(hr, cfg, 3)
    assert [t for t, _ in steps[:2]] == ["HR", "HR (USM)"] and steps[-1][0] == "LR"
    np.testing.assert_array_equal(steps[-1][1], degrade(hr, cfg, 3)["lr"])
    path = save_degradation_examples(tmp_path / "degradation_examples.png", hr, cfg, 3)
    assert path.stat().st_size > 1000


def test_transform_gives_the_same_lr_on_any_number_of_processes():
    images = skimage.data.astronaut()[:256, :256].reshape(4, 64, 4, 64, 3).swapaxes(1, 2)
    source = ArraySource(
        images.reshape(16, 64, 64, 3)[:4].copy(), np.zeros(4), num_classes=1, name="tiles"
    )
    t = RealESRGANDegradation(DegradationConfig(scale=2))
    kw = dict(global_batch_size=4, seed=3, num_epochs=1)
    whole = next(iter(make_pipeline(source, [t], process_index=0, process_count=1, **kw)))
    halves = [
        next(iter(make_pipeline(source, [t], process_index=p, process_count=2, **kw)))
        for p in (0, 1)
    ]
    chex.assert_shape(whole["lr"], (4, 32, 32, 3))
    np.testing.assert_array_equal(whole["lr"], np.concatenate([h["lr"] for h in halves]))
    np.testing.assert_array_equal(whole["hr"] * 255, np.round(whole["hr"] * 255))


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"stage1": {"blur": {"kernel_size_range": (6, 21)}}},
            r"stage1\.blur\.kernel_size_range.*odd.*>= 3",
        ),
        ({"stage2": {"blur": {"kernel_size_range": (1, 7)}}}, r"stage2\.blur\.kernel_size_range"),
        ({"final_sinc_size_range": (7, 20)}, r"final_sinc_size_range"),
        (
            {"stage1": {"blur": {"kernel_probs": (0.5, 0.5, 0.5, 0, 0, 0)}}},
            r"kernel_probs.*summing to 1",
        ),
        ({"stage2": {"resize_probs": (0.3, 0.3, 0.3)}}, r"stage2\.resize_probs.*summing to 1"),
        (
            {"stage1": {"blur": {"sigma_range": (3.0, 0.2)}}},
            r"stage1\.blur\.sigma_range.*low <= high",
        ),
        ({"stage1": {"jpeg_range": (95, 30)}}, r"stage1\.jpeg_range.*1\.0 <= low <= high <= 100"),
        ({"final_jpeg_range": (30, 120)}, r"final_jpeg_range"),
        ({"stage2": {"noise_range": (25, 1)}}, r"stage2\.noise_range"),
        ({"stage1": {"blur": {"betap_range": (1.5, 2.0)}}}, r"betap_range.*low <= 1 <= high"),
        ({"stage1": {"sinc_prob": 0.1}}, r"unknown degradation option.*stage1\.sinc_prob.*valid"),
        ({"final_sinc_prob": 1.5}, r"final_sinc_prob.*\[0, 1\]"),
        ({"resize_modes": ("nearest",)}, r"resize_modes"),
    ],
)
def test_bad_config_names_the_option_and_its_valid_range(options, message):
    with pytest.raises(ValueError, match=message):
        DegradationConfig.from_dict(options)


def test_config_from_dict_keeps_the_other_defaults():
    cfg = DegradationConfig.from_dict({"scale": 2, "stage2": {"blur": {"sinc_prob": 0.3}}})
    assert cfg.scale == 2 and cfg.stage2.blur.sinc_prob == 0.3
    assert cfg.stage2.blur.sigma_range == (0.2, 1.5) and cfg.stage2.blur_prob == 0.8
    assert cfg.stage1 == StageConfig() and cfg.stage1.blur == BlurConfig()
    assert DegradationConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="final_sinc_size_range"):
        dataclasses.replace(cfg, final_sinc_size_range=(2, 21))
