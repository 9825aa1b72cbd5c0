"""Detector pieces (SPEC SEG-4): anchors against a torch re-expression of torchvision's
`AnchorGenerator`, box coding against one of its `BoxCoder`, IoU against pycocotools, balanced
sampling, the losses against torch, mask pasting, input errors. The whole Mask R-CNN (losses,
detections, masks, AP) runs in tests/test_experiment_detect_digits.py."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from jaxdl.detection import (
    BBOX_CLAMP,
    base_anchors,
    box_iou,
    clip_boxes,
    decode,
    encode,
    grid_anchors,
)
from jaxdl.detection.losses import fast_rcnn_loss, mask_loss, rpn_loss
from jaxdl.detection.model import RCNN
from jaxdl.detection.postprocess import paste_masks
from jaxdl.detection.sampling import match, sample


def torch_anchors(sizes, ratios, feature_size, image_size):
    """torchvision AnchorGenerator (one feature map), re-expressed from its definition."""
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    ar = torch.as_tensor(ratios, dtype=torch.float32)
    h_ratios = torch.sqrt(ar)
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).view(-1)
    hs = (h_ratios[:, None] * scales[None, :]).view(-1)
    base = (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()
    (fh, fw), (ih, iw) = feature_size, image_size
    sy, sx = ih // fh, iw // fw
    shift_y, shift_x = torch.meshgrid(
        torch.arange(0, fh, dtype=torch.int32) * sy,
        torch.arange(0, fw, dtype=torch.int32) * sx,
        indexing="ij",
    )
    shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
    shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
    return (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)


@pytest.mark.parametrize(
    "sizes,ratios,feature,image",
    [
        ((32.0, 64.0, 128.0), (0.5, 1.0, 2.0), (5, 7), (80, 112)),
        ((16.0, 24.0, 32.0), (1.0, 2.0), (16, 21), (64, 84)),
        ((20.0,), (0.7, 1.3), (3, 4), (50, 70)),  # odd strides, halves rounded to even
    ],
)
def test_anchors_match_torchvision_generator(sizes, ratios, feature, image):
    ref = torch_anchors(sizes, ratios, feature, image).numpy()
    got = grid_anchors(base_anchors(sizes, ratios), feature, image)
    assert got.shape == (feature[0] * feature[1] * len(sizes) * len(ratios), 4)
    np.testing.assert_array_equal(got, ref)


def torch_encode(gt, ref, w):
    ew, eh = ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]
    ex, ey = ref[:, 0] + 0.5 * ew, ref[:, 1] + 0.5 * eh
    gw, gh = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    gx, gy = gt[:, 0] + 0.5 * gw, gt[:, 1] + 0.5 * gh
    return torch.stack(
        [
            w[0] * (gx - ex) / ew,
            w[1] * (gy - ey) / eh,
            w[2] * torch.log(gw / ew),
            w[3] * torch.log(gh / eh),
        ],
        1,
    )


def torch_decode(d, ref, w):
    clip = math.log(1000.0 / 16)
    ew, eh = ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]
    ex, ey = ref[:, 0] + 0.5 * ew, ref[:, 1] + 0.5 * eh
    dx, dy = d[:, 0] / w[0], d[:, 1] / w[1]
    dw, dh = torch.clamp(d[:, 2] / w[2], max=clip), torch.clamp(d[:, 3] / w[3], max=clip)
    px, py = dx * ew + ex, dy * eh + ey
    pw, ph = torch.exp(dw) * ew, torch.exp(dh) * eh
    return torch.stack([px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph], 1)


def _boxes(rng, n, size=100.0):
    xy = rng.uniform(0, size, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(1, size / 2, (n, 2))], 1).astype(np.float32)


def test_encode_decode_match_torchvision_box_coder():
    rng = np.random.default_rng(0)
    gt, ref = _boxes(rng, 50), _boxes(rng, 50)
    w = (10.0, 10.0, 5.0, 5.0)
    t = torch_encode(torch.from_numpy(gt), torch.from_numpy(ref), w).numpy()
    chex.assert_trees_all_close(
        np.asarray(encode(jnp.asarray(gt), jnp.asarray(ref), w)), t, rtol=1e-5, atol=1e-5
    )
    deltas = rng.normal(0, 3, (50, 4)).astype(np.float32) * 10  # some beyond the clamp
    deltas[0, 2:] = 100.0
    ref_dec = torch_decode(torch.from_numpy(deltas), torch.from_numpy(ref), w).numpy()
    got = np.asarray(decode(jnp.asarray(deltas), jnp.asarray(ref), w))
    chex.assert_trees_all_close(got, ref_dec, rtol=1e-5, atol=1e-3)
    assert math.isclose(BBOX_CLAMP, math.log(1000 / 16))
    width = ref[0, 2] - ref[0, 0]
    np.testing.assert_allclose(got[0, 2] - got[0, 0], width * 1000 / 16, rtol=1e-4)
    # decode inverts encode
    back = decode(encode(jnp.asarray(gt), jnp.asarray(ref), w), jnp.asarray(ref), w)
    chex.assert_trees_all_close(np.asarray(back), gt, atol=1e-3)
    clipped = np.asarray(clip_boxes(jnp.asarray([[-5.0, 3, 120, 40]]), 30, 100))
    np.testing.assert_array_equal(clipped, [[0, 3, 100, 30]])


def test_box_iou_matches_pycocotools():
    rng = np.random.default_rng(1)
    a, b = _boxes(rng, 30), _boxes(rng, 20)
    xywh = lambda x: np.concatenate([x[:, :2], x[:, 2:] - x[:, :2]], 1).astype(np.float64)  # noqa: E731
    ref = mask_utils.iou(xywh(a), xywh(b), [0] * len(b))
    got = np.asarray(box_iou(jnp.asarray(a), jnp.asarray(b)))
    assert (ref > 0.1).sum() > 10
    chex.assert_trees_all_close(got, ref.astype(np.float32), atol=1e-6)


def test_match_and_balanced_sample():
    gt = jnp.asarray([[0.0, 0, 10, 10], [50, 50, 60, 70], [0, 0, 0, 0]])
    valid = jnp.asarray([True, True, False])
    boxes = jnp.asarray(
        [[0.0, 0, 10, 10], [0.5, 0, 10.5, 10], [51, 50, 61, 70], [30, 30, 40, 40], [0, 0, 9, 10]]
    )
    index, pos, neg = jax.jit(match, static_argnums=(3, 4, 5))(gt, valid, boxes, 0.7, 0.3)
    np.testing.assert_array_equal(np.asarray(pos), [True, True, True, False, True])
    np.testing.assert_array_equal(np.asarray(neg), [False, False, False, True, False])
    np.testing.assert_array_equal(np.asarray(index)[[0, 2]], [0, 1])
    # a ground-truth box with no IoU >= 0.7 still gets its best box (RPN rule)
    _, pos_lq, _ = match(
        gt, valid, boxes[3:4].at[0].set(jnp.asarray([45.0, 45, 58, 62])), 0.7, 0.3, True
    )
    assert bool(pos_lq[0])
    rng = np.random.default_rng(2)
    positive = jnp.asarray(rng.uniform(size=500) < 0.05)
    negative = ~positive & jnp.asarray(rng.uniform(size=500) < 0.5)
    idx, ok = jax.jit(sample, static_argnums=(3, 4))(
        jax.random.PRNGKey(0), positive, negative, 64, 0.25
    )
    chex.assert_shape((idx, ok), ((80,), (80,)))
    idx, ok = np.asarray(idx), np.asarray(ok)
    n_pos = min(int(positive.sum()), 16)
    assert ok[:16].sum() == n_pos and ok.sum() == 64
    assert np.asarray(positive)[idx[:16][ok[:16]]].all()
    assert np.asarray(negative)[idx[16:][ok[16:]]].all()
    assert len(set(idx[ok])) == 64  # without replacement


def test_losses_match_torch():
    rng = np.random.default_rng(3)
    obj, lab = rng.normal(size=(2, 30)).astype(np.float32), (rng.uniform(size=(2, 30)) < 0.3)
    sampled = rng.uniform(size=(2, 30)) < 0.5
    deltas, targets = rng.normal(size=(2, 2, 30, 4)).astype(np.float32) * 0.2
    l_obj, l_box = jax.jit(rpn_loss)(
        jnp.asarray(obj),
        jnp.asarray(deltas),
        jnp.asarray(lab, jnp.float32),
        jnp.asarray(sampled),
        jnp.asarray(targets),
    )
    s, p = sampled.reshape(-1), (sampled & lab).reshape(-1)
    t_obj = F.binary_cross_entropy_with_logits(
        torch.from_numpy(obj.reshape(-1)[s]),
        torch.from_numpy(lab.reshape(-1)[s].astype(np.float32)),
    )
    t_box = (
        F.smooth_l1_loss(
            torch.from_numpy(deltas.reshape(-1, 4)[p]),
            torch.from_numpy(targets.reshape(-1, 4)[p]),
            beta=1 / 9,
            reduction="sum",
        )
        / s.sum()
    )
    chex.assert_trees_all_close(
        (float(l_obj), float(l_box)), (t_obj.item(), t_box.item()), rtol=1e-5
    )

    logits = rng.normal(size=(20, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 20)
    box = rng.normal(size=(20, 4, 4)).astype(np.float32)
    tgt = rng.normal(size=(20, 4)).astype(np.float32)
    weight = (rng.uniform(size=20) < 0.7).astype(np.float32)
    l_cls, l_reg = jax.jit(fast_rcnn_loss)(*map(jnp.asarray, (logits, box, labels, tgt, weight)))
    w = weight > 0
    t_cls = F.cross_entropy(torch.from_numpy(logits[w]), torch.from_numpy(labels[w]))
    fg = w & (labels > 0)
    t_reg = (
        F.smooth_l1_loss(
            torch.from_numpy(box[fg, labels[fg]]),
            torch.from_numpy(tgt[fg]),
            beta=1 / 9,
            reduction="sum",
        )
        / w.sum()
    )
    chex.assert_trees_all_close(
        (float(l_cls), float(l_reg)), (t_cls.item(), t_reg.item()), rtol=1e-5
    )

    mlog = rng.normal(size=(6, 28, 28, 4)).astype(np.float32)
    mt = rng.uniform(size=(6, 28, 28)).astype(np.float32)
    mw = np.asarray([1, 1, 0, 1, 0, 1], np.float32)
    got = jax.jit(mask_loss)(
        jnp.asarray(mlog), jnp.asarray(labels[:6]), jnp.asarray(mt), jnp.asarray(mw)
    )
    k = mw > 0
    t_mask = F.binary_cross_entropy_with_logits(
        torch.from_numpy(mlog[k, :, :, labels[:6][k]]), torch.from_numpy(mt[k])
    )
    chex.assert_trees_all_close(float(got), t_mask.item(), rtol=1e-5)


def test_paste_masks_fills_the_box():
    masks = jnp.ones((2, 28, 28)).at[1, :14].set(0.0)  # second: lower half only
    boxes = jnp.asarray([[10.0, 5, 30, 25], [0, 0, 40, 20]])
    out = np.asarray(jax.jit(paste_masks, static_argnums=(2, 3))(masks, boxes, 32, 48))
    chex.assert_shape(out, (2, 32, 48))
    assert (out[0] >= 0.5).sum() == 400 and (out[0][5:25, 10:30] == 1).all()
    half = out[1] >= 0.5
    assert half[:9].sum() == 0 and half[11:20, :40].all() and half[20:].sum() == 0


def test_image_size_not_divisible_by_the_stride_is_refused():
    model = RCNN(num_classes=3, backbone_widths=(4, 8))
    with pytest.raises(
        ValueError, match=r"image size \(15, 24\).*multiples of the backbone stride 2"
    ):
        model.init(jax.random.PRNGKey(0), jnp.zeros((1, 15, 24, 1)))
    with pytest.raises(ValueError, match="backbone must be one of"):
        RCNN(num_classes=3, backbone="vgg").init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 1)))
    with pytest.raises(ValueError, match="sizes and aspect_ratios must be non-empty and positive"):
        base_anchors((16.0,), (0.0,))
