"""Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): records, mode ids, seeding, bad input."""

import chex
import numpy as np
import pytest

from jaxdl import data, gan
from jaxdl.data.stacked_mnist import NUM_MODES, StackedMNIST, stacked_mnist


def test_records_stack_three_digits_with_their_mode_as_label():
    src = stacked_mnist("train", size=300, seed=3)
    digits = data.mnist5k("train")
    assert len(src) == 300 and src.num_classes == NUM_MODES == 1000
    for i in (0, 17, 299):
        r = src[i]
        chex.assert_shape(r["image"], (28, 28, 3))
        assert r["image"].dtype == np.uint8 and r["label"].dtype == np.int64
        data.validate_record(r, src.spec)
        a, b, c = src.triples[i]
        for k, j in enumerate((a, b, c)):  # channel k is digit j of the base split
            np.testing.assert_array_equal(r["image"][..., k], digits[int(j)]["image"][..., 0])
        la, lb, lc = (int(digits[int(j)]["label"]) for j in (a, b, c))
        assert int(r["label"]) == 100 * la + 10 * lb + lc


def test_mode_ids_agree_with_stacked_mnist_modes():
    src = stacked_mnist("test", size=2000, seed=0)
    labels3 = src.digit_labels()
    chex.assert_shape(labels3, (2000, 3))
    modes = np.array([src[i]["label"] for i in range(len(src))])
    counts = np.bincount(modes, minlength=NUM_MODES)
    q = counts[counts > 0] / counts.sum()
    expected = gan.stacked_mnist_modes(labels3)
    assert expected["modes_covered"] == np.count_nonzero(counts)
    np.testing.assert_allclose(expected["kl_to_uniform"], np.sum(q * np.log(NUM_MODES * q)))
    # 2,000 uniform draws over 1,000 modes cover 1000·(1 − e^−2) ≈ 865 of them on average
    assert 800 < expected["modes_covered"] < 930


def test_seeds_and_splits_give_different_triples():
    a, b = stacked_mnist("train", 50, seed=0), stacked_mnist("train", 50, seed=0)
    np.testing.assert_array_equal(a.triples, b.triples)
    assert not np.array_equal(a.triples, stacked_mnist("train", 50, seed=1).triples)
    test = stacked_mnist("test", 50, seed=0)
    assert test.triples.max() < len(data.mnist5k("test")) <= len(data.mnist5k("train"))
    assert not np.array_equal(a.triples, test.triples)


def test_bad_input_is_named():
    rgb = data.ArraySource(np.zeros((4, 8, 8, 3), np.uint8), np.zeros(4), num_classes=10, name="x")
    with pytest.raises(ValueError, match="single-channel digits with 10 classes"):
        StackedMNIST(rgb, 10)
    with pytest.raises(ValueError, match="size must be >= 1"):
        stacked_mnist("train", size=0)
    with pytest.raises(ValueError, match="split must be one of"):
        stacked_mnist("valid", size=5)
