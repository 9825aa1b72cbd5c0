"""Data: random-access sources, numpy transforms and grain pipelines."""

from jaxdl.data.catalog import get_source, source_names
from jaxdl.data.pipeline import eval_batches, make_pipeline
from jaxdl.data.sources import PHOTOS, ArraySource, digits, image_patches, mnist5k, split_indices
from jaxdl.data.tfds_source import DatasetNotFoundError, TfdsSource, tfds_source
from jaxdl.data.transforms import (
    COCO_MEAN,
    COCO_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Compose,
    OneHot,
    PadTo,
    RandomCrop,
    RandomFlip,
    Resize,
    ScaleToSymmetric,
    Standardize,
    ToUnit,
    Transform,
)
from jaxdl.data.validate import RecordSpec, validate_record

__all__ = [
    "COCO_MEAN",
    "COCO_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PHOTOS",
    "ArraySource",
    "Compose",
    "DatasetNotFoundError",
    "OneHot",
    "PadTo",
    "RandomCrop",
    "RandomFlip",
    "RecordSpec",
    "Resize",
    "ScaleToSymmetric",
    "Standardize",
    "TfdsSource",
    "ToUnit",
    "Transform",
    "digits",
    "eval_batches",
    "get_source",
    "image_patches",
    "make_pipeline",
    "mnist5k",
    "source_names",
    "split_indices",
    "tfds_source",
    "validate_record",
]
