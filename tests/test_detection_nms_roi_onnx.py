"""NMS and RoIAlign (SPEC SEG-4) against ONNX Runtime's `NonMaxSuppression` and `RoiAlign`
operators (graphs built here with `onnx.helper`); RoIAlign's max mode against float64 NumPy."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from jaxdl.detection import batched_nms, nms
from jaxdl.nn import roi_align


def _session(node, inputs, outputs):
    graph = helper.make_graph([node], "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    onnx.checker.check_model(model)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _ort_nms(boxes, scores, max_per_class, iou, score_threshold):
    """boxes (N, 4) xyxy, scores (C, N) -> {class: [indices in selection order]}."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    node = helper.make_node(
        "NonMaxSuppression", ["boxes", "scores", "max", "iou", "thr"], ["sel"], center_point_box=0
    )
    ins = [
        helper.make_tensor_value_info("boxes", f, [1, None, 4]),
        helper.make_tensor_value_info("scores", f, [1, None, None]),
        helper.make_tensor_value_info("max", i64, [1]),
        helper.make_tensor_value_info("iou", f, [1]),
        helper.make_tensor_value_info("thr", f, [1]),
    ]
    sess = _session(node, ins, [helper.make_tensor_value_info("sel", i64, [None, 3])])
    yxyx = boxes[:, [1, 0, 3, 2]].astype(np.float32)  # ONNX's default corner order
    (sel,) = sess.run(
        None,
        {
            "boxes": yxyx[None],
            "scores": scores[None].astype(np.float32),
            "max": np.array([max_per_class], np.int64),
            "iou": np.array([iou], np.float32),
            "thr": np.array([score_threshold], np.float32),
        },
    )
    out = {c: [] for c in range(len(scores))}
    for _, c, i in sel:
        out[int(c)].append(int(i))
    return out


def _random_boxes(rng, n, size=50.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(2, size / 3, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


@pytest.fixture(scope="module")
def nms_case():
    rng = np.random.default_rng(0)
    boxes = _random_boxes(rng, 120)
    boxes[60:90] = boxes[:30] + rng.normal(0, 1.5, (30, 4)).astype(np.float32)  # heavy overlaps
    scores = rng.uniform(0, 1, (3, 120)).astype(np.float32)
    return boxes, scores


@pytest.mark.parametrize("iou", [0.3, 0.5, 0.7])
def test_nms_matches_onnxruntime(nms_case, iou):
    boxes, scores = nms_case
    ref = _ort_nms(boxes, scores[:1], 120, iou, 0.2)[0]
    fn = jax.jit(nms, static_argnames=("max_output", "score_threshold"))
    keep, valid = fn(jnp.asarray(boxes), jnp.asarray(scores[0]), iou, 120, score_threshold=0.2)
    chex.assert_shape(keep, (120,))
    n = int(valid.sum())
    assert n == len(ref) and 10 < n < 110
    np.testing.assert_array_equal(np.asarray(keep[:n]), ref)  # same boxes, same order
    assert np.all(np.asarray(keep[n:]) == -1) and not np.any(np.asarray(valid[n:]))
    # a smaller fixed output is the prefix
    short, short_valid = fn(jnp.asarray(boxes), jnp.asarray(scores[0]), iou, 7, score_threshold=0.2)
    np.testing.assert_array_equal(np.asarray(short), ref[:7])
    assert bool(short_valid.all())


def test_batched_nms_matches_onnxruntime_per_class(nms_case):
    boxes, scores = nms_case
    ref = _ort_nms(boxes, scores, 120, 0.5, 0.0)
    # one candidate per (box, class), as a detector's flattened per-class boxes
    flat_boxes = np.tile(boxes, (3, 1))
    classes = np.repeat(np.arange(3), len(boxes))
    keep, valid = jax.jit(batched_nms, static_argnums=(3, 4))(
        jnp.asarray(flat_boxes), jnp.asarray(scores.reshape(-1)), jnp.asarray(classes), 0.5, 360
    )
    keep = np.asarray(keep)[np.asarray(valid)]
    for c in range(3):
        mine = [int(k) - c * len(boxes) for k in keep if classes[k] == c]
        assert mine == ref[c]
    # the merged list is in descending score order
    assert np.all(np.diff(scores.reshape(-1)[keep]) <= 0)


def test_nms_never_keeps_masked_boxes():
    boxes = jnp.asarray([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]], jnp.float32)
    scores = jnp.asarray([-jnp.inf, 0.5, 0.9])
    keep, valid = nms(boxes, scores, 0.5, 3)
    np.testing.assert_array_equal(np.asarray(keep), [2, 1, -1])
    np.testing.assert_array_equal(np.asarray(valid), [True, True, False])
    with pytest.raises(ValueError, match=r"boxes \(N, 4\)"):
        nms(boxes[:, :3], scores, 0.5, 3)


# ---------------------------------------------------------------- RoIAlign


def _ort_roi_align(x_nhwc, rois, bidx, out, scale, ratio, mode, transform):
    f = TensorProto.FLOAT
    node = helper.make_node(
        "RoiAlign",
        ["X", "rois", "idx"],
        ["Y"],
        mode=mode,
        output_height=out,
        output_width=out,
        sampling_ratio=ratio,
        spatial_scale=scale,
        coordinate_transformation_mode=transform,
    )
    ins = [
        helper.make_tensor_value_info("X", f, [None, None, None, None]),
        helper.make_tensor_value_info("rois", f, [None, 4]),
        helper.make_tensor_value_info("idx", TensorProto.INT64, [None]),
    ]
    sess = _session(node, ins, [helper.make_tensor_value_info("Y", f, [None] * 4)])
    (y,) = sess.run(
        None,
        {
            "X": np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)),
            "rois": rois.astype(np.float32),
            "idx": bidx.astype(np.int64),
        },
    )
    return y.transpose(0, 2, 3, 1)


@pytest.fixture(scope="module")
def roi_case():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 13, 17, 3)).astype(np.float32)
    xy = rng.uniform(-4, 60, (24, 2))
    wh = rng.uniform(0.5, 40, (24, 2))
    rois = np.concatenate([xy, xy + wh], 1).astype(np.float32)  # some partly outside the map
    bidx = rng.integers(0, 2, 24)
    return x, rois, bidx


@pytest.mark.parametrize("aligned", [True, False])
def test_roi_align_avg_ratio_2_matches_onnxruntime(roi_case, aligned):
    x, rois, bidx = roi_case
    transform = "half_pixel" if aligned else "output_half_pixel"
    ref = _ort_roi_align(x, rois, bidx, 5, 0.25, 2, "avg", transform)
    got = roi_align(
        jnp.asarray(x), jnp.asarray(rois), 5, 0.25, 2, aligned, "avg", jnp.asarray(bidx)
    )
    chex.assert_shape(got, (24, 5, 5, 3))
    chex.assert_trees_all_close(np.asarray(got), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("aligned", [True, False])
def test_roi_align_adaptive_ratio_0_matches_onnxruntime(roi_case, aligned):
    """ONNX's sampling_ratio 0 samples ceil(roi_h / out_h) x ceil(roi_w / out_w) points per bin;
    `roi_align` has a static ratio, so each RoI whose adaptive grid is g x g is compared with
    sampling_ratio=g."""
    x, _, _ = roi_case
    rng = np.random.default_rng(2)
    xy = rng.uniform(-4, 50, (24, 2))
    side = rng.uniform(2, 34, (24, 1))  # square RoIs: the adaptive grid is g x g, g in 1..3
    rois = np.concatenate([xy, xy + side], 1).astype(np.float32)
    bidx = rng.integers(0, 2, 24)
    transform = "half_pixel" if aligned else "output_half_pixel"
    ref = _ort_roi_align(x, rois, bidx, 3, 0.25, 0, "avg", transform)
    size = side[:, 0] * 0.25
    grid = np.ceil((size if aligned else np.maximum(size, 1.0)) / 3).astype(int)
    assert set(grid) == {1, 2, 3}
    for g in (1, 2, 3):
        k = grid == g
        got = roi_align(
            jnp.asarray(x), jnp.asarray(rois[k]), 3, 0.25, g, aligned, "avg", jnp.asarray(bidx[k])
        )
        chex.assert_trees_all_close(np.asarray(got), ref[k], atol=1e-5, rtol=1e-5)


def _bilinear64(f, y, x):
    """torchvision's bilinear_interpolate in float64 on one (H, W, C) map."""
    h, w = f.shape[:2]
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(f.shape[-1])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * f[y0, x0]
        + (1 - ly) * lx * f[y0, x1]
        + ly * (1 - lx) * f[y1, x0]
        + ly * lx * f[y1, x1]
    )


@pytest.mark.parametrize("aligned", [True, False])
def test_roi_align_max_mode_matches_float64_numpy(roi_case, aligned):
    """The SEG-4 seed's max of the g x g bilinear samples (ONNX Runtime's max mode differs: it
    takes the max of the weighted corner terms, onnxruntime issue #6146)."""
    x, rois, bidx = roi_case
    out, scale, g = 4, 0.25, 2
    got = np.asarray(
        roi_align(
            jnp.asarray(x), jnp.asarray(rois), out, scale, g, aligned, "max", jnp.asarray(bidx)
        )
    )
    off = 0.5 if aligned else 0.0
    for k, (box, b) in enumerate(zip(rois.astype(np.float64), bidx, strict=True)):
        x1, y1, x2, y2 = box * scale - off
        bw, bh = (x2 - x1), (y2 - y1)
        if not aligned:
            bw, bh = max(bw, 1.0), max(bh, 1.0)
        bw, bh = bw / out, bh / out
        for i in range(out):
            for j in range(out):
                samples = [
                    _bilinear64(
                        x[b].astype(np.float64),
                        y1 + i * bh + (iy + 0.5) * bh / g,
                        x1 + j * bw + (ix + 0.5) * bw / g,
                    )
                    for iy in range(g)
                    for ix in range(g)
                ]
                np.testing.assert_allclose(got[k, i, j], np.max(samples, 0), atol=1e-5)
    assert not math.isnan(got.sum())
