"""Classification metrics and streaming states vs scikit-learn (zero_division=0). SPEC: SEQ-5."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from sklearn import metrics as skm

from jaxdl import metrics
from jaxdl.metrics import streaming

AVERAGES = ["macro", "micro", "weighted", None]
SK = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}
# Scores lie in [0, 1] and are computed in float32: a few roundings of at most 3e-8 each
# (measured: 3.7e-8 at most; docs/losses_metrics.md).
TOL = 1.5e-7


@functools.partial(jax.jit, static_argnames=("num_classes", "average"))
def all_prf(y_true, y_pred, num_classes, average):
    kw = dict(num_classes=num_classes, average=average)
    return {
        "precision": metrics.precision(y_true, y_pred, **kw),
        "recall": metrics.recall(y_true, y_pred, **kw),
        "f1": metrics.f1_score(y_true, y_pred, **kw),
        "accuracy": metrics.accuracy(y_true, y_pred),
    }


compute = jax.jit(streaming.compute)
update = jax.jit(streaming.update, static_argnames="ignore_index")


def sk_prf(y_true, y_pred, average, num_classes=None):
    labels = None
    if average is None and num_classes is not None:
        labels = list(range(num_classes))  # per class, absent classes included (as 0)
    return {
        k: fn(y_true, y_pred, average=average, labels=labels, zero_division=0)
        for k, fn in SK.items()
    }


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(1, 40),
    k=st.integers(2, 6),
    seed=st.integers(0, 2**31 - 1),
    average=st.sampled_from(AVERAGES),
)
def test_multiclass_matches_sklearn(n, k, seed, average):
    rng = np.random.default_rng(seed)
    # Draw from a subset of the classes so some are absent from the batch.
    present = rng.choice(k, size=rng.integers(1, k + 1), replace=False)
    y_true, y_pred = rng.choice(present, size=n), rng.choice(present, size=n)
    ours = all_prf(y_true, y_pred, k, average)
    ref = sk_prf(y_true, y_pred, average, k)
    ref["accuracy"] = skm.accuracy_score(y_true, y_pred)
    for key in ours:
        np.testing.assert_allclose(ours[key], ref[key], rtol=0, atol=TOL, err_msg=key)


def test_binary_matches_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    ours = all_prf(y_true, y_pred, 2, "binary")
    ref = sk_prf(y_true, y_pred, "binary")
    ref["accuracy"] = skm.accuracy_score(y_true, y_pred)
    for key, val in ref.items():
        np.testing.assert_allclose(ours[key], val, rtol=0, atol=TOL)
    # Nothing predicted positive: precision 0 (zero_division=0), as scikit-learn.
    zeros = np.zeros(50, int)
    np.testing.assert_allclose(metrics.precision(y_true, zeros), 0.0)


@pytest.mark.parametrize("average", AVERAGES)
def test_multilabel_matches_sklearn(average):
    rng = np.random.default_rng(1)
    y_true = (rng.uniform(size=(30, 6)) > 0.6).astype(int)
    y_pred = (rng.uniform(size=(30, 6)) > 0.5).astype(int)
    y_true[:, 2] = y_pred[:, 2] = 0  # a label nobody has: F1 0, counted in macro
    ours = all_prf(y_true, y_pred, None, average)
    for key, val in sk_prf(y_true, y_pred, average).items():
        np.testing.assert_allclose(ours[key], val, rtol=0, atol=TOL, err_msg=key)
    np.testing.assert_allclose(
        metrics.accuracy(y_true, y_pred), skm.accuracy_score(y_true, y_pred), rtol=0, atol=TOL
    )
    np.testing.assert_array_equal(
        metrics.multilabel_confusion_matrix(y_true, y_pred),
        skm.multilabel_confusion_matrix(y_true, y_pred),
    )


def test_roc_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(2)
    auc = jax.jit(metrics.roc_auc)
    for n, levels in [(200, 5), (57, 1000), (9, 2)]:
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = rng.integers(0, levels, n) / levels  # few levels: many ties
        np.testing.assert_allclose(auc(y, s), skm.roc_auc_score(y, s), rtol=0, atol=TOL)
    assert np.isnan(auc(np.ones(5, int), np.arange(5.0)))


def _sk_stream_reference(y_true, y_pred, k):
    return {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "f1_macro": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "precision_micro": skm.precision_score(y_true, y_pred, average="micro", zero_division=0),
        "recall": skm.recall_score(
            y_true, y_pred, average=None, labels=list(range(k)), zero_division=0
        ),
        "mean_iou": skm.jaccard_score(y_true, y_pred, average="macro", zero_division=0),
    }


def test_streaming_batches_and_merge_equal_one_shot_and_sklearn():
    rng = np.random.default_rng(3)
    k, n = 5, 96
    y_true, y_pred = rng.integers(0, k - 1, n), rng.integers(0, k - 1, n)  # class 4 absent
    update_once = jax.jit(chex.assert_max_traces(streaming.update, n=1))
    halves = []
    for part in np.split(np.arange(n), 2):
        state = streaming.init(k)
        for idx in np.split(part, 4):  # 4 batches of 12
            state = update_once(state, y_true[idx], y_pred[idx])
        halves.append(state)
    merged = streaming.merge(*halves)
    one_shot = jax.jit(streaming.update)(streaming.init(k), y_true, y_pred)
    chex.assert_trees_all_equal(merged, one_shot)
    np.testing.assert_array_equal(
        merged.counts, skm.confusion_matrix(y_true, y_pred, labels=list(range(k)))
    )
    out = compute(merged)
    for key, val in _sk_stream_reference(y_true, y_pred, k).items():
        np.testing.assert_allclose(out[key], val, rtol=0, atol=TOL, err_msg=key)


def test_streaming_multilabel():
    rng = np.random.default_rng(4)
    y_true = (rng.uniform(size=(40, 4)) > 0.5).astype(int)
    y_pred = (rng.uniform(size=(40, 4)) > 0.5).astype(int)
    a = update(streaming.init(4, multilabel=True), y_true[:20], y_pred[:20])
    b = update(streaming.init(4, multilabel=True), y_true[20:], y_pred[20:])
    out = compute(streaming.merge(a, b))
    np.testing.assert_allclose(
        out["accuracy"], skm.accuracy_score(y_true, y_pred), rtol=0, atol=TOL
    )
    np.testing.assert_allclose(
        out["f1_macro"],
        skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        rtol=0,
        atol=TOL,
    )


def test_streaming_update_sharded_over_8_devices():
    devices = np.array(jax.devices()[:8])
    assert devices.size == 8
    mesh = Mesh(devices, ("data",))
    data = NamedSharding(mesh, P("data"))
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 3, (64, 4, 4)), rng.integers(0, 3, (64, 4, 4))
    y_true[0, 0, :2] = 255  # ignored pixels
    state = jax.device_put(streaming.init(3), NamedSharding(mesh, P()))
    sharded = update(
        state, jax.device_put(y_true, data), jax.device_put(y_pred, data), ignore_index=255
    )
    assert sharded.counts.sharding.is_fully_replicated
    local = update(streaming.init(3), y_true, y_pred, ignore_index=255)
    chex.assert_trees_all_equal(sharded, local)
    keep = y_true != 255
    np.testing.assert_array_equal(
        sharded.counts, skm.confusion_matrix(y_true[keep], y_pred[keep], labels=[0, 1, 2])
    )


def test_mean_state():
    vals = np.arange(10.0)
    s = streaming.mean_update(streaming.mean_init(), vals[:4])
    t = streaming.mean_update(streaming.mean_init(), vals[4:], mask=vals[4:] < 8)
    np.testing.assert_allclose(streaming.mean_compute(streaming.mean_merge(s, t)), vals[:8].mean())


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"\(N,\) class ids or \(N, L\)"):
        metrics.f1_score(jnp.zeros((2, 3, 4), int), jnp.zeros((2, 3, 4), int), 3, average="macro")
    with pytest.raises(ValueError, match="num_classes"):
        metrics.f1_score(jnp.zeros(3, int), jnp.zeros(3, int), average="macro")
    with pytest.raises(ValueError, match="average"):
        metrics.recall(jnp.zeros(3, int), jnp.zeros(3, int), 3, average="samples")
