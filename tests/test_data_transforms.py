"""Numpy transforms: exact values, randomness, and errors."""

import chex
import numpy as np
import pytest
import torch

from jaxdl import data

RNG = np.random.default_rng(0)


def _ex(image, label=3):
    return {"image": image, "label": np.int64(label)}


def _img(h=6, w=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def test_scale_to_symmetric_and_to_unit():
    x = np.array([0, 1, 127, 128, 255], np.uint8).reshape(1, 5, 1)
    y = data.ScaleToSymmetric()(_ex(x), RNG)["image"]
    chex.assert_type(y, np.float32)
    np.testing.assert_allclose(
        y.ravel(), [-1, 2 / 255 - 1, 254 / 255 - 1, 256 / 255 - 1, 1], atol=1e-6
    )
    u = data.ToUnit()(_ex(x), RNG)["image"]
    chex.assert_type(u, np.float32)
    np.testing.assert_allclose(u.ravel(), x.ravel() / 255, atol=1e-7)
    with pytest.raises(ValueError, match="uint8"):
        data.ScaleToSymmetric()(_ex(y), RNG)


@pytest.mark.parametrize(
    "mean, std", [(data.IMAGENET_MEAN, data.IMAGENET_STD), (data.COCO_MEAN, data.COCO_STD)]
)
def test_standardize(mean, std):
    x = data.ToUnit()(_ex(_img()), RNG)["image"]
    y = data.Standardize(mean, std)(_ex(x), RNG)["image"]
    chex.assert_type(y, np.float32)
    for c in range(3):
        np.testing.assert_allclose(y[..., c], (x[..., c] - mean[c]) / std[c], rtol=1e-6)
    # A pixel equal to the mean maps to 0, mean + std to 1.
    px = np.array([[mean, np.add(mean, std)]], np.float32)
    np.testing.assert_allclose(
        data.Standardize(mean, std)(_ex(px), RNG)["image"], [[[0, 0, 0], [1, 1, 1]]], atol=1e-6
    )
    with pytest.raises(ValueError, match="ToUnit"):
        data.Standardize(mean, std)(_ex(_img()), RNG)
    with pytest.raises(ValueError, match="1 channels"):
        data.Standardize(mean, std)(_ex(x[..., :1]), RNG)


def test_random_flip():
    x = _img()
    np.testing.assert_array_equal(data.RandomFlip(p=1.0)(_ex(x), RNG)["image"], x[:, ::-1])
    np.testing.assert_array_equal(data.RandomFlip(p=0.0)(_ex(x), RNG)["image"], x)
    flipped = [
        not np.array_equal(data.RandomFlip()(_ex(x), np.random.default_rng(s))["image"], x)
        for s in range(400)
    ]
    assert 150 < sum(flipped) < 250


def test_random_crop():
    x = _img(8, 8)
    offsets = set()
    for s in range(200):
        y = data.RandomCrop(8, padding=2)(_ex(x), np.random.default_rng(s))["image"]
        chex.assert_shape(y, (8, 8, 3))
        padded = np.pad(x, ((2, 2), (2, 2), (0, 0)))
        hits = [
            (t, left)
            for t in range(5)
            for left in range(5)
            if np.array_equal(padded[t : t + 8, left : left + 8], y)
        ]
        assert hits, "crop is not a window of the padded image"
        offsets.add(hits[0])
    assert len(offsets) == 25
    y = data.RandomCrop((4, 6))(_ex(x), RNG)["image"]
    chex.assert_shape(y, (4, 6, 3))
    with pytest.raises(ValueError, match="larger than padded image"):
        data.RandomCrop(9)(_ex(x), RNG)


def test_pad_to():
    x = _img(28, 28, 1)
    y = data.PadTo(32)(_ex(x), RNG)["image"]
    chex.assert_shape(y, (32, 32, 1))
    chex.assert_type(y, np.uint8)
    np.testing.assert_array_equal(y[2:30, 2:30], x)
    assert y[:2].sum() == 0 and y[30:].sum() == 0 and y[:, :2].sum() == 0
    odd = data.PadTo((5, 4), value=7)(_ex(_img(2, 2, 1)), RNG)["image"]
    np.testing.assert_array_equal(
        odd[:, :, 0] == 7,
        np.array([[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1], [1, 1, 1, 1]], bool),
    )
    edge = data.PadTo(30, mode="edge")(_ex(x), RNG)["image"]
    np.testing.assert_array_equal(edge[0, 1:29], x[0])
    with pytest.raises(ValueError, match="larger than"):
        data.PadTo(16)(_ex(x), RNG)


def test_resize_matches_torch_bilinear():
    x = data.ToUnit()(_ex(_img(7, 10)), RNG)["image"]
    for size in [(14, 20), (3, 4), (7, 10), (32, 5)]:
        y = data.Resize(size)(_ex(x), RNG)["image"]
        ref = torch.nn.functional.interpolate(
            torch.from_numpy(x).permute(2, 0, 1)[None], size, mode="bilinear", align_corners=False
        )
        chex.assert_trees_all_close(y, ref[0].permute(1, 2, 0).numpy(), atol=1e-5)
    u = data.Resize(16)(_ex(_img(8, 8)), RNG)["image"]
    chex.assert_shape(u, (16, 16, 3))
    chex.assert_type(u, np.uint8)
    np.testing.assert_array_equal(data.Resize((8, 8))(_ex(_img(8, 8)), RNG)["image"], _img(8, 8))


def test_one_hot_and_compose():
    y = data.OneHot(10)(_ex(_img(), 3), RNG)["label"]
    np.testing.assert_array_equal(y, np.eye(10, dtype=np.float32)[3])
    chex.assert_type(y, np.float32)
    with pytest.raises(ValueError, match="outside"):
        data.OneHot(3)(_ex(_img(), 3), RNG)
    x = _img(28, 28, 1)
    example = _ex(x)
    out = data.Compose(data.PadTo(32), data.ScaleToSymmetric(), data.OneHot(10))(example, RNG)
    chex.assert_shape(out["image"], (32, 32, 1))
    np.testing.assert_allclose(out["image"][2:30, 2:30], x / 127.5 - 1, atol=1e-6)
    assert out["image"][0, 0, 0] == -1 and out["label"].shape == (10,)
    assert example["image"] is x and example["label"] == 3  # input untouched
