"""Bundled restoration photos: the fixed split, reproducible crops, reading users' images."""

import chex
import numpy as np
import pytest
import skimage.data
from PIL import Image
from sklearn.datasets import load_sample_image

from jaxdl.data import photos as ph
from jaxdl.images import read_rgb


def test_split_is_fixed_disjoint_and_keeps_the_stereo_pair_together():
    train, test = ph.photos("train"), ph.photos("test")
    assert not set(train) & set(test)
    assert set(train) | set(test) == set(ph.PHOTO_NAMES) == set(ph.photos("all"))
    assert {"motorcycle_left", "motorcycle_right"} <= set(train)
    for name, image in {**train, **test}.items():
        chex.assert_rank(image, 3)
        chex.assert_type(image, np.uint8)
        assert image.shape[-1] == 3 and min(image.shape[:2]) >= 256, name
    np.testing.assert_array_equal(test["chelsea"], skimage.data.chelsea())
    np.testing.assert_array_equal(train["motorcycle_right"], skimage.data.stereo_motorcycle()[1])
    np.testing.assert_array_equal(train["china"], load_sample_image("china.jpg"))
    with pytest.raises(ValueError, match="bundled photos are"):
        ph.load_photo("lena")
    with pytest.raises(ValueError, match="split must be"):
        ph.photos("valid")


def test_crops_are_reproducible_come_from_train_photos_and_cover_them():
    crops = ph.PhotoCrops(48, length=400, seed=3)
    again = ph.PhotoCrops(48, length=400, seed=3)
    other = ph.PhotoCrops(48, length=400, seed=4)
    a = np.stack([crops[i]["image"] for i in range(400)])
    chex.assert_shape(a, (400, 48, 48, 3))
    chex.assert_type(a, np.uint8)
    np.testing.assert_array_equal(a[17], again[17]["image"])
    assert not np.array_equal(a[17], other[17]["image"])
    # Without augmentation every crop is found verbatim in one of the training photos.
    plain = ph.PhotoCrops(32, length=20, augment=False, names=("chelsea",))
    cat = ph.load_photo("chelsea")
    for i in range(20):
        c = plain[i]["image"]
        hits = np.argwhere((cat[:-31, :-31] == c[0, 0]).all(-1))
        assert any(np.array_equal(cat[y : y + 32, x : x + 32], c) for y, x in hits)
    # Area-proportional choice: mean intensity over many crops is close to the pixel mean.
    train = list(ph.photos("train").values())
    pixel_mean = sum(float(img.sum()) for img in train) / sum(img.size for img in train)
    assert abs(a.mean() - pixel_mean) < 15
    with pytest.raises(ValueError, match="larger than photos"):
        ph.PhotoCrops(450)
    with pytest.raises(IndexError):
        crops[400]
    # Any sequence of images, read lazily, image i % n for record i.
    seq = [np.full((40, 50, 3), v, np.uint8) for v in (10, 20, 30)]
    lazy = ph.PhotoCrops(32, images=seq, length=6, augment=False)
    assert [int(lazy[i]["image"][0, 0, 0]) for i in range(6)] == [10, 20, 30, 10, 20, 30]
    with pytest.raises(ValueError, match=r"image 1: expected uint8 \(H, W, 3\)"):
        ph.PhotoCrops(32, images=[seq[0], np.zeros((40, 50), np.uint8)], length=4)[1]


def test_read_rgb_converts_grey_and_alpha_with_a_note(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    image, note = read_rgb(str(tmp_path / "rgb.png"))
    np.testing.assert_array_equal(image, rgb)
    assert note is None
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    image, note = read_rgb(str(tmp_path / "grey.png"))
    np.testing.assert_array_equal(image, np.repeat(rgb[..., :1], 3, -1))
    assert "single-channel" in note
    rgba = np.concatenate([rgb, np.zeros((20, 30, 1), np.uint8)], -1)  # fully transparent
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    image, note = read_rgb(str(tmp_path / "rgba.png"))
    np.testing.assert_array_equal(image, np.full_like(rgb, 255))
    assert "alpha" in note
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        read_rgb(str(tmp_path / "bad.png"))
    with pytest.raises(FileNotFoundError, match="no image file"):
        read_rgb(str(tmp_path / "missing.png"))
