"""BasicSR / ESRGAN / torchvision-VGG converters: parity with randomly initialised PyTorch models
(BasicSR's own architecture classes; VGG written here in torchvision's key layout), old ESRGAN key
names, EMA preference, file loading, and checkpoints that do not fit. SPEC: RES-2, RES-3."""

import re

import chex
import jax
import numpy as np
import pytest
import torch
from basicsr_ref import load

from jaxdl.convert.basicsr import (
    load_rrdbnet,
    msrresnet_params_from_basicsr,
    rrdbnet_params_from_basicsr,
    vgg_discriminator_variables_from_basicsr,
)
from jaxdl.convert.vgg import load_vgg, vgg_params_from_torch
from jaxdl.models.rrdbnet import RRDBNet
from jaxdl.models.sr_discriminators import VGGStyleDiscriminator
from jaxdl.models.srresnet import MSRResNet
from jaxdl.models.vgg_features import VGGFeatures

TINY = dict(num_feat=8, num_block=1, num_grow_ch=4)
ATOL = 1e-4


_JITTED = {}


def _apply(model, variables, x) -> np.ndarray:
    """`model.apply` jitted once per model configuration (tests share compiled models)."""
    fn = _JITTED.setdefault(repr(model), jax.jit(model.apply))
    return np.asarray(fn(variables, x))


def _nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


def _image(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _torch_out(model, x_nhwc: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy())).numpy()


@pytest.fixture(scope="module")
def rrdb_arch():
    return load("basicsr.archs.rrdbnet_arch")


def _torch_rrdbnet(arch, scale: int, seed: int = 0, **kw):
    torch.manual_seed(seed)
    return arch.RRDBNet(3, 3, scale=scale, **{**TINY, **kw}).eval()


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_rrdbnet_matches_basicsr(rrdb_arch, scale):
    net = _torch_rrdbnet(rrdb_arch, scale)
    model = RRDBNet(scale=scale, **TINY)
    params = rrdbnet_params_from_basicsr({"params": net.state_dict()}, model)
    x = _image((2, 8, 12, 3))
    out = _apply(model, {"params": params}, x)
    ref = _torch_out(net, x)
    chex.assert_shape(out, (2, 8 * scale, 12 * scale, 3))
    chex.assert_trees_all_close(out, _nhwc(torch.from_numpy(ref)), atol=ATOL, rtol=0)


def test_params_ema_preferred_and_module_prefix_dropped(rrdb_arch):
    plain, ema = _torch_rrdbnet(rrdb_arch, 4, seed=0), _torch_rrdbnet(rrdb_arch, 4, seed=1)
    ema_sd = {f"module.{k}": v for k, v in ema.state_dict().items()}
    params = rrdbnet_params_from_basicsr(
        {"params": plain.state_dict(), "params_ema": ema_sd}, RRDBNet(**TINY)
    )
    want = ema.state_dict()["conv_first.weight"].numpy().transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(params["conv_first"]["kernel"], want)


def _esrgan_release_names(sd: dict) -> dict:
    """BasicSR names → the ESRGAN release's (RRDB_ESRGAN_x4.pth), written out for the test."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^body\.(\d+)\.rdb(\d)\.", r"RRDB_trunk.\1.RDB\2.", k)
        k = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2"}.get(
            k.split(".")[0], k.split(".")[0]
        ) + k[len(k.split(".")[0]) :]
        out[k.replace("conv_hr.", "HRconv.")] = v
    return out


def _first_esrgan_names(sd: dict, num_block: int) -> dict:
    """BasicSR names → the first ESRGAN layout (one nn.Sequential `model`)."""
    top = {"conv_first": "model.0", "conv_body": f"model.1.sub.{num_block}"}
    top.update({"conv_up1": "model.3", "conv_up2": "model.6", "conv_hr": "model.8"})
    top["conv_last"] = "model.10"
    out = {}
    for k, v in sd.items():
        if m := re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(\w+)", k):
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = v
        else:
            head, leaf = k.split(".")
            out[f"{top[head]}.{leaf}"] = v
    return out


@pytest.mark.parametrize("layout", ["release", "first"])
def test_original_esrgan_key_names(rrdb_arch, layout):
    net = _torch_rrdbnet(rrdb_arch, 4)
    sd = net.state_dict()
    renamed = _esrgan_release_names(sd) if layout == "release" else _first_esrgan_names(sd, 1)
    assert "conv_up1.weight" not in renamed and "body.0.rdb1.conv1.weight" not in renamed
    model = RRDBNet(**TINY)
    params = rrdbnet_params_from_basicsr(renamed, model)
    x = _image((2, 8, 12, 3), seed=3)
    out = _apply(model, {"params": params}, x)
    chex.assert_trees_all_close(out, _nhwc(torch.from_numpy(_torch_out(net, x))), atol=ATOL)


def test_load_rrdbnet_file_infers_config(rrdb_arch, tmp_path):
    net = _torch_rrdbnet(rrdb_arch, 2)
    path = tmp_path / "net_g.pth"
    torch.save({"params_ema": net.state_dict()}, path)
    model, params = load_rrdbnet(path)
    assert (model.scale, model.num_feat, model.num_block, model.num_grow_ch) == (2, 8, 1, 4)
    x = _image((2, 8, 12, 3), seed=4)
    out = _apply(model, {"params": params}, x)
    chex.assert_trees_all_close(out, _nhwc(torch.from_numpy(_torch_out(net, x))), atol=ATOL)


def test_rrdbnet_checkpoint_that_does_not_fit(rrdb_arch):
    sd = _torch_rrdbnet(rrdb_arch, 2).state_dict()
    with pytest.raises(ValueError, match=r"scale: checkpoint 2, model 4"):
        rrdbnet_params_from_basicsr(sd, RRDBNet(**TINY))
    with pytest.raises(ValueError, match=r"num_block: checkpoint 1, model 3"):
        rrdbnet_params_from_basicsr(sd, RRDBNet(scale=2, **{**TINY, "num_block": 3}))
    missing = {k: v for k, v in sd.items() if k != "conv_hr.weight"}
    with pytest.raises(ValueError, match=r"missing keys \(1\): conv_hr\.weight"):
        rrdbnet_params_from_basicsr(missing, RRDBNet(scale=2, **TINY))
    extra = {**sd, "conv_extra.weight": sd["conv_hr.weight"]}
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): conv_extra\.weight"):
        rrdbnet_params_from_basicsr(extra, RRDBNet(scale=2, **TINY))
    bad = {**sd, "conv_up1.weight": torch.zeros(8, 8, 5, 5)}
    with pytest.raises(ValueError, match=r"conv_up1\.weight: checkpoint \(8, 8, 5, 5\)"):
        rrdbnet_params_from_basicsr(bad, RRDBNet(scale=2, **TINY))
    with pytest.raises(ValueError, match=r"not a RRDBNet state dict.*conv_first\.weight"):
        rrdbnet_params_from_basicsr({"foo.weight": torch.zeros(1)}, RRDBNet(**TINY))


@pytest.mark.parametrize("upscale", [4, 3])
def test_msrresnet_matches_basicsr(upscale):
    torch.manual_seed(0)
    net = load("basicsr.archs.srresnet_arch").MSRResNet(3, 3, 8, 2, upscale).eval()
    model = MSRResNet(num_feat=8, num_block=2, upscale=upscale)
    params = msrresnet_params_from_basicsr({"params": net.state_dict()}, model)
    x = _image((2, 6, 7, 3), seed=1)
    out = _apply(model, {"params": params}, x)
    chex.assert_shape(out, (2, 6 * upscale, 7 * upscale, 3))
    chex.assert_trees_all_close(out, _nhwc(torch.from_numpy(_torch_out(net, x))), atol=ATOL)
    with pytest.raises(ValueError, match=r"upscale: checkpoint"):
        msrresnet_params_from_basicsr(
            net.state_dict(), MSRResNet(num_feat=8, num_block=2, upscale=2)
        )


def test_vgg_style_discriminator_matches_basicsr():
    torch.manual_seed(0)
    net = load("basicsr.archs.discriminator_arch").VGGStyleDiscriminator(3, 4, 128)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial running statistics and affine
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    model = VGGStyleDiscriminator(num_feat=4)
    variables = vgg_discriminator_variables_from_basicsr({"params": net.state_dict()}, model)
    x = _image((2, 128, 128, 3), seed=2)
    out = _apply(model, variables, x)
    chex.assert_shape(out, (2,))
    chex.assert_trees_all_close(out, _torch_out(net.eval(), x)[:, 0], atol=ATOL)
    with pytest.raises(ValueError, match=r"num_feat: checkpoint 4, model 64"):
        vgg_discriminator_variables_from_basicsr(net.state_dict())


VGG_CFG = {
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M"] + [256] * 4 + ["M"] + ([512] * 4 + ["M"]) * 2,
}


class TorchVGG(torch.nn.Module):
    """torchvision's VGG `features` layout (features.N.weight) with a small classifier."""

    def __init__(self, depth: int, ceil_mode: bool = False):
        super().__init__()
        layers, c = [], 3
        for v in VGG_CFG[depth]:
            if v == "M":
                layers.append(torch.nn.MaxPool2d(2, 2, ceil_mode=ceil_mode))
            else:
                layers += [torch.nn.Conv2d(c, v, 3, 1, 1), torch.nn.ReLU()]
                c = v
        self.features = torch.nn.Sequential(*layers)
        self.classifier = torch.nn.Sequential(torch.nn.Linear(4, 2))

    def taps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs after every layer, by VGG layer name."""
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x, out, b, i = (x - mean) / std, {}, 1, 1
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, torch.nn.Conv2d):
                out[f"conv{b}_{i}"] = x
            elif isinstance(layer, torch.nn.ReLU):
                out[f"relu{b}_{i}"], i = x, i + 1
            else:
                out[f"pool{b}"], b, i = x, b + 1, 1
        return out


@pytest.fixture(scope="module")
def torch_vgg19():
    torch.manual_seed(0)
    return TorchVGG(19).eval()


def test_vgg19_features_match_torchvision_layout(torch_vgg19, tmp_path):
    layers = ("conv1_2", "relu2_2", "conv5_4", "relu5_4")
    model = VGGFeatures(layers=layers)
    path = tmp_path / "vgg19.pth"
    torch.save(torch_vgg19.state_dict(), path)
    params = load_vgg(path, model)
    x = _image((1, 32, 32, 3), seed=5)
    out = model.apply({"params": params}, x)
    with torch.no_grad():
        ref = torch_vgg19.taps(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    assert sorted(out) == sorted(layers)
    for name in layers:  # random-init features shrink with depth: tolerance relative to them
        scale = float(ref[name].abs().max())
        chex.assert_trees_all_close(out[name], _nhwc(ref[name]), atol=1e-5 * scale, rtol=0)
    assert float(np.min(out["conv5_4"])) < 0 <= float(np.min(out["relu5_4"]))


def test_minc_vgg16_ceil_mode_conv5_3():
    torch.manual_seed(1)
    net = TorchVGG(16, ceil_mode=True).eval()
    names = [f"conv{b}{i}" for b, n in enumerate((2, 2, 3, 3, 3), 1) for i in range(1, n + 1)]
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    minc_sd = {}  # ESRGAN's MINCNet names: conv11 ... conv53
    for name, conv in zip(names, convs, strict=True):
        minc_sd[f"{name}.weight"], minc_sd[f"{name}.bias"] = conv.weight, conv.bias
    model = VGGFeatures(layers=("conv5_3",), depth=16, ceil_mode=True)
    params = vgg_params_from_torch(minc_sd, model)
    x = _image((1, 36, 36, 3), seed=6)  # 36 → 18 → 9 → 5 → 3: odd sizes keep partial windows
    out = model.apply({"params": params}, x)["conv5_3"]
    with torch.no_grad():
        ref = _nhwc(net.taps(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))["conv5_3"])
    chex.assert_shape(out, (1, 3, 3, 512))
    chex.assert_trees_all_close(out, ref, atol=1e-5 * float(np.abs(ref).max()), rtol=0)
    with pytest.raises(ValueError, match=r"holds a VGG16 \(13 convs\), the model is VGG19"):
        vgg_params_from_torch(minc_sd, VGGFeatures())


def test_vgg_state_dict_that_does_not_fit(torch_vgg19):
    sd = dict(torch_vgg19.state_dict())
    del sd["features.2.bias"]
    with pytest.raises(ValueError, match=r"missing keys \(1\): conv1_2\.bias"):
        vgg_params_from_torch(sd, VGGFeatures(layers=("conv2_1",)))
    sd = {**torch_vgg19.state_dict(), "features.0.weight": torch.zeros(64, 1, 3, 3)}
    with pytest.raises(ValueError, match=r"conv1_1\.weight: checkpoint \(64, 1, 3, 3\)"):
        vgg_params_from_torch(sd, VGGFeatures(layers=("conv2_1",)))
