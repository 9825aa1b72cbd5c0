"""Look up a source by name: embedded sets, or TFDS datasets as ``tfds:NAME``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaxdl.data import sources
from jaxdl.data.tfds_source import tfds_source

EMBEDDED: dict[str, Callable[..., Any]] = {
    "mnist5k": sources.mnist5k,
    "digits": sources.digits,
    "image_patches": sources.image_patches,
}
# TFDS datasets also accepted without the "tfds:" prefix.
TFDS_SHORT_NAMES = ("mnist", "cifar10", "fashion_mnist", "cifar100")


def source_names() -> list[str]:
    """Valid names for `get_source` (any ``tfds:NAME`` with image/label features works too)."""
    return [*EMBEDDED, *TFDS_SHORT_NAMES, "tfds:NAME"]


def get_source(name: str, split: str = "train", **kwargs: Any):
    """``get_source("mnist5k", "test")``, ``get_source("tfds:cifar10", "train", data_dir=...)``.

    ``kwargs`` go to the source factory (e.g. ``size`` for image_patches, ``data_dir`` and
    ``download`` for TFDS).
    """
    if name in EMBEDDED:
        return EMBEDDED[name](split=split, **kwargs)
    if name.startswith("tfds:") or name in TFDS_SHORT_NAMES:
        return tfds_source(name.removeprefix("tfds:"), split, **kwargs)
    raise ValueError(f"unknown data source {name!r}; valid names: {', '.join(source_names())}")
