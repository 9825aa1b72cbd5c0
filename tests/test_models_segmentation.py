"""RefineNet's RCU and CRP (SPEC SEG-2) and one UNet 3+ decoder node (SEG-3) against PyTorch
re-expressions written here from the papers; identities; shapes of RefineNet, UNet 3+ and the
U-Net baseline; the hybrid loss; bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jaxdl.models.refinenet import CRP, RCU, RefineNet, ResNetEncoder
from jaxdl.models.seg_unet import SegUNet
from jaxdl.models.unet3plus import FullScaleNode, UNet3Plus, cgm_gate, unet3plus_loss

TOL = 1e-5


def _t(x):  # NHWC numpy -> NCHW torch
    return torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())


def _n(x):  # NCHW torch -> NHWC numpy
    return x.detach().numpy().transpose(0, 2, 3, 1)


def _w(kernel):  # flax (kh, kw, in, out) -> torch (out, in, kh, kw)
    return torch.from_numpy(np.asarray(kernel).transpose(3, 2, 0, 1).copy())


def _random_params(params, seed, scale=0.3):
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    new = [scale * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    return jax.tree.unflatten(tree, new)


def torch_rcu(x, p, n_blocks, n_stages):
    """The seed's RCUBlock.forward with `return x`: per block keep x, (ReLU, 3x3 conv) stages."""
    for i in range(1, n_blocks + 1):
        residual = x
        for j in range(1, n_stages + 1):
            conv = p[f"conv{i}_{j}"]
            bias = torch.tensor(np.asarray(conv["bias"])) if j == 1 else None
            x = F.conv2d(F.relu(x), _w(conv["kernel"]), bias, padding=1)
        x = x + residual
    return x


def torch_crp(x, p, n_stages, k):
    """The seed's CRPBlock.forward: pools chain on `top`; MaxPool2d(5, 1, 2) pads with -inf."""
    top = x
    for i in range(1, n_stages + 1):
        top = F.max_pool2d(top, 5, 1, 2)
        top = F.conv2d(top, _w(p[f"conv{i}"]["kernel"]), padding=k // 2)
        x = top + x
    return x


@pytest.mark.parametrize("n_blocks,n_stages", [(2, 2), (1, 3)])
def test_rcu_matches_torch(n_blocks, n_stages):
    x = np.random.default_rng(0).normal(size=(2, 7, 9, 6)).astype(np.float32)
    rcu = RCU(6, n_blocks, n_stages)
    params = _random_params(jax.eval_shape(rcu.init, jax.random.key(0), x)["params"], n_blocks)
    names = {f"conv{i}_{j}" for i in range(1, n_blocks + 1) for j in range(1, n_stages + 1)}
    assert set(params) == names
    assert all(("bias" in v) == k.endswith("_1") for k, v in params.items())
    out = jax.jit(rcu.apply)({"params": params}, x)
    ref = _n(torch_rcu(_t(x), params, n_blocks, n_stages))
    chex.assert_trees_all_close(out, ref, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("kernel_size", [3, 1])
def test_crp_matches_torch_with_negative_inputs_at_the_border(kernel_size):
    # All-negative input: a zero-padded pool would differ from -inf padding at the border.
    x = -np.abs(np.random.default_rng(1).normal(size=(2, 6, 8, 5))).astype(np.float32) - 1
    crp = CRP(5, 3, kernel_size)
    params = _random_params(jax.eval_shape(crp.init, jax.random.key(1), x)["params"], 3)
    out = jax.jit(lambda p, x: crp.apply({"params": p}, x))(params, x)
    ref = _n(torch_crp(_t(x), params, 3, kernel_size))
    chex.assert_trees_all_close(out, ref, atol=TOL, rtol=TOL)
    grads = jax.jit(jax.grad(lambda p: crp.apply({"params": p}, x).sum()))(params)
    assert all(np.isfinite(g).all() and np.abs(g).sum() > 0 for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("module", [RCU(4), CRP(4)], ids=["rcu", "crp"])
def test_zero_kernels_make_rcu_and_crp_the_identity(module):
    x = np.random.default_rng(2).normal(size=(1, 5, 5, 4)).astype(np.float32)
    shapes = jax.eval_shape(module.init, jax.random.key(0), x)["params"]
    apply = jax.jit(module.apply)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape), shapes)
    chex.assert_trees_all_equal(apply({"params": zeros}, x), x)
    # ...and nonzero kernels do change it (the test can fail).
    assert np.abs(apply({"params": _random_params(shapes, 0)}, x) - x).max() > 1e-2


def test_unet3plus_decoder_node_matches_torch():
    """X_De^2 of a 4-level net: X_En^1 (16x16, max-pooled 2x), X_En^2 (8x8), X_De^3 (4x4) and
    X_En^4 (2x2) bilinearly upsampled; each 3x3 conv + BN (batch statistics) + ReLU to 3 ch,
    concatenated, fused by 3x3 conv + BN + ReLU to 12 ch."""
    rng = np.random.default_rng(3)
    shallow = [rng.normal(size=(2, 16, 16, 4)), rng.normal(size=(2, 8, 8, 6))]
    deep = [rng.normal(size=(2, 4, 4, 5)), rng.normal(size=(2, 2, 2, 7))]
    shallow, deep = ([a.astype(np.float32) for a in xs] for xs in (shallow, deep))
    node = FullScaleNode(3)
    shapes = jax.eval_shape(node.init, jax.random.key(0), shallow, deep)
    params = _random_params(shapes["params"], 4, scale=0.5)
    stats = jax.tree.map(lambda s: jnp.ones(s.shape), shapes["batch_stats"])  # unused in training
    apply = jax.jit(lambda v: node.apply(v, shallow, deep, train=True, mutable=["batch_stats"]))
    out, _ = apply({"params": params, "batch_stats": stats})

    def cbr(x, p):
        x = F.conv2d(x, _w(p["Conv_0"]["kernel"]), padding=1)
        bn = p["BatchNorm_0"]
        w, b = (torch.tensor(np.asarray(bn[k])) for k in ("scale", "bias"))
        return F.relu(F.batch_norm(x, None, None, w, b, training=True, eps=1e-5))

    parts = [cbr(F.max_pool2d(_t(shallow[0]), 2, 2, ceil_mode=True), params["enc1"])]
    parts.append(cbr(_t(shallow[1]), params["enc2"]))
    for j, d in enumerate(deep, 1):
        up = F.interpolate(_t(d), size=(8, 8), mode="bilinear", align_corners=False)
        parts.append(cbr(up, params[f"dec{j}"]))
    ref = _n(cbr(torch.cat(parts, 1), params["fuse"]))
    assert out.shape == (2, 8, 8, 12)
    chex.assert_trees_all_close(out, ref, atol=TOL, rtol=TOL)


def test_refinenet_shapes_light_variant_and_stride_error():
    enc = ResNetEncoder((1, 1, 1, 1), width=4, stem="small", stem_stride=1)
    x = jnp.zeros((2, 16, 24, 1))
    for light in (False, True):
        model = RefineNet(3, enc, (4, 4, 4, 8), light=light)
        variables = jax.eval_shape(model.init, jax.random.key(0), x)
        params = variables["params"]
        has_rcu = any("rcu" in name for unit in params.values() for name in unit)
        assert has_rcu != light
        out = jax.eval_shape(model.apply, variables, x)
        assert out.shape == (2, 16, 24, 3)
        crp_kernel = params["refine1"]["crp"]["conv1"]["kernel"]
        assert crp_kernel.shape == ((1, 1, 4, 4) if light else (3, 3, 4, 4))
    assert RefineNet(3).stride == 32
    with pytest.raises(ValueError, match="16x20 is not divisible by the backbone stride 8"):
        model.init(jax.random.key(0), jnp.zeros((1, 16, 20, 1)))


def test_unet3plus_and_unet_shapes_and_cgm():
    x = jnp.zeros((2, 16, 24, 1))
    model = UNet3Plus(5, widths=(5, 6, 7, 8), cgm=True)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    out = jax.eval_shape(lambda v: model.apply(v, x), variables)
    assert out["logits"].shape == (2, 16, 24, 5) and out["presence"].shape == (2, 5)
    assert [s.shape for s in out["side"]] == [(2, 16, 24, 5)] * 3
    assert variables["params"]["dec1"]["fuse"]["Conv_0"]["kernel"].shape == (3, 3, 20, 20)
    no_ds = UNet3Plus(5, widths=(5, 6, 7, 8), deep_supervision=False)
    assert jax.eval_shape(no_ds.init, jax.random.key(0), x)["params"].keys().isdisjoint({"head2"})
    unet = SegUNet(5, widths=(4, 8, 16))
    v = jax.eval_shape(unet.init, jax.random.key(0), x)
    assert jax.eval_shape(unet.apply, v, x).shape == (2, 16, 24, 5)
    for m in (model, unet):
        with pytest.raises(ValueError, match="16x18 is not divisible by the encoder stride"):
            m.init(jax.random.key(0), jnp.zeros((1, 16, 18, 1)))


def test_cgm_gate_zeroes_absent_classes_but_keeps_background():
    probs = jnp.full((2, 3, 3, 4), 0.5)
    presence = jnp.array([[-1.0, 2.0, -3.0, 0.5], [-1.0, -1.0, -1.0, -1.0]])
    gated = cgm_gate(probs, presence)
    np.testing.assert_array_equal(gated[:, 0, 0], [[0.5, 0.5, 0, 0.5], [0.5, 0, 0, 0]])


def test_unet3plus_hybrid_loss_prefers_the_right_map():
    labels = np.zeros((2, 48, 48), np.int32)
    labels[:, 10:30, 12:40] = 2
    onehot = jax.nn.one_hot(labels, 3)
    loss = jax.jit(unet3plus_loss)
    good, bad = loss(20.0 * (2 * onehot - 1), onehot), loss(jnp.zeros_like(onehot), onehot)
    assert np.isfinite(good) and good < 0.05 < bad
    # An anti-correlated map clips MS-SSIM's terms at 0: the gradient stays finite there.
    grad = jax.jit(jax.grad(unet3plus_loss))(-3.0 * (2 * onehot - 1), onehot)
    assert np.isfinite(grad).all()
    with pytest.raises(ValueError, match="H, W >= 44"):
        unet3plus_loss(jnp.zeros((1, 32, 32, 3)), jnp.zeros((1, 32, 32, 3)))


def test_rcu_and_crp_need_matching_channels():
    with pytest.raises(ValueError, match="RCU expects 8 input channels"):
        RCU(8).init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="CRP expects 8 input channels"):
        CRP(8).init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))
