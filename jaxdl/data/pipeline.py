"""Grain input pipeline: shuffled, repeated global batches, split across processes.

The global stream is the sequence of example indices ``range(len(source))``, shuffled per epoch
(a new order each epoch, fixed by ``seed``) and repeated, cut into global batches of
``global_batch_size``. Process p of P gets rows ``[p*b, (p+1)*b)`` of every global batch, with
``b = global_batch_size // P``, so concatenating the processes' batches in process order gives
the single-process batch. Each example's transform ``rng`` is ``np.random.default_rng([seed,
position])``, with ``position`` its index in the global stream, so results do not depend on P or
on the number of workers. Batches may span an epoch boundary (like ``repeat().batch()``).
"""

from __future__ import annotations

from collections.abc import Sequence

import grain
import numpy as np
from absl import flags

from jaxdl.data.transforms import Compose, Transform
from jaxdl.data.validate import RecordSpec, validate_record

# Elements are whole batches, so keep the prefetch buffer short (grain's default is 500).
READ_OPTIONS = grain.ReadOptions(num_threads=4, prefetch_buffer_size=4)


def _shuffle_seed(seed: int) -> int:
    # grain reshuffles epoch e with seed + e; hashing keeps nearby seeds' epochs apart.
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def _with_position(position: int, index: int) -> tuple[int, int]:
    return position, index


class _LoadRows:
    """Global batch of (positions, indices) -> this process's rows, loaded, checked, transformed."""

    def __init__(
        self,
        source,
        transform: Transform,
        spec: RecordSpec | None,
        seed: int,
        rows: slice,
        pad_to: int | None,
    ):
        self.source, self.transform, self.spec = source, transform, spec
        self.seed, self.rows, self.pad_to = seed, rows, pad_to

    def __call__(self, batch: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        positions, indices = (np.asarray(a)[self.rows] for a in batch)
        n_real = len(positions)
        if self.pad_to is not None and n_real < self.pad_to:  # eval padding: repeat index 0
            pad = self.pad_to - n_real
            positions = np.concatenate([positions, np.full(pad, -1, positions.dtype)])
            indices = np.concatenate([indices, np.zeros(pad, indices.dtype)])
        out = []
        for pos, index in zip(positions, indices, strict=True):
            record = self.source[int(index)]
            if self.spec is not None:
                validate_record(record, self.spec)
            rng = np.random.default_rng([self.seed, max(int(pos), 0)])
            out.append(self.transform(record, rng))
        batch_out = {k: np.stack([np.asarray(r[k]) for r in out]) for k in out[0]}
        if self.pad_to is not None:
            batch_out["mask"] = np.arange(len(out)) < n_real
        return batch_out


def _build(
    source,
    transforms: Transform | Sequence[Transform],
    *,
    global_batch_size: int,
    seed: int,
    shuffle: bool,
    num_epochs: int | None,
    drop_remainder: bool,
    process_index: int | None,
    process_count: int | None,
    num_workers: int,
    spec: RecordSpec | None,
    pad_final: bool,
) -> grain.IterDataset:
    n = len(source)
    if n == 0:
        raise ValueError(f"source {source!r} is empty")
    if process_index is None or process_count is None:
        import jax

        process_index = jax.process_index() if process_index is None else process_index
        process_count = jax.process_count() if process_count is None else process_count
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index {process_index} not in [0, {process_count})")
    if global_batch_size <= 0 or global_batch_size % process_count:
        raise ValueError(
            f"global_batch_size {global_batch_size} must be a positive multiple of "
            f"process_count {process_count}"
        )
    if num_epochs is not None and num_epochs <= 0:
        raise ValueError(f"num_epochs must be positive or None, got {num_epochs}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    stream_len = None if num_epochs is None else n * num_epochs
    if drop_remainder and stream_len is not None and stream_len < global_batch_size:
        raise ValueError(
            f"global_batch_size {global_batch_size} exceeds the {stream_len} examples of "
            f"{num_epochs} epoch(s) of {source!r}: drop_remainder=True would yield no batch"
        )
    spec = getattr(source, "spec", None) if spec is None else spec
    b = global_batch_size // process_count
    transform = transforms if callable(transforms) else Compose(*transforms)

    ds = grain.MapDataset.range(n)
    if shuffle:
        ds = ds.shuffle(_shuffle_seed(seed))
    ds = ds.repeat(num_epochs)  # reseeds the shuffle each epoch
    ds = ds.map_with_index(_with_position)
    ds = ds.batch(global_batch_size, drop_remainder=drop_remainder)
    if stream_len is not None and not drop_remainder and not pad_final:
        # The last global batch may not reach this process's rows: stop before it.
        rest = stream_len % global_batch_size
        if rest and rest <= process_index * b:
            ds = ds[: len(ds) - 1]
    rows = slice(process_index * b, (process_index + 1) * b)
    ds = ds.map(_LoadRows(source, transform, spec, seed, rows, b if pad_final else None))
    it = ds.to_iter_dataset(READ_OPTIONS)
    if num_workers > 0:
        # grain 0.2.18 reads an absl flag in mp_prefetch and fails when flags are unparsed (plain
        # scripts, pytest): google/grain#1355, fixed upstream. absl.app.run parses them anyway.
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers))
    return it


def make_pipeline(
    source,
    transforms: Transform | Sequence[Transform] = (),
    *,
    global_batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    num_epochs: int | None = None,
    drop_remainder: bool = True,
    process_index: int | None = None,
    process_count: int | None = None,
    num_workers: int = 0,
    spec: RecordSpec | None = None,
) -> grain.IterDataset:
    """This process's batches: dicts of stacked arrays with leading dim global_batch_size // P.

    ``source``: random-access records (``__len__``, ``__getitem__``). ``num_epochs=None`` repeats
    forever. ``process_index``/``process_count`` default to jax's. ``num_workers > 0`` maps
    batches in that many worker processes (``mp_prefetch``). Every source record is checked
    against ``spec`` (default ``source.spec`` if any). ``iter(...)`` is a grain
    ``DatasetIterator``: ``get_state()`` is JSON-serializable, ``set_state`` resumes at the next
    batch. For evaluation use ``num_epochs=1, shuffle=False, drop_remainder=False`` (a final
    partial batch; with P > 1 a process whose rows it does not reach gets one batch fewer), or
    `eval_batches`.
    """
    return _build(
        source,
        transforms,
        global_batch_size=global_batch_size,
        seed=seed,
        shuffle=shuffle,
        num_epochs=num_epochs,
        drop_remainder=drop_remainder,
        process_index=process_index,
        process_count=process_count,
        num_workers=num_workers,
        spec=spec,
        pad_final=False,
    )


def eval_batches(
    source,
    transforms: Transform | Sequence[Transform] = (),
    batch_size: int = 256,
    *,
    pad: bool = False,
    process_index: int | None = None,
    process_count: int | None = None,
    num_workers: int = 0,
    spec: RecordSpec | None = None,
) -> grain.IterDataset:
    """One pass over ``source`` in order, ``batch_size`` global; the last batch may be partial.

    ``pad=True`` instead fills the last batch up to full size (every process gets the same number
    of full batches, so shapes are static) and adds ``"mask"`` (b,) bool, False on the filler rows.
    """
    return _build(
        source,
        transforms,
        global_batch_size=batch_size,
        seed=0,
        shuffle=False,
        num_epochs=1,
        drop_remainder=False,
        process_index=process_index,
        process_count=process_count,
        num_workers=num_workers,
        spec=spec,
        pad_final=pad,
    )
