"""TFDS datasets read through ``tfds.data_source`` (ArrayRecord, no TensorFlow at run time)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxdl.data.validate import RecordSpec


class DatasetNotFoundError(FileNotFoundError):
    """A TFDS dataset is neither prepared in the data dir nor downloadable here."""


def _not_found_message(name: str, data_dir: str, download: bool) -> str:
    tried = "downloading it failed" if download else "download=False"
    return (
        f"TFDS dataset {name!r} is not prepared in {data_dir} ({tried}). Fixes: prepare it on a "
        f"machine with network (`tfds build {name} --file_format=array_record`), then pass its "
        "data dir (`--config.data.data_dir=DIR` or the TFDS_DATA_DIR environment variable); or use "
        "an embedded dataset instead (`--preset quick`, e.g. mnist5k, digits, image_patches)."
    )


class TfdsSource:
    """Random-access ``{"image": uint8 (H, W, C), "label": int64}`` view of a TFDS split."""

    def __init__(self, data_source: Any, *, name: str, split: str, info: Any):
        features = info.features
        if "image" not in features or "label" not in features:
            raise ValueError(f"{name!r} has no 'image'/'label' features: {list(features)}")
        shape = tuple(features["image"].shape)
        if len(shape) == 2:
            shape = (*shape, 1)
        self._ds = data_source
        self.name = f"{name}:{split}"
        self.num_classes = features["label"].num_classes
        self.spec = RecordSpec(image=(shape, np.uint8), label=((), np.int64))

    def __len__(self) -> int:
        return len(self._ds)

    @staticmethod
    def _normalize(record: dict[str, Any]) -> dict[str, np.ndarray]:
        image = np.asarray(record["image"])
        if image.ndim == 2:
            image = image[..., None]
        return {"image": image.astype(np.uint8, copy=False), "label": np.int64(record["label"])}

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self._normalize(self._ds[index])

    def __repr__(self) -> str:
        return f"TfdsSource({self.name!r}, n={len(self)}, spec={self.spec})"


def tfds_source(
    name: str, split: str = "train", data_dir: str | None = None, *, download: bool = False
) -> TfdsSource:
    """``tfds.data_source(name, split=split, data_dir=data_dir)`` as a `TfdsSource`.

    ``data_dir=None`` means TFDS's default (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
    Works for any dataset with ``image`` and ``label`` features (``mnist``, ``cifar10``, ...).
    Raises `DatasetNotFoundError` when the split is not prepared there and ``download`` is False
    or the download fails.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    try:
        ds = tfds.data_source(name, split=split, data_dir=data_dir, download=download)
    except Exception as e:  # re-raised as is unless the data is simply missing
        if builder.is_prepared():
            raise
        raise DatasetNotFoundError(_not_found_message(name, str(builder.data_dir), download)) from e
    return TfdsSource(ds, name=name, split=split, info=builder.info)


class TfdsImages:
    """Lazy random-access uint8 (H, W, C) images of one feature of a TFDS split (e.g. DIV2K's
    ``hr``), for sources such as `jaxdl.data.photos.PhotoCrops(images=...)`."""

    def __init__(self, name: str, split: str, key: str, data_dir: str | None = None):
        import tensorflow_datasets as tfds

        builder = tfds.builder(name, data_dir=data_dir)
        try:
            self._ds = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
        except Exception as e:
            if builder.is_prepared():
                raise
            raise DatasetNotFoundError(
                _not_found_message(name, str(builder.data_dir), False)
            ) from e
        features = builder.info.features
        if key not in features:
            raise ValueError(f"{name!r} has no feature {key!r}; features: {sorted(features)}")
        self.key, self.name = key, f"{name}:{split}"

    def __len__(self) -> int:
        return len(self._ds)

    def __getitem__(self, index: int) -> np.ndarray:
        return np.asarray(self._ds[index][self.key], np.uint8)
