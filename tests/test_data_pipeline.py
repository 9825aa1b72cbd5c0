"""make_pipeline / eval_batches: order, epochs, process split, resume, workers, errors."""

import json

import chex
import numpy as np
import pytest

from jaxdl import data


def _coded(n: int, size: int = 6) -> data.ArraySource:
    """Example i has label i and an image whose pixels encode i, so batches show their indices."""
    images = (
        np.arange(n, dtype=np.uint8)[:, None, None, None]
        + np.arange(size * size * 3).reshape(1, size, size, 3)
    ).astype(np.uint8)
    return data.ArraySource(images, np.arange(n), num_classes=n, name=f"coded{n}")


def _take(pipeline, k):
    it = iter(pipeline)
    return [next(it) for _ in range(k)]


def _pipe(source, transforms=(), **kw):
    kw = {"process_index": 0, "process_count": 1, **kw}
    return data.make_pipeline(source, transforms, **kw)


def test_mnist5k_batches_shapes_and_values():
    source = data.mnist5k("train")
    batch = _take(
        _pipe(
            source, [data.ScaleToSymmetric(), data.PadTo(32)], global_batch_size=16, shuffle=False
        ),
        1,
    )[0]
    chex.assert_shape(batch["image"], (16, 32, 32, 1))
    chex.assert_type([batch["image"], batch["label"]], [np.float32, np.int64])
    chex.assert_shape(batch["label"], (16,))
    np.testing.assert_array_equal(batch["label"], source.labels[:16])
    np.testing.assert_allclose(
        batch["image"][3, 2:30, 2:30], source.images[3] / 127.5 - 1, atol=1e-6
    )
    assert batch["image"].min() == -1


def test_epochs_are_reshuffled_permutations():
    source = _coded(12)
    labels = np.concatenate([b["label"] for b in _take(_pipe(source, global_batch_size=4), 9)])
    epochs = labels.reshape(3, 12)
    for e in epochs:
        np.testing.assert_array_equal(np.sort(e), np.arange(12))
    assert len({tuple(e) for e in epochs}) == 3, "every epoch must have its own order"
    again = np.concatenate([b["label"] for b in _take(_pipe(source, global_batch_size=4), 9)])
    np.testing.assert_array_equal(labels, again)
    other = np.concatenate(
        [b["label"] for b in _take(_pipe(source, global_batch_size=4, seed=1), 3)]
    )
    assert not np.array_equal(other, labels[:12])
    ordered = _take(_pipe(source, global_batch_size=4, shuffle=False), 6)
    np.testing.assert_array_equal(
        np.concatenate([b["label"] for b in ordered]), np.tile(np.arange(12), 2)
    )


@pytest.mark.parametrize("process_count", [2, 4])
def test_process_split_concatenates_to_single_process(process_count):
    source = _coded(20, size=8)
    transforms = [data.RandomCrop(8, padding=2), data.RandomFlip(), data.ScaleToSymmetric()]
    kw = {"global_batch_size": 8, "seed": 3}
    single = _take(_pipe(source, transforms, **kw), 5)
    per_process = [
        _take(_pipe(source, transforms, process_index=p, process_count=process_count, **kw), 5)
        for p in range(process_count)
    ]
    for step, full in enumerate(single):
        chex.assert_shape(per_process[0][step]["image"], (8 // process_count, 8, 8, 3))
        joined = {k: np.concatenate([pp[step][k] for pp in per_process]) for k in full}
        chex.assert_trees_all_equal(joined, full)
    # The random transforms really did something, differently per example.
    plain = _take(_pipe(source, [data.ScaleToSymmetric()], **kw), 1)[0]
    assert not np.array_equal(plain["image"], single[0]["image"])


def test_get_state_set_state_resumes_bitwise():
    source = data.image_patches(16, "train")
    transforms = [data.RandomFlip(), data.RandomCrop(16, padding=2), data.ToUnit()]
    pipeline = _pipe(source, transforms, global_batch_size=8, seed=5)
    it = iter(pipeline)
    for _ in range(3):
        next(it)
    state = json.loads(json.dumps(it.get_state()))
    expected = [next(it) for _ in range(2)]
    resumed = iter(pipeline)
    resumed.set_state(state)
    chex.assert_trees_all_equal([next(resumed) for _ in range(2)], expected)


def test_workers_match_in_process_and_resume():
    source = _coded(40)
    transforms = [data.RandomFlip(), data.ScaleToSymmetric()]
    reference = _take(_pipe(source, transforms, global_batch_size=4, seed=7), 5)
    pipeline = _pipe(source, transforms, global_batch_size=4, seed=7, num_workers=2)
    it = iter(pipeline)
    first = [next(it) for _ in range(3)]
    state = json.loads(json.dumps(it.get_state()))
    rest = [next(it) for _ in range(2)]
    it.close()
    chex.assert_trees_all_equal(first + rest, reference)
    resumed = iter(pipeline)
    resumed.set_state(state)
    chex.assert_trees_all_equal([next(resumed) for _ in range(2)], reference[3:])
    resumed.close()


def test_eval_partial_last_batch_and_processes():
    source = _coded(10)
    sizes = [
        len(b["label"])
        for b in _pipe(
            source, global_batch_size=4, num_epochs=1, shuffle=False, drop_remainder=False
        )
    ]
    assert sizes == [4, 4, 2]
    p0 = list(data.eval_batches(source, (), 4, process_index=0, process_count=2))
    p1 = list(data.eval_batches(source, (), 4, process_index=1, process_count=2))
    assert [b["label"].tolist() for b in p0] == [[0, 1], [4, 5], [8, 9]]
    assert [b["label"].tolist() for b in p1] == [[2, 3], [6, 7]]
    padded = [
        list(data.eval_batches(source, (), 4, pad=True, process_index=p, process_count=2))
        for p in range(2)
    ]
    assert [len(x) for x in padded] == [3, 3]
    assert padded[1][2]["mask"].tolist() == [False, False]
    assert padded[0][2]["mask"].tolist() == [True, True]
    assert padded[0][0]["mask"].all() and padded[0][0]["label"].tolist() == [0, 1]
    assert list(data.eval_batches(source, (), 3))[-1]["label"].tolist() == [9]


def test_two_epochs_drop_remainder_and_defaults():
    source = _coded(10)
    batches = list(_pipe(source, global_batch_size=4, num_epochs=2))
    assert len(batches) == 5  # 20 examples; batches may span the epoch boundary
    counts = np.bincount(np.concatenate([b["label"] for b in batches]), minlength=10)
    np.testing.assert_array_equal(counts, np.full(10, 2))
    # process_index/count default to jax's (one process in tests).
    default = _take(data.make_pipeline(source, global_batch_size=4, seed=2), 2)
    chex.assert_trees_all_equal(default, _take(_pipe(source, global_batch_size=4, seed=2), 2))


def test_errors():
    empty = data.ArraySource(
        np.zeros((0, 2, 2, 1), np.uint8), np.zeros(0), num_classes=1, name="empty"
    )
    with pytest.raises(ValueError, match="is empty"):
        _pipe(empty, global_batch_size=4)
    with pytest.raises(ValueError, match="exceeds the 10 examples.*drop_remainder"):
        _pipe(_coded(10), global_batch_size=16, num_epochs=1)
    with pytest.raises(ValueError, match="multiple of process_count 3"):
        _pipe(_coded(10), global_batch_size=8, process_count=3)
    with pytest.raises(ValueError, match="process_index 2"):
        _pipe(_coded(10), global_batch_size=8, process_index=2, process_count=2)
    spec = data.RecordSpec(image=((6, 6, 1), np.uint8), label=((), np.int64))
    bad = _pipe(_coded(10), global_batch_size=2, spec=spec)
    with pytest.raises(
        ValueError,
        match=r"field 'image': expected shape \(6, 6, 1\) uint8, "
        r"got \(6, 6, 3\) uint8",
    ):
        next(iter(bad))
