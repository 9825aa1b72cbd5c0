"""SR models (SRResNet, RRDBNet, discriminators), perceptual/generator losses and network
interpolation: PyTorch re-expressions of the BN models written here from the papers, shapes,
initialization, config and input errors. SPEC: RES-2, RES-3, OPT-9. (BasicSR parity of
RRDBNet, MSRResNet, VGGStyleDiscriminator and VGG features: tests/test_convert_basicsr.py.)"""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from basicsr_ref import load
from torch import nn

from jaxdl.gan.losses import g_relativistic_average
from jaxdl.losses.perceptual import (
    esrgan_generator_loss,
    esrgan_perceptual_loss,
    perceptual_loss,
    srgan_content_loss,
    srgan_generator_loss,
)
from jaxdl.models.rrdbnet import ResidualDenseBlock, RRDBNet
from jaxdl.models.sr_common import kaiming_normal
from jaxdl.models.sr_discriminators import SRGANDiscriminator, VGGStyleDiscriminator
from jaxdl.models.srresnet import MSRResNet, SRResNet
from jaxdl.models.vgg_features import VGGFeatures
from jaxdl.optim import interpolate
from jaxdl.restoration.imresize import imresize

TINY_RRDB = dict(num_feat=8, num_block=1, num_grow_ch=4)


def _randomize_bn(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)


def _to_flax(net: nn.Module) -> dict:
    """Torch state dict with the flax module names (dots = nesting) → flax variables."""
    out = {"params": {}, "batch_stats": {}}
    for key, v in net.state_dict().items():
        *mods, leaf = re.sub(r"^body\.(\d+)\.", r"body_\1.", key).split(".")
        if leaf == "num_batches_tracked":
            continue
        v = v.numpy()
        coll = "batch_stats" if leaf.startswith("running_") else "params"
        if v.ndim == 4:
            v = v.transpose(2, 3, 1, 0)
        elif v.ndim == 2:
            v = v.T
        if leaf == "weight":
            leaf = "scale" if "bn" in mods[-1] else "kernel"
        leaf = {"running_mean": "mean", "running_var": "var"}.get(leaf, leaf)
        if mods[-1].startswith("prelu"):
            leaf = "weight"
        node = out[coll]
        for m in mods:
            node = node.setdefault(m, {})
        node[leaf] = v
    return out


class TorchSRResNet(nn.Module):
    """Ledig et al. 2017's SRResNet (fig. 4), written from the paper with jaxdl's layer names."""

    def __init__(self, f: int, blocks: int):
        super().__init__()
        self.conv_first, self.prelu_first = nn.Conv2d(3, f, 9, 1, 4), nn.PReLU()
        self.body = nn.ModuleList()
        for _ in range(blocks):
            blk = nn.Module()
            blk.conv1, blk.bn1, blk.prelu = nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f), nn.PReLU()
            blk.conv2, blk.bn2 = nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f)
            self.body.append(blk)
        self.conv_body, self.bn_body = nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f)
        self.upconv1, self.prelu_up1 = nn.Conv2d(f, 4 * f, 3, 1, 1), nn.PReLU()
        self.upconv2, self.prelu_up2 = nn.Conv2d(f, 4 * f, 3, 1, 1), nn.PReLU()
        self.conv_last = nn.Conv2d(f, 3, 9, 1, 4)

    def forward(self, x):
        head = self.prelu_first(self.conv_first(x))
        h = head
        for b in self.body:
            h = h + b.bn2(b.conv2(b.prelu(b.bn1(b.conv1(h)))))
        h = head + self.bn_body(self.conv_body(h))
        h = self.prelu_up1(nn.functional.pixel_shuffle(self.upconv1(h), 2))
        h = self.prelu_up2(nn.functional.pixel_shuffle(self.upconv2(h), 2))
        return self.conv_last(h)


class TorchSRGANDiscriminator(nn.Module):
    """Ledig et al. 2017's discriminator (fig. 4), written from the paper."""

    def __init__(self, f: int):
        super().__init__()
        self.conv0, c = nn.Conv2d(3, f, 3, 1, 1), f
        for i, (mult, stride) in enumerate(
            ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))
        ):
            setattr(self, f"conv{i + 1}", nn.Conv2d(c, f * mult, 3, stride, 1))
            setattr(self, f"bn{i + 1}", nn.BatchNorm2d(f * mult))
            c = f * mult
        self.linear1, self.linear2 = nn.Linear(c * 6 * 6, 1024), nn.Linear(1024, 1)

    def forward(self, x):
        act = nn.functional.leaky_relu
        x = act(self.conv0(x), 0.2)
        for i in range(1, 8):
            x = act(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)), 0.2)
        return self.linear2(act(self.linear1(x.flatten(1)), 0.2))[:, 0]


def _run_torch(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y = net.eval()(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y


def test_srresnet_matches_torch_reexpression():
    torch.manual_seed(0)
    net = TorchSRResNet(8, 2)
    _randomize_bn(net)
    for m in net.modules():
        if isinstance(m, nn.PReLU):
            m.weight.data.uniform_(0.1, 0.4)
    model = SRResNet(num_feat=8, num_block=2)
    x = np.random.default_rng(0).random((2, 6, 5, 3), dtype=np.float32)
    variables = _to_flax(net)
    chex.assert_trees_all_equal_shapes(variables, jax.eval_shape(model.init, jax.random.key(0), x))
    out = jax.jit(model.apply)(variables, x)
    chex.assert_shape(out, (2, 24, 20, 3))
    chex.assert_trees_all_close(out, _run_torch(net, x), atol=1e-4, rtol=0)


def test_srgan_discriminator_matches_torch_reexpression():
    torch.manual_seed(0)
    net = TorchSRGANDiscriminator(4)
    _randomize_bn(net)
    model = SRGANDiscriminator(num_feat=4)
    x = np.random.default_rng(1).random((2, 96, 96, 3), dtype=np.float32)
    out = jax.jit(model.apply)(_to_flax(net), x)
    chex.assert_shape(out, (2,))
    chex.assert_trees_all_close(out, _run_torch(net, x), atol=1e-4, rtol=0)


def test_shapes_and_train_mode_collections():
    x = jax.ShapeDtypeStruct((2, 8, 8, 3), jnp.float32)
    for model, scale in [
        (RRDBNet(scale=4, **TINY_RRDB), 4),
        (RRDBNet(scale=2, **TINY_RRDB), 2),
        (RRDBNet(scale=1, **TINY_RRDB), 1),
        (MSRResNet(num_feat=8, num_block=1, upscale=3), 3),
    ]:
        v = jax.eval_shape(model.init, jax.random.key(0), x)
        y = jax.eval_shape(model.apply, v, x)
        chex.assert_shape(y, (2, 8 * scale, 8 * scale, 3))
        assert y.dtype == jnp.float32
    model = SRResNet(num_feat=8, num_block=1, upscale=2)
    v = jax.eval_shape(model.init, jax.random.key(0), x)
    y, new = jax.eval_shape(lambda v: model.apply(v, x, train=True, mutable=["batch_stats"]), v)
    chex.assert_shape(y, (2, 16, 16, 3))
    chex.assert_trees_all_equal_shapes(new["batch_stats"], v["batch_stats"])
    d = VGGStyleDiscriminator(num_feat=4, input_size=256)
    dx = jax.ShapeDtypeStruct((3, 256, 256, 3), jnp.float32)
    chex.assert_shape(
        jax.eval_shape(d.apply, jax.eval_shape(d.init, jax.random.key(0), dx), dx), (3,)
    )


def test_paper_rrdbnet_parameter_count_equals_basicsr():
    arch = load("basicsr.archs.rrdbnet_arch")
    ours, ref = {}, {}
    for blocks in (1, 2):  # the 23-block count follows: one-block count + 22 RRDBs
        v = jax.eval_shape(
            RRDBNet(num_block=blocks).init, jax.random.key(0), jnp.zeros((1, 4, 4, 3))
        )
        ours[blocks] = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(v))
        ref[blocks] = sum(p.numel() for p in arch.RRDBNet(3, 3, 4, 64, blocks, 32).parameters())
    assert ours == ref
    assert ours[1] + 22 * (ours[2] - ours[1]) == 16_697_987  # the paper's 16.7M


def test_rrdb_init_is_scaled_kaiming_normal():
    w = kaiming_normal(0.1)(jax.random.key(0), (3, 3, 192, 64))  # RDB conv5, fan_in 1728
    np.testing.assert_allclose(float(jnp.std(w)), 0.1 * np.sqrt(2 / 1728), rtol=0.03)
    assert abs(float(jnp.mean(w))) < 1e-4 and float(jnp.max(jnp.abs(w))) > 3.5 * float(jnp.std(w))


@pytest.fixture(scope="module")
def rdb_params():
    """Two inits of one residual dense block (num_feat 8, growth 4)."""
    block = ResidualDenseBlock(8, 4)
    init = jax.jit(lambda k: block.init(k, jnp.zeros((1, 4, 4, 8)))["params"])
    return init(jax.random.key(0)), init(jax.random.key(1))


def test_rdb_init_biases_zero_and_kernels_scaled(rdb_params):
    p, _ = rdb_params
    assert all(float(jnp.abs(p[f"conv{i}"]["bias"]).max()) == 0 for i in range(1, 6))
    # 10x below PyTorch's default init (std 1/sqrt(3 fan_in)); conv5 fan_in 3·3·24
    assert float(jnp.std(p["conv5"]["kernel"])) < 0.3 * np.sqrt(1 / (3 * 216))


def test_network_interpolation_endpoints_exact(rdb_params):
    a, b = rdb_params
    chex.assert_trees_all_equal(interpolate(a, b, 0.0), a)
    chex.assert_trees_all_equal(interpolate(a, b, 1.0), b)
    mid = interpolate(a, b, 0.3)
    chex.assert_trees_all_close(mid, jax.tree.map(lambda u, v: 0.7 * u + 0.3 * v, a, b), atol=1e-7)
    wider = {**b, "conv5": {**b["conv5"], "bias": jnp.zeros(9)}}
    with pytest.raises(
        ValueError, match=r"shapes differ at \['conv5'\]\['bias'\], \(8,\) vs \(9,\)"
    ):
        interpolate(a, wider, 0.5)
    with pytest.raises(ValueError, match="same structure"):
        interpolate(a, {"conv1": a["conv1"]}, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        interpolate(a, b, 1.5)


@pytest.mark.parametrize(
    "cls, kwargs, published",
    [(RRDBNet, TINY_RRDB, ""), (MSRResNet, dict(num_feat=8, num_block=1), "bilinear")],
)
def test_residual_adds_the_upsampled_input_and_no_parameters(cls, kwargs, published):
    x = jax.random.uniform(jax.random.key(1), (2, 6, 5, 3))
    bases = {
        "bicubic": imresize(x, 4.0),  # MATLAB bicubic: the SR baseline itself
        "bilinear": jax.image.resize(x, (2, 24, 20, 3), "bilinear"),  # half-pixel, no AA
        "": jnp.zeros((2, 24, 20, 3)),
    }
    params = cls(**kwargs).init(jax.random.key(0), x)
    nets = {r: cls(**kwargs, residual=r) for r in bases}
    body = nets[""].apply(params, x)
    for residual, base in bases.items():
        net = nets[residual]
        chex.assert_trees_all_equal_shapes(net.init(jax.random.key(0), x), params)
        np.testing.assert_allclose(net.apply(params, x), body + base, atol=1e-5)
    np.testing.assert_array_equal(cls(**kwargs).apply(params, x), nets[published].apply(params, x))
    with pytest.raises(ValueError, match=r"residual must be one of \('', 'bicubic', 'bilinear'\)"):
        cls(residual="nearest")


def test_config_and_input_errors():
    x = jnp.zeros((1, 6, 6, 3))
    with pytest.raises(ValueError, match=r"scale must be one of \(4, 2, 1\), got 3"):
        RRDBNet(scale=3)
    with pytest.raises(ValueError, match="num_block must be a positive int, got 0"):
        RRDBNet(num_block=0)
    with pytest.raises(ValueError, match=r"upscale must be one of \(2, 3, 4\), got 8"):
        MSRResNet(upscale=8)
    with pytest.raises(ValueError, match="divisible by 4, got 6x6: crop or pad"):
        jax.eval_shape(RRDBNet(scale=1, **TINY_RRDB).init, jax.random.key(0), x)
    with pytest.raises(ValueError, match=r"expects NHWC images \(N, H, W, 3\)"):
        jax.eval_shape(RRDBNet(**TINY_RRDB).init, jax.random.key(0), jnp.zeros((1, 6, 6, 1)))
    with pytest.raises(ValueError, match="input_size must be 128 or 256, got 96"):
        VGGStyleDiscriminator(input_size=96)
    with pytest.raises(ValueError, match=r"\(N, 128, 128, 3\) \(input_size=128\)"):
        jax.eval_shape(VGGStyleDiscriminator().init, jax.random.key(0), jnp.zeros((1, 96, 96, 3)))
    with pytest.raises(ValueError, match="multiple of 16"):
        SRGANDiscriminator(input_size=100)
    with pytest.raises(ValueError, match=r"unknown VGG19 layer\(s\) \['conv5_5'\]; valid.*relu5_4"):
        VGGFeatures(layers=("conv5_5",))


def _toy_features(x):
    return {"conv5_4": 2.0 * x - 0.5, "relu5_4": jax.nn.relu(2.0 * x - 0.5)}


def test_perceptual_losses_closed_form_and_target_gradient():
    rng = np.random.default_rng(0)
    a, b = (rng.random((2, 4, 4, 3), dtype=np.float32) for _ in range(2))
    fa, fb = _toy_features(a), _toy_features(b)
    np.testing.assert_allclose(
        esrgan_perceptual_loss(_toy_features, a, b),
        np.abs(fa["conv5_4"] - fb["conv5_4"]).mean(),
        rtol=1e-6,
    )
    want = np.square((np.asarray(fa["relu5_4"]) - np.asarray(fb["relu5_4"])) / 12.75).mean()
    np.testing.assert_allclose(srgan_content_loss(_toy_features, a, b), want, rtol=1e-5)
    weighted = perceptual_loss(_toy_features, a, b, {"conv5_4": 0.1, "relu5_4": 2.0}, "mse")
    want = (
        0.1 * np.square(fa["conv5_4"] - fb["conv5_4"]).mean()
        + 2 * np.square(fa["relu5_4"] - fb["relu5_4"]).mean()
    )
    np.testing.assert_allclose(weighted, want, rtol=1e-5)
    grad_target = jax.grad(lambda t: esrgan_perceptual_loss(_toy_features, a, t))(b)
    assert float(jnp.abs(grad_target).max()) == 0.0
    with pytest.raises(ValueError, match=r"features_fn gives layers .* not \['conv1_1'\]"):
        perceptual_loss(_toy_features, a, b, {"conv1_1": 1.0})
    with pytest.raises(ValueError, match="unknown criterion 'l3'"):
        perceptual_loss(_toy_features, a, b, {"conv5_4": 1.0}, "l3")


def test_generator_objectives_match_torch():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=8).astype(np.float32), rng.normal(size=8).astype(np.float32)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    tr, tf = torch.from_numpy(real), torch.from_numpy(fake)
    want = 0.25 + 1e-3 * float(bce(tf, torch.ones(8)))  # l_VGG + 1e-3·(−log D(G(z)))
    np.testing.assert_allclose(srgan_generator_loss(jnp.float32(0.25), fake), want, rtol=1e-6)
    # ESRGAN L_G^Ra with BCE-with-logits on C(x_r) − E[C(x_f)] (target 0), C(x_f) − E[C(x_r)] (1)
    ra = float(bce(tr - tf.mean(), torch.zeros(8)) + bce(tf - tr.mean(), torch.ones(8)))
    np.testing.assert_allclose(g_relativistic_average(real, fake), ra, rtol=1e-5)
    got = esrgan_generator_loss(jnp.float32(0.5), real, fake, jnp.float32(0.2))
    np.testing.assert_allclose(got, 0.5 + 5e-3 * ra + 0.01 * 0.2, rtol=1e-6)
