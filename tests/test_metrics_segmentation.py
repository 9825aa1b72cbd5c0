"""SEG-1 segmentation metrics vs scikit-learn / direct NumPy, Hausdorff vs scipy."""

import functools

import chex
import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import directed_hausdorff
from sklearn import metrics as skm

from jaxdl import metrics


@functools.partial(jax.jit, static_argnames=("k", "ignore_index"))
def seg_metrics(y_true, y_pred, k, ignore_index):
    kw = dict(ignore_index=ignore_index)
    return {
        "iou": metrics.iou(y_true, y_pred, k, **kw),
        "dice": metrics.dice(y_true, y_pred, k, **kw),
        "mean_iou": metrics.mean_iou(y_true, y_pred, k, **kw),
        "pixel_accuracy": metrics.pixel_accuracy(y_true, y_pred, k, **kw),
        "fw_iou": metrics.fw_iou(y_true, y_pred, k, **kw),
    }


def numpy_reference(y_true, y_pred, k, ignore_index):
    keep = y_true != ignore_index
    t, p = y_true[keep], y_pred[keep]
    labels = list(range(k))
    iou = skm.jaccard_score(t, p, labels=labels, average=None, zero_division=0)
    counts = np.bincount(t, minlength=k)
    return {
        "iou": iou,
        "dice": skm.f1_score(t, p, labels=labels, average=None, zero_division=0),
        "mean_iou": skm.jaccard_score(t, p, average="macro", zero_division=0),
        "pixel_accuracy": np.mean(t == p),
        "fw_iou": np.sum(counts / counts.sum() * iou),
    }


@settings(max_examples=6, deadline=None)
@given(
    n=st.integers(1, 3),
    hw=st.sampled_from([(4, 5), (8, 8), (3, 7)]),
    k=st.integers(2, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_segmentation_metrics_match_references(n, hw, k, seed):
    rng = np.random.default_rng(seed)
    classes = rng.choice(k, size=rng.integers(1, k + 1), replace=False)  # some classes absent
    y_true = rng.choice(classes, size=(n, *hw))
    y_pred = rng.choice(classes, size=(n, *hw))
    y_true.reshape(-1)[0] = 255  # at least one ignored pixel
    ours = seg_metrics(y_true, y_pred, k, 255)
    for key, val in numpy_reference(y_true, y_pred, k, 255).items():
        # Values in [0, 1] in float32: measured 2.6e-8 at most (docs/losses_metrics.md).
        np.testing.assert_allclose(ours[key], val, rtol=0, atol=1e-7, err_msg=key)


def test_scores_are_argmaxed_and_ignore_index_is_dropped():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(2, 6, 6, 4))
    y_true = rng.integers(0, 4, (2, 6, 6))
    direct = seg_metrics(y_true, scores.argmax(-1), 4, None)
    chex.assert_trees_all_close(seg_metrics(y_true, scores, 4, None), direct)
    y_ignored = np.where(rng.uniform(size=y_true.shape) < 0.3, 255, y_true)
    cm = jax.jit(functools.partial(metrics.confusion_matrix, num_classes=4, ignore_index=255))
    counts = cm(y_ignored, scores.argmax(-1))
    assert int(counts.sum()) == int(np.sum(y_ignored != 255))


def _scipy_hausdorff(a, b):
    pa, pb = np.argwhere(a), np.argwhere(b)
    return max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])


def _numpy_hd_percentile(a, b, q):
    pa, pb = np.argwhere(a).astype(float), np.argwhere(b).astype(float)
    d = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return max(np.percentile(d.min(1), q), np.percentile(d.min(0), q))


def _random_masks(rng, shape, n):
    masks = []
    for _ in range(n):
        m = np.zeros(shape, bool)
        for _ in range(rng.integers(1, 4)):  # a few random rectangles plus noise
            r, c = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
            m[r : r + rng.integers(2, 10), c : c + rng.integers(2, 10)] = True
        m |= rng.uniform(size=shape) < 0.01
        masks.append(m)
    return np.stack(masks)


def test_hausdorff_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = _random_masks(rng, (24, 31), 6), _random_masks(rng, (24, 31), 6)
    hd = jax.jit(metrics.hausdorff_distance)(a, b)
    hd95 = jax.jit(functools.partial(metrics.hausdorff_distance, percentile=95))(a, b)
    # Distances up to ~10 px in float32: measured 3.1e-7 (HD), 1.5e-6 (HD95).
    np.testing.assert_allclose(
        hd, [_scipy_hausdorff(x, y) for x, y in zip(a, b, strict=True)], rtol=0, atol=1e-6
    )
    ref95 = [_numpy_hd_percentile(x, y, 95) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(hd95, ref95, rtol=0, atol=4e-6)
    assert np.all(hd95 <= hd + 1e-6)


def test_hausdorff_spacing_and_empty_masks():
    rng = np.random.default_rng(2)
    a, b = _random_masks(rng, (16, 16), 1)[0], _random_masks(rng, (16, 16), 1)[0]
    hd = functools.partial(metrics.hausdorff_distance, spacing=(2.0, 0.5))
    pa, pb = np.argwhere(a) * [2.0, 0.5], np.argwhere(b) * [2.0, 0.5]
    ref = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
    np.testing.assert_allclose(jax.jit(hd)(a, b), ref, rtol=0, atol=1e-6)
    empty = np.zeros((16, 16), bool)
    out = jax.jit(metrics.hausdorff_distance)(np.stack([a, empty]), np.stack([empty, empty]))
    np.testing.assert_array_equal(out, [np.inf, 0.0])


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"\(2, 3, 3, 4\)"):
        metrics.mean_iou(np.zeros((2, 3, 3), int), np.zeros((2, 3, 3, 5)), 4)
    with pytest.raises(ValueError, match=r"\(H, W\) or \(N, H, W\)"):
        metrics.hausdorff_distance(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)))
