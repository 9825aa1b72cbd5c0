"""Dice/IoU, multi-label (SEQ-5) and SSIM losses: values and gradients vs direct torch formulas."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl import losses, metrics


def _t(x, grad=False):
    """float64 tensor of the float32 values our losses see."""
    return torch.tensor(np.asarray(x, np.float32).astype(np.float64), requires_grad=grad)


@functools.cache
def _value_and_grad(fn):
    return jax.jit(jax.value_and_grad(fn))  # one compilation for the 5 seeds


def _check_value_and_grad(ours, ref, x, *others, atol, grad_atol):
    """jit(value_and_grad) of our loss vs torch autograd of the direct formula (float64): the
    largest absolute differences are at most `atol` (value) and `grad_atol` (gradient), the
    bounds docs/losses_metrics.md gives."""
    val, grad = _value_and_grad(ours)(jnp.asarray(x, jnp.float32), *others)
    xt = _t(x, grad=True)
    ref_val = ref(xt, *[_t(o) for o in others])
    ref_val.backward()
    assert abs(float(val) - ref_val.item()) <= atol, (float(val), ref_val.item())
    grad_err = float(np.abs(np.asarray(grad, np.float64) - xt.grad.numpy()).max())
    assert grad_err <= grad_atol, grad_err


def torch_dice(p, g, smooth=1.0):
    inter, sp, sg = (p * g).sum((1, 2)), p.sum((1, 2)), g.sum((1, 2))
    return (1 - (2 * inter + smooth) / (sp + sg + smooth)).mean()


def torch_iou(p, g, smooth=1.0):
    inter = (p * g).sum((1, 2))
    union = (p + g - p * g).sum((1, 2))
    return (1 - (inter + smooth) / (union + smooth)).mean()


_iou_smooth0 = functools.partial(losses.iou_loss, smooth=0.0)


@pytest.mark.parametrize("seed", range(5))
def test_dice_and_iou_losses_match_direct_formula(seed):
    rng = np.random.default_rng(seed)
    probs = rng.uniform(size=(2, 5, 6, 3))
    targets = (rng.uniform(size=(2, 5, 6, 3)) > 0.5).astype(np.float32)
    tol = dict(atol=1.5e-7, grad_atol=5e-9)
    _check_value_and_grad(losses.dice_loss, torch_dice, probs, targets, **tol)
    _check_value_and_grad(losses.iou_loss, torch_iou, probs, targets, **tol)
    _check_value_and_grad(
        _iou_smooth0, functools.partial(torch_iou, smooth=0.0), probs, targets, **tol
    )


def test_dice_loss_pixel_mask_and_hard_masks():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=(2, 8, 8))
    pred = rng.integers(0, 3, size=(2, 8, 8))
    onehot_t, onehot_p = np.eye(3)[labels], np.eye(3)[pred]
    mask = rng.uniform(size=(2, 8, 8)) > 0.3

    @jax.jit
    def run(p, t, m):
        return (
            losses.dice_loss(p, t, smooth=0.0, axis=(0, 1, 2), pixel_mask=m, reduction="none"),
            losses.iou_loss(p, t, smooth=0.0, axis=(0, 1, 2), pixel_mask=m, reduction="none"),
        )

    d, j = run(onehot_p, onehot_t, mask)
    # Pooled over the batch with hard one-hot inputs: 1 - Dice / 1 - IoU of the masked pixels.
    y_t, y_p = np.where(mask, labels, 255), pred
    np.testing.assert_allclose(1 - d, metrics.dice(y_t, y_p, 3, ignore_index=255), atol=1e-6)
    np.testing.assert_allclose(1 - j, metrics.iou(y_t, y_p, 3, ignore_index=255), atol=1e-6)


SEQ5_LOGITS = np.array([[2.0, -1.0, 0.0], [-2.0, 1.0, -3.0]])
SEQ5_LABELS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])


def test_seq5_worked_example():
    """SPEC SEQ-5 test vector: soft-F1 0.43417 (PyTorch), 0.44228 (Keras), ZLPR rows."""

    @jax.jit
    def run(z, y):
        return (
            losses.soft_f1_floor_loss(z, y),
            losses.soft_f1_loss(z, y),
            losses.zlpr_loss(z, y, reduction="none"),
        )

    floor, keras, zlpr = run(SEQ5_LOGITS, SEQ5_LABELS)
    np.testing.assert_allclose(floor, 0.43417, atol=5e-6)
    np.testing.assert_allclose(keras, 0.44228, atol=5e-6)
    np.testing.assert_allclose(zlpr, [0.98892, 3.19281], atol=5e-6)


def torch_f1_floor(predict, target):
    """The SEQ-5 PyTorch soft-F1 recipe, verbatim."""
    predict = torch.sigmoid(predict)
    predict = torch.clamp(predict * (1 - target), min=0.01) + predict * target
    tp = predict * target
    tp = tp.sum(dim=0)
    precision = tp / (predict.sum(dim=0) + 1e-8)
    recall = tp / (target.sum(dim=0) + 1e-8)
    f1 = 2 * (precision * recall / (precision + recall + 1e-8))
    return 1 - f1.mean()


def torch_f1_keras(z, y, eps=1e-7):
    p = torch.sigmoid(z)
    tp, fp, fn = (y * p).sum(0), ((1 - y) * p).sum(0), (y * (1 - p)).sum(0)
    pr, rc = tp / (tp + fp + eps), tp / (tp + fn + eps)
    f1 = 2 * pr * rc / (pr + rc + eps)
    return 1 - torch.nan_to_num(f1, nan=0.0).mean()


def torch_zlpr(z, y):
    zeros = torch.zeros_like(z[:, :1])
    neg = torch.where(y > 0.5, -torch.inf, z)
    pos = torch.where(y > 0.5, -z, -torch.inf)
    lse = torch.logsumexp
    return (lse(torch.cat([zeros, neg], 1), 1) + lse(torch.cat([zeros, pos], 1), 1)).mean()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "ours,ref,atol,grad_atol",
    [
        (losses.soft_f1_floor_loss, torch_f1_floor, 2.5e-7, 4e-9),
        (losses.soft_f1_loss, torch_f1_keras, 1.5e-7, 4e-9),
        (losses.zlpr_loss, torch_zlpr, 2e-6, 2e-8),
    ],
)
def test_multilabel_losses_match_torch(ours, ref, atol, grad_atol, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(16, 5)) * 3
    y = (rng.uniform(size=(16, 5)) > 0.6).astype(np.float32)
    _check_value_and_grad(ours, ref, z, y, atol=atol, grad_atol=grad_atol)


def test_floor_trick_blocks_gradient_below_floor():
    z = jnp.array([[-8.0, 3.0], [2.0, -1.0]])  # sigmoid(-8) < 0.01: a negative below the floor
    y = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    g = jax.jit(jax.grad(losses.soft_f1_floor_loss))(z, y)
    assert g[0, 0] == 0.0 and np.all(g[1] != 0.0)


def test_row_mask_equals_dropping_rows():
    rng = np.random.default_rng(3)
    z, y = rng.normal(size=(6, 4)), (rng.uniform(size=(6, 4)) > 0.5).astype(np.float32)
    keep = np.array([1, 1, 0, 1, 0, 1], bool)
    for fn in (losses.soft_f1_loss, losses.soft_f1_floor_loss, losses.zlpr_loss):
        f = jax.jit(fn)
        np.testing.assert_allclose(
            jax.jit(functools.partial(fn, mask=keep))(z, y), f(z[keep], y[keep]), rtol=1e-5
        )


def test_ssim_losses_are_one_minus_metric_and_descend():
    rng = np.random.default_rng(4)
    target = rng.uniform(size=(2, 24, 24, 1)).astype(np.float32)
    pred = np.clip(target + 0.2 * rng.normal(size=target.shape), 0, 1).astype(np.float32)
    weights = metrics.MS_SSIM_WEIGHTS[:2]

    @jax.jit
    def run(p, t):
        ms = functools.partial(losses.ms_ssim_loss, scale_weights=weights)
        return (
            jax.value_and_grad(losses.ssim_loss)(p, t),
            jax.value_and_grad(ms)(p, t),
            metrics.ssim(p, t),
            metrics.ms_ssim(p, t, weights=weights),
        )

    (l1, g1), (l2, g2), s1, s2 = run(pred, target)
    np.testing.assert_allclose(l1, 1 - np.mean(s1), rtol=1e-6)
    np.testing.assert_allclose(l2, 1 - np.mean(s2), rtol=1e-6)
    for loss, grad, fn in [(l1, g1, losses.ssim_loss), (l2, g2, None)]:
        assert np.all(np.isfinite(grad))
        if fn is not None:  # a small gradient step lowers the loss
            assert jax.jit(fn)(pred - 0.5 * grad, target) < loss


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(2, 5), c=st.integers(1, 3))
def test_overlap_loss_shapes(n, h, c):
    x = jnp.full((n, h, h + 1, c), 0.5)

    @jax.jit
    def run(x):
        return (
            losses.dice_loss(x, x, reduction="none"),
            losses.iou_loss(x, x, reduction="none"),
            losses.dice_loss(x, x),
        )

    d, j, mean = run(x)
    chex.assert_shape([d, j], (n, c))
    assert 0.0 <= float(mean) < 1.0


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        losses.zlpr_loss(jnp.zeros(3), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        losses.dice_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3)))
