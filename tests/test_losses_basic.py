"""BAS-2 losses against torch.nn.functional (float64), direct formulas and the SPEC examples."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdl import losses


@functools.cache
def _jit_cached(fn, options):
    return jax.jit(functools.partial(fn, **dict(options)))


def jit(fn, **kwargs):
    """Compile whole calls: on CPU much cheaper than eager op-by-op dispatch. Calls with the
    same function and hashable options share one compilation (the 5 seeds of every test)."""
    try:
        return _jit_cached(fn, tuple(sorted(kwargs.items())))
    except TypeError:  # array-valued options
        return jax.jit(functools.partial(fn, **kwargs))


class _Jitted:
    """`L.name(*arrays, **options)` runs `losses.name` under jit."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: jit(getattr(losses, name), **kwargs)(*args)


L = _Jitted()


def _t(x):
    """float64 torch tensor of the float32 values our functions see (jax computes in float32)."""
    return torch.tensor(np.asarray(x, np.float32).astype(np.float64))


def assert_close(got, want, bound):
    """max |ours - ref| / max(1, max |ref|) <= bound, the figure docs/losses_metrics.md gives:
    an absolute difference for values up to 1, relative to the largest value above."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    err = float(np.abs(got - want).max() / max(1.0, np.abs(want).max()))
    assert err <= bound, f"scaled max abs diff {err:.3g} > {bound:.3g}"


@pytest.fixture(params=range(5), ids=lambda s: f"seed{s}")
def rng(request):
    return np.random.default_rng(request.param)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_matches_torch(rng, reduction):
    p, y = rng.normal(size=(6, 5)) * 2, rng.normal(size=(6, 5)) * 2
    for name, ref, kw, bound in [
        ("mse", F.mse_loss, {}, 4e-7),
        ("mae", F.l1_loss, {}, 4e-7),
        ("huber", F.huber_loss, {"delta": 0.7}, 1e-6),
    ]:
        assert_close(
            jit(getattr(losses, name), reduction=reduction, **kw)(p, y),
            ref(_t(p), _t(y), reduction=reduction, **kw).numpy(),
            bound,
        )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_ce_matches_torch(rng, reduction, smoothing):
    logits = rng.normal(size=(7, 5)) * 3
    labels = rng.integers(0, 5, size=7)
    soft = rng.dirichlet(np.ones(5), size=7)
    for target, ref_target, bound in [
        (labels, torch.tensor(labels), 4e-7),
        (soft, _t(soft), 1e-6),
    ]:
        ours = jit(losses.softmax_ce, label_smoothing=smoothing, reduction=reduction)(
            logits, target
        )
        ref = F.cross_entropy(
            _t(logits), ref_target, label_smoothing=smoothing, reduction=reduction
        )
        assert_close(ours, ref.numpy(), bound)


def test_ce_class_weights_and_ignore_index_match_torch(rng):
    logits = rng.normal(size=(4, 3, 6))  # (N, L, C) class axis last
    labels = rng.integers(0, 6, size=(4, 3))
    labels[0, 1] = labels[2, 2] = -100
    w = rng.uniform(0.2, 2.0, size=6)
    ours = L.softmax_ce(logits, labels, weights=w[np.clip(labels, 0, 5)], mask=labels != -100)
    ref = F.cross_entropy(_t(logits).permute(0, 2, 1), torch.tensor(labels), weight=_t(w))
    assert_close(ours, ref.numpy(), 4e-7)
    # NLL on log-probabilities gives the same with the same weights.
    logp = np.asarray(jax.nn.log_softmax(logits))
    assert_close(
        L.nll(logp, labels, weights=w[np.clip(labels, 0, 5)], mask=labels != -100),
        F.nll_loss(_t(logp).permute(0, 2, 1), torch.tensor(labels), weight=_t(w)).numpy(),
        4e-7,
    )
    assert np.isnan(L.softmax_ce(logits, labels, reduction="sum"))  # unmasked -100


@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_sigmoid_bce_and_bce_match_torch(rng, pos_weight):
    z, y = rng.normal(size=(5, 4)) * 4, rng.uniform(size=(5, 4))
    pw = None if pos_weight is None else _t(np.full(4, pos_weight))
    assert_close(
        L.sigmoid_bce(z, y, pos_weight=pos_weight, reduction="none"),
        F.binary_cross_entropy_with_logits(_t(z), _t(y), pos_weight=pw, reduction="none"),
        3e-7,
    )
    p = 1 / (1 + np.exp(-z))
    assert_close(L.binary_cross_entropy(p, y), F.binary_cross_entropy(_t(p), _t(y)), 5e-7)


def test_kl_matches_torch(rng):
    p, q = rng.dirichlet(np.ones(6), size=5), rng.dirichlet(np.ones(6), size=5)
    p[0, 2] = 0.0  # 0 log 0 = 0
    ref = F.kl_div(torch.log(_t(q)), _t(p), reduction="batchmean")
    assert_close(L.kl(p, q), ref, 6e-7)
    np.testing.assert_allclose(
        L.kl(p, q, reduction="none"),
        L.cross_entropy(p, q, reduction="none") - L.entropy(p),
        rtol=1e-5,
        atol=1e-6,
    )


def test_hinge_matches_sklearn_and_focal_direct(rng):
    from sklearn.metrics import hinge_loss

    s, y = rng.normal(size=20) * 2, rng.choice([-1.0, 1.0], size=20)
    assert_close(L.hinge(s, y), hinge_loss(y, np.float32(s)), 2e-7)
    z, t = rng.normal(size=(8, 3)) * 3, rng.integers(0, 2, size=(8, 3)).astype(float)
    p = 1 / (1 + np.exp(-z))
    pt = p * t + (1 - p) * (1 - t)
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    ref = (0.25 * t + 0.75 * (1 - t)) * (1 - pt) ** 2 * ce
    # Measured 1.1e-6 relative (docs/losses_metrics.md).
    np.testing.assert_allclose(L.sigmoid_focal_loss(z, t, reduction="none"), ref, rtol=3e-6)
    np.testing.assert_allclose(
        L.sigmoid_focal_loss(z, t, alpha=None, gamma=0.0), L.sigmoid_bce(z, t), rtol=1e-6
    )


def test_gradients_match_torch(rng):
    logits, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    z, y = rng.normal(size=(6, 4)), rng.uniform(size=(6, 4))
    p, q = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    cases = [
        (
            lambda a: L.softmax_ce(a, labels, label_smoothing=0.1),
            lambda a: F.cross_entropy(a, torch.tensor(labels), label_smoothing=0.1),
            logits,
        ),
        (
            lambda a: L.sigmoid_bce(a, y),
            lambda a: F.binary_cross_entropy_with_logits(a, _t(y)),
            z,
        ),
        (
            lambda a: L.sigmoid_focal_loss(a, y),
            lambda a: (
                (0.25 * _t(y) + 0.75 * (1 - _t(y)))
                * (1 - (torch.sigmoid(a) * _t(y) + (1 - torch.sigmoid(a)) * (1 - _t(y)))) ** 2
                * F.binary_cross_entropy_with_logits(a, _t(y), reduction="none")
            ),
            z,
        ),
        (lambda a: L.huber(a, q, delta=0.5), lambda a: F.huber_loss(a, _t(q), delta=0.5), p),
        (lambda a: L.mse(a, q), lambda a: F.mse_loss(a, _t(q)), p),
        (
            lambda a: L.kl(jax.nn.softmax(q), jax.nn.softmax(a)),
            lambda a: F.kl_div(F.log_softmax(a, -1), F.softmax(_t(q), -1), reduction="batchmean"),
            p,
        ),
    ]
    for ours, ref, x in cases:
        xt = _t(x).requires_grad_()
        ref(xt).mean().backward()
        np.testing.assert_allclose(
            jax.jit(jax.grad(ours))(jnp.asarray(x, jnp.float32)),
            xt.grad.numpy(),
            rtol=1e-4,
            atol=1e-6,
        )


def test_ce_gradient_is_softmax_minus_onehot(rng):
    logits, labels = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    g = jax.jit(jax.grad(lambda a: L.softmax_ce(a, labels, reduction="sum")))(logits)
    np.testing.assert_allclose(g, jax.nn.softmax(logits) - np.eye(3)[labels], atol=1e-6)


EXTREME_LABELS = jnp.array([1, 2])
EXTREME_TARGETS = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
EXTREME_FNS = [
    lambda a: losses.softmax_ce(a, EXTREME_LABELS, label_smoothing=0.1),
    lambda a: losses.sigmoid_bce(a, EXTREME_TARGETS, pos_weight=3.0),
    lambda a: losses.sigmoid_focal_loss(a, EXTREME_TARGETS),
    lambda a: losses.zlpr_loss(a, EXTREME_TARGETS),
    lambda a: losses.soft_f1_loss(a, EXTREME_TARGETS),
    lambda a: losses.soft_f1_floor_loss(a, EXTREME_TARGETS),
    lambda a: jnp.sum(losses.log_softmax(a)),
    lambda a: losses.softmax_ce(a[:1], EXTREME_LABELS[:1]),
]
extreme_values_and_grads = jax.jit(lambda a: [jax.value_and_grad(f)(a) for f in EXTREME_FNS])


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_stable_at_extreme_logits(scale):
    logits = jnp.array([[scale, -scale, 0.0], [-scale, -scale, -scale]])
    out = extreme_values_and_grads(logits)
    for val, grad in out:
        assert np.isfinite(val) and np.all(np.isfinite(grad))
    # Label 1 at logit -1e4 against a max of +1e4 costs 2e4 nats; at +1e4 it costs 0.
    np.testing.assert_allclose(out[-1][0], 2e4 if scale > 0 else 0.0, rtol=1e-6)


def test_bas2_worked_example_bits():
    """SPEC BAS-2 worked example: H(p) = 1.5, H(p, q) = 1.75, KL = 0.25 bits."""
    p, q = jnp.array([0.5, 0.25, 0.25]), jnp.array([0.25, 0.25, 0.5])
    np.testing.assert_allclose(L.entropy(p, base=2), 1.5, rtol=1e-6)
    np.testing.assert_allclose(L.cross_entropy(p, q, base=2), 1.75, rtol=1e-6)
    np.testing.assert_allclose(L.kl(p, q, base=2), 0.25, rtol=1e-5)
    np.testing.assert_allclose(L.kl(p, q), 0.25 * np.log(2), rtol=1e-5)  # nats by default


def test_softmax_vs_sigmoid_example():
    """SPEC BAS-2 / SEQ-5: sigmoid does not sum to 1, softmax_1 = sigma(b - a)."""
    logits = jnp.array([-0.9419267177581787, 1.944047451019287])
    np.testing.assert_allclose(jax.nn.sigmoid(logits), [0.2805, 0.8748], atol=5e-5)
    soft = jnp.exp(L.log_softmax(logits))
    np.testing.assert_allclose(soft, [0.0529, 0.9471], atol=5e-5)
    np.testing.assert_allclose(soft[1], jax.nn.sigmoid(logits[1] - logits[0]), rtol=1e-6)


def test_sigmoid_output_gradients_bas2(rng):
    """SPEC BAS-2: dMSE/dw = (y - t) s'(z) x, dBCE/dw = (y - t) x."""
    x, w, t = rng.normal(size=4), rng.normal(size=4), 1.0
    z = float(np.dot(w, x))
    y = 1 / (1 + np.exp(-z))

    def mse_fn(w_):
        return 0.5 * L.mse(jax.nn.sigmoid(jnp.dot(w_, x))[None], jnp.array([t]))

    bce = jax.jit(jax.grad(lambda w_: L.sigmoid_bce(jnp.dot(w_, x)[None], jnp.array([t]))))(w)
    np.testing.assert_allclose(jax.jit(jax.grad(mse_fn))(w), (y - t) * y * (1 - y) * x, rtol=1e-5)
    np.testing.assert_allclose(bce, (y - t) * x, rtol=1e-5)


def test_mask_and_weights(rng):
    p, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    m = rng.integers(0, 2, size=(4, 3)).astype(bool)
    m[0, 0] = True
    w = rng.uniform(size=(4, 3))
    sq = (p - y) ** 2
    np.testing.assert_allclose(L.mse(p, y, mask=m), sq[m].mean(), rtol=1e-6)
    np.testing.assert_allclose(L.mse(p, y, weights=w, reduction="sum"), (w * sq).sum(), rtol=1e-6)
    np.testing.assert_allclose(L.mse(p, y, weights=w), (w * sq).sum() / w.sum(), rtol=1e-6)
    assert L.mse(p, y, mask=np.zeros((4, 3), bool)) == 0.0


@settings(max_examples=6, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    classes=st.integers(2, 5),
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
def test_reduction_shapes(shape, classes, reduction):
    shape = tuple(shape)
    logits = jnp.zeros((*shape, classes))
    labels = jnp.zeros(shape, jnp.int32)

    @jax.jit
    def run(logits, labels):
        probs = jax.nn.softmax(logits)
        return (
            losses.softmax_ce(logits, labels, reduction=reduction),
            losses.mse(logits, logits, reduction=reduction),
            losses.kl(probs, probs, reduction=reduction),
            losses.softmax_ce(logits, labels),
        )

    ce, se, div, ce_mean = run(logits, labels)
    expected = shape if reduction == "none" else ()
    chex.assert_shape([ce, div], expected)
    chex.assert_shape(se, (*shape, classes) if reduction == "none" else ())
    # Uniform logits: CE = log C for every item.
    np.testing.assert_allclose(ce_mean, np.log(classes), rtol=1e-6)


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"\(4,\)"):
        L.softmax_ce(jnp.zeros((4, 3)), jnp.zeros((4, 2), jnp.int32))
    with pytest.raises(ValueError, match="reduction"):
        L.mse(jnp.zeros(3), jnp.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        L.sigmoid_bce(jnp.zeros(3), jnp.zeros(4))
