"""The SR protocol (SPEC RES-5): MATLAB bicubic imresize and SR metrics against BasicSR, HR/LR
pairs, the image folder reader and bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from basicsr_ref import load
from PIL import Image

from jaxdl.data import sr_pairs
from jaxdl.data.image_folder import read_folder
from jaxdl.data.photos import PHOTO_SPLITS
from jaxdl.metrics.sr import mean_scores, sr_scores, to_unit
from jaxdl.restoration.imresize import imresize, resize_matrix


@pytest.fixture(scope="module")
def matlab():
    return load("basicsr.utils.matlab_functions")


@pytest.fixture(scope="module")
def basicsr_metrics():
    return load("basicsr.metrics.psnr_ssim")


@pytest.mark.parametrize(
    "shape, scale",
    [
        ((37, 41, 3), 1 / 4),  # shrink, odd sizes (MATLAB output: ceil)
        ((36, 40, 3), 1 / 4),
        ((35, 29, 3), 1 / 2),
        ((33, 31, 1), 1 / 3),
        ((13, 17, 3), 4.0),  # enlarge
        ((9, 11, 3), 3.0),
    ],
)
def test_imresize_equals_basicsr(matlab, shape, scale):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    ref = matlab.imresize(x, scale)
    ours = imresize(x, scale)
    chex.assert_shape(ours, ref.shape)
    chex.assert_trees_all_close(ours, ref, atol=1e-5, rtol=0)
    # jax input: the same in float32, and jit-able.
    jitted = jax.jit(lambda v: imresize(v, scale))(jnp.asarray(x))
    chex.assert_trees_all_close(jitted, ref, atol=1e-5, rtol=0)


def test_imresize_matrix_rows_sum_to_one_and_batches():
    m = resize_matrix(50, 13, 0.25)
    chex.assert_trees_all_close(m.sum(1), np.ones(13), atol=1e-12)
    x = np.random.default_rng(1).random((2, 20, 24, 3))
    out = imresize(x, size=(10, 6))  # output size: per-axis scales 1/2 and 1/4
    chex.assert_shape(out, (2, 10, 6, 3))
    chex.assert_trees_all_close(out[1], imresize(x[1], size=(10, 6)), atol=1e-12)
    # a constant image stays constant (normalised weights, symmetric padding)
    chex.assert_trees_all_close(imresize(np.full((7, 9, 1), 0.3), 1 / 3), 0.3, atol=1e-12)


def test_imresize_bad_input():
    with pytest.raises(ValueError, match="exactly one of scale= and size="):
        imresize(np.zeros((8, 8, 3)), 0.5, size=(4, 4))
    with pytest.raises(ValueError, match=r"\(H, W, C\) or a batch"):
        imresize(np.zeros((8, 8)), 0.5)
    with pytest.raises(ValueError, match="scale must be positive"):
        imresize(np.zeros((8, 8, 3)), -2.0)


@pytest.mark.parametrize("y_channel", [True, False])
def test_sr_scores_equal_basicsr(basicsr_metrics, y_channel):
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (45, 51, 3), np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
    ours = sr_scores(sr, hr, crop_border=4)
    key = "y" if y_channel else "rgb"
    # BasicSR takes BGR uint8 [0, 255] (cv2's order).
    bgr_sr, bgr_hr = sr[..., ::-1], hr[..., ::-1]
    p = basicsr_metrics.calculate_psnr(bgr_sr, bgr_hr, 4, test_y_channel=y_channel)
    s = basicsr_metrics.calculate_ssim(bgr_sr, bgr_hr, 4, test_y_channel=y_channel)
    assert abs(ours[f"psnr_{key}"] - p) < 1e-4
    assert abs(ours[f"ssim_{key}"] - s) < 1e-5


def test_sr_scores_quantize_float_outputs_and_average():
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (30, 30, 3), np.uint8)
    out = hr / 255.0 + 0.4 / 255  # rounds back to hr: 8-bit quantization first
    scores = sr_scores(out, hr, 2)
    assert np.isinf(scores["psnr_rgb"]) and scores["psnr_y"] > 100 and scores["ssim_y"] == 1
    chex.assert_trees_all_close(
        to_unit(np.array([[[1.7, -1, 0.5]]])), np.array([[[1, 0, 128 / 255]]], np.float32)
    )
    table = {"a": {"psnr_y": 30.0, "ssim_y": 0.8, "psnr_rgb": 28.0, "ssim_rgb": 0.7}}
    table["b"] = {k: v + 2 for k, v in table["a"].items()}
    assert mean_scores(table)["psnr_y"] == 31.0
    with pytest.raises(ValueError, match="one shape"):
        sr_scores(hr, hr[:20], 4)
    with pytest.raises(ValueError, match=r"RGB image \(H, W, 3\)"):
        sr_scores(hr[..., 0], hr[..., 0], 4)


def test_photo_split_matches_the_protocol():
    assert set(PHOTO_SPLITS["test"]) == {"chelsea", "coffee", "grace_hopper"}
    train = set(PHOTO_SPLITS["train"])
    assert {"motorcycle_left", "motorcycle_right"} <= train  # the stereo pair on one side
    assert train | set(PHOTO_SPLITS["test"]) == {
        "astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right",
        "china", "flower", "grace_hopper",
    }  # fmt: skip


def test_pairs_are_aligned_crops_flipped_together():
    # Pixels hold their own coordinates: HR (y, x) and LR (y, x) on the LR grid.
    yy, xx = np.mgrid[:200, :240]
    hr = np.stack([yy, xx, np.zeros_like(yy)], -1).astype(np.uint8)  # values < 256
    lr = np.stack([yy[:50, :60], xx[:50, :60], np.zeros((50, 60), int)], -1).astype(np.uint8)
    src = sr_pairs.SRPairs(32, 4, hr_images=[hr], lr_images=[lr], length=20, seed=1)
    for i in range(20):
        rec = src[i]
        chex.assert_shape((rec["hr"], rec["lr"]), [(32, 32, 3), (8, 8, 3)])
        blocks = rec["hr"].reshape(8, 4, 8, 4, 3).astype(int)
        lo, hi = blocks.min(axis=(1, 3)), blocks.max(axis=(1, 3))
        # each HR 4x4 block covers the HR pixels of the LR pixel at the same place
        np.testing.assert_array_equal(lo[..., :2], 4 * rec["lr"][..., :2].astype(int))
        np.testing.assert_array_equal(hi[..., :2], 4 * rec["lr"][..., :2].astype(int) + 3)
    chex.assert_trees_all_equal(src[7], src[7])  # a pure function of (seed, index)


def test_modcrop_and_bicubic_lr(matlab):
    hr = np.random.default_rng(4).integers(0, 256, (43, 38, 3), np.uint8)
    cropped = sr_pairs.modcrop(hr, 4)
    chex.assert_shape(cropped, (40, 36, 3))
    lr = sr_pairs.bicubic_lr(cropped, 4)
    ref = np.clip(np.round(matlab.imresize(cropped / 255.0, 0.25) * 255), 0, 255)
    assert np.abs(lr.astype(int) - ref).max() <= 1  # float32 reference may round the other way
    with pytest.raises(ValueError, match="not a multiple of the scale 4: modcrop"):
        sr_pairs.bicubic_lr(hr, 4)
    with pytest.raises(ValueError, match=r"expected uint8 \(H, W, 3\)"):
        sr_pairs.bicubic_lr(cropped.astype(np.float32), 4)


def test_pairs_from_given_images_and_bad_sizes():
    rng = np.random.default_rng(5)
    hrs = [rng.integers(0, 256, (42, 50, 3), np.uint8)]  # not a multiple of 4: cropped
    src = sr_pairs.SRPairs(16, 4, hr_images=hrs, length=3)
    chex.assert_shape(src[2]["lr"], (4, 4, 3))
    with pytest.raises(ValueError, match="hr_size a positive multiple of scale"):
        sr_pairs.SRPairs(30, 4, length=3)
    with pytest.raises(ValueError, match="larger than photos"):
        sr_pairs.SRPairs(4000, 4)
    bad = sr_pairs.SRPairs(16, 4, hr_images=hrs, lr_images=[hrs[0][:5]], length=3)
    with pytest.raises(ValueError, match="is not 4x LR"):
        bad[0]


def test_read_folder_converts_and_names(tmp_path):
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.zeros((9, 8, 4), np.uint8)).save(tmp_path / "rgba.png")
    (tmp_path / "notes.txt").write_text("not an image")
    images, notes = read_folder(str(tmp_path))
    assert sorted(images) == ["grey", "rgba"] and len(notes) == 2
    chex.assert_shape(images["grey"], (9, 8, 3))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        read_folder(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        read_folder(str(tmp_path / "missing"))
