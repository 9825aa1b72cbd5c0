"""Record specs: the shape and dtype each field of a source record must have."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Shape = tuple[int | None, ...]


class RecordSpec:
    """Expected shape and dtype per field; ``None`` in a shape matches any size.

    Example: ``RecordSpec(image=((28, 28, 1), np.uint8), label=((), np.int64))``. Fields not named
    in the spec are allowed and not checked.
    """

    def __init__(self, **fields: tuple[Shape, Any]):
        if not fields:
            raise ValueError("RecordSpec needs at least one field")
        self.fields: dict[str, tuple[Shape, np.dtype]] = {
            name: (tuple(shape), np.dtype(dtype)) for name, (shape, dtype) in fields.items()
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_fmt(s, d)}" for k, (s, d) in self.fields.items())
        return f"RecordSpec({inner})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordSpec) and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(tuple(self.fields.items()))


def _fmt(shape: tuple, dtype: np.dtype) -> str:
    return f"{tuple(shape)} {np.dtype(dtype).name}"


def _shape_matches(actual: tuple[int, ...], expected: Shape) -> bool:
    return len(actual) == len(expected) and all(
        e is None or a == e for a, e in zip(actual, expected, strict=True)
    )


def validate_record(example: Mapping[str, Any], spec: RecordSpec) -> None:
    """Raise ``ValueError`` naming the field, the expected and the actual shape/dtype on mismatch.

    Cheap enough to run on every record: it reads only ``.shape`` and ``.dtype``.
    """
    if not isinstance(example, Mapping):
        raise ValueError(f"record must be a dict of arrays, got {type(example).__name__}")
    for name, (shape, dtype) in spec.fields.items():
        if name not in example:
            raise ValueError(
                f"field {name!r}: expected {_fmt(shape, dtype)}, but the record has no such field "
                f"(fields: {sorted(example)})"
            )
        value = example[name]
        actual_shape = tuple(np.shape(value))
        actual_dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
        if not _shape_matches(actual_shape, shape) or actual_dtype != dtype:
            raise ValueError(
                f"field {name!r}: expected shape {_fmt(shape, dtype)}, "
                f"got {_fmt(actual_shape, actual_dtype)}"
            )
