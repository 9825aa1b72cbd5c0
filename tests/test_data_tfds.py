"""TFDS sources through tfds.data_source, mocked with tfds.testing.mock_data (no TF, no network)."""

import chex
import numpy as np
import pytest
import tensorflow_datasets as tfds

from jaxdl import data


@pytest.fixture
def mock_tfds():
    with tfds.testing.mock_data(num_examples=20, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


@pytest.mark.parametrize(
    "name, transforms, record_shape, batch_shape",
    [
        ("cifar10", [data.RandomFlip(), data.ScaleToSymmetric()], (32, 32, 3), (32, 32, 3)),
        ("mnist", [data.PadTo(32), data.ScaleToSymmetric()], (28, 28, 1), (32, 32, 1)),
    ],
)
def test_tfds_source_through_pipeline(mock_tfds, name, transforms, record_shape, batch_shape):
    source = data.tfds_source(name, "train")
    assert isinstance(source, data.TfdsSource) and len(source) == 20
    assert source.num_classes == 10
    assert source.spec == data.RecordSpec(image=(record_shape, np.uint8), label=((), np.int64))
    record = source[0]
    assert set(record) == {"image", "label"}
    data.validate_record(record, source.spec)
    batches = list(
        data.make_pipeline(
            source, transforms, global_batch_size=8, num_epochs=1, process_index=0, process_count=1
        )
    )
    assert len(batches) == 2  # 20 examples, the last 4 dropped with the remainder
    for batch in batches:
        chex.assert_shape([batch["image"], batch["label"]], [(8, *batch_shape), (8,)])
        chex.assert_type([batch["image"], batch["label"]], [np.float32, np.int64])
        assert -1 <= batch["image"].min() and batch["image"].max() <= 1
        assert ((0 <= batch["label"]) & (batch["label"] < 10)).all()
    # In order and without random transforms, batch rows are the transformed records.
    ordered = next(
        iter(data.eval_batches(source, transforms[1:], 8, process_count=1, process_index=0))
    )
    for i in (0, 7):
        expected = transforms[-1](source[i], np.random.default_rng(0))
        chex.assert_trees_all_close(ordered["image"][i], expected["image"])
        assert ordered["label"][i] == expected["label"]


def test_get_source_routes_tfds_names(mock_tfds):
    for name in ("cifar10", "tfds:cifar10"):
        source = data.get_source(name, "test")
        assert source.name == "cifar10:test" and source.spec.fields["image"][0] == (32, 32, 3)


def test_not_prepared_without_download_raises_helpful_error(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.tfds_source("cifar10", "train", data_dir=str(tmp_path))
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for needle in (
        str(tmp_path),
        "not prepared",
        "download=False",
        "tfds build cifar10",
        "--config.data.data_dir",
        "TFDS_DATA_DIR",
        "--preset quick",
    ):
        assert needle in message


def test_failed_download_raises_helpful_error(tmp_path, monkeypatch):
    def no_network(self, *args, **kwargs):
        raise ConnectionError("no network in this sandbox")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_network)
    with pytest.raises(data.DatasetNotFoundError, match="downloading it failed") as info:
        data.get_source("mnist", "test", data_dir=str(tmp_path), download=True)
    assert isinstance(info.value.__cause__, ConnectionError)
