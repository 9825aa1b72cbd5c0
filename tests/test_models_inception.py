"""FID InceptionV3 (SPEC DIF-6): parity with an independent PyTorch build of pytorch-fid's
network (state dict converted by `inception_params_from_torch`), preprocessing vs torch
`F.interpolate`, converter errors, and loading .safetensors / .pth files."""

import chex
import jax
import numpy as np
import pytest
import torch

from jaxdl.convert import (
    FID_WEIGHTS_URL,
    inception_params_from_torch,
    load_inception,
)
from jaxdl.models.inception import FIDInceptionV3, preprocess

nn = torch.nn
F = torch.nn.functional

# ---- Reference: pytorch-fid's fid_inception_v3() in plain torch.nn (NCHW), no torchvision. ----


class TorchBasicConv(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _tf_avg(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class TorchA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = TorchBasicConv(cin, 64, kernel_size=1)
        self.branch5x5_1 = TorchBasicConv(cin, 48, kernel_size=1)
        self.branch5x5_2 = TorchBasicConv(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = TorchBasicConv(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = TorchBasicConv(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = TorchBasicConv(96, 96, kernel_size=3, padding=1)
        self.branch_pool = TorchBasicConv(cin, pool_features, kernel_size=1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_tf_avg(x))], 1)


class TorchB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = TorchBasicConv(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = TorchBasicConv(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = TorchBasicConv(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = TorchBasicConv(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class TorchC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        row, col = (
            dict(kernel_size=(1, 7), padding=(0, 3)),
            dict(kernel_size=(7, 1), padding=(3, 0)),
        )
        self.branch1x1 = TorchBasicConv(cin, 192, kernel_size=1)
        self.branch7x7_1 = TorchBasicConv(cin, c7, kernel_size=1)
        self.branch7x7_2 = TorchBasicConv(c7, c7, **row)
        self.branch7x7_3 = TorchBasicConv(c7, 192, **col)
        self.branch7x7dbl_1 = TorchBasicConv(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = TorchBasicConv(c7, c7, **col)
        self.branch7x7dbl_3 = TorchBasicConv(c7, c7, **row)
        self.branch7x7dbl_4 = TorchBasicConv(c7, c7, **col)
        self.branch7x7dbl_5 = TorchBasicConv(c7, 192, **row)
        self.branch_pool = TorchBasicConv(cin, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for i in range(2, 6):
            bd = getattr(self, f"branch7x7dbl_{i}")(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(_tf_avg(x))], 1)


class TorchD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = TorchBasicConv(cin, 192, kernel_size=1)
        self.branch3x3_2 = TorchBasicConv(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = TorchBasicConv(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = TorchBasicConv(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = TorchBasicConv(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = TorchBasicConv(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for i in range(2, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class TorchE(nn.Module):
    def __init__(self, cin, max_pool):
        super().__init__()
        self.max_pool = max_pool
        row, col = (
            dict(kernel_size=(1, 3), padding=(0, 1)),
            dict(kernel_size=(3, 1), padding=(1, 0)),
        )
        self.branch1x1 = TorchBasicConv(cin, 320, kernel_size=1)
        self.branch3x3_1 = TorchBasicConv(cin, 384, kernel_size=1)
        self.branch3x3_2a = TorchBasicConv(384, 384, **row)
        self.branch3x3_2b = TorchBasicConv(384, 384, **col)
        self.branch3x3dbl_1 = TorchBasicConv(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = TorchBasicConv(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = TorchBasicConv(384, 384, **row)
        self.branch3x3dbl_3b = TorchBasicConv(384, 384, **col)
        self.branch_pool = TorchBasicConv(cin, 192, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _tf_avg(x)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pool)], 1)


class TorchFIDInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = TorchBasicConv(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = TorchBasicConv(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = TorchBasicConv(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = TorchBasicConv(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = TorchBasicConv(80, 192, kernel_size=3)
        self.Mixed_5b = TorchA(192, 32)
        self.Mixed_5c = TorchA(256, 64)
        self.Mixed_5d = TorchA(288, 64)
        self.Mixed_6a = TorchB(288)
        self.Mixed_6b = TorchC(768, 128)
        self.Mixed_6c = TorchC(768, 160)
        self.Mixed_6d = TorchC(768, 160)
        self.Mixed_6e = TorchC(768, 192)
        self.Mixed_7a = TorchD(768)
        self.Mixed_7b = TorchE(1280, max_pool=False)
        self.Mixed_7c = TorchE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        pool3 = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return pool3, self.fc(pool3)


@pytest.fixture(scope="module")
def torch_net():
    """Random weights; BN affine randomised and running stats set from a calibration batch
    (momentum 1), so every layer sees O(1) activations and non-trivial mean/var."""
    torch.manual_seed(0)
    net = TorchFIDInception()
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.momentum = 1.0
        net.fc.weight.normal_(0.0, 0.05)
        net.train()(2 * torch.rand(3, 3, 160, 160) - 1)  # sets running stats; not the test input
        for bn in bns:
            bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.8, 1.25))
    sd = {k: v.detach().numpy().copy() for k, v in net.eval().state_dict().items()}
    return net, sd


def test_param_count(torch_net):
    net, sd = torch_net
    variables = inception_params_from_torch(sd)
    n_torch = sum(p.numel() for p in net.parameters())
    n_flax = sum(x.size for x in jax.tree.leaves(variables["params"]))
    assert n_flax == n_torch == 23_850_960  # torchvision inception_v3(num_classes=1008, no aux)


def test_parity_with_torch_reference(torch_net):
    net, sd = torch_net
    variables = inception_params_from_torch(sd)
    x = np.random.RandomState(1).uniform(-1, 1, (2, 299, 299, 3)).astype(np.float32)
    with torch.no_grad():
        ref_pool, ref_logits = (t.numpy() for t in net(torch.from_numpy(x.transpose(0, 3, 1, 2))))
    pool, logits = jax.jit(FIDInceptionV3().apply)(variables, x)
    chex.assert_shape(pool, (2, 2048))
    chex.assert_shape(logits, (2, 1008))
    pool, logits = np.asarray(pool), np.asarray(logits)
    assert 0.1 < np.abs(ref_pool).mean() < 10  # activations neither vanished nor exploded
    err_pool = np.abs(pool - ref_pool).max() / np.abs(ref_pool).max()
    err_logits = np.abs(logits - ref_logits).max() / np.abs(ref_logits).max()
    print(
        f"max abs diff: pool3 {np.abs(pool - ref_pool).max():.2e}, "
        f"logits {np.abs(logits - ref_logits).max():.2e}"
    )
    # Measured 1.1e-5 to 1.4e-5 across runs (torch's float32 summation order varies), float32
    # rounding as large as torch float32's own distance from float64 (docs/fid_inception.md).
    # A broken block gives 0.12-0.64.
    assert err_pool < 3e-5, err_pool
    assert err_logits < 3e-5, err_logits


def test_preprocess_matches_torch_interpolate():
    img = np.random.RandomState(2).randint(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    t = torch.from_numpy(img.transpose(0, 3, 1, 2)).float() / 255.0
    want = 2 * F.interpolate(t, size=(299, 299), mode="bilinear", align_corners=False) - 1
    want = want.numpy().transpose(0, 2, 3, 1)
    got = np.asarray(preprocess(img))
    chex.assert_shape(got, (2, 299, 299, 3))
    chex.assert_type(got, np.float32)
    np.testing.assert_allclose(got, want, atol=5e-6, rtol=0)  # a few float32 ulps
    # float input in [0, 1] gives the same result
    np.testing.assert_allclose(np.asarray(preprocess(img / np.float32(255))), got, atol=1e-6)
    with pytest.raises(ValueError, match="NHWC"):
        preprocess(np.zeros((2, 3, 32, 32), np.uint8))


def test_missing_unexpected_and_shape_errors(torch_net):
    _, sd = torch_net
    bad = dict(sd)
    del bad["Mixed_6c.branch7x7_2.bn.running_var"]
    bad["AuxLogits.fc.weight"] = np.zeros((1000, 768), np.float32)
    bad["fc.weight"] = np.zeros((1000, 2048), np.float32)
    with pytest.raises(ValueError) as e:
        inception_params_from_torch(bad)
    msg = str(e.value)
    assert "missing keys (1): Mixed_6c.branch7x7_2.bn.running_var" in msg
    assert "unexpected keys (1): AuxLogits.fc.weight" in msg
    assert "fc.weight: expected (1008, 2048), got (1000, 2048)" in msg
    # num_batches_tracked (newer torch BN) is not an error
    assert "num_batches_tracked" not in msg and any(k.endswith("tracked") for k in sd)


def test_conversion_layout(torch_net):
    _, sd = torch_net
    v = inception_params_from_torch(sd)
    conv = v["params"]["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"]
    chex.assert_shape(conv, (1, 7, 128, 128))
    np.testing.assert_array_equal(
        conv, sd["Mixed_6b.branch7x7_2.conv.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(v["params"]["fc"]["kernel"], sd["fc.weight"].T)
    np.testing.assert_array_equal(
        v["batch_stats"]["Conv2d_1a_3x3"]["bn"]["var"], sd["Conv2d_1a_3x3.bn.running_var"]
    )


def test_load_safetensors_and_pth(torch_net, tmp_path):
    from safetensors.torch import save_file

    net, sd = torch_net
    want = inception_params_from_torch(sd)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(tmp_path / "inception.safetensors"))
    torch.save(net.state_dict(), tmp_path / "pt_inception.pth")
    for name in ("inception.safetensors", "pt_inception.pth"):
        got = load_inception(tmp_path / name)
        chex.assert_trees_all_equal(got, want)


def test_missing_file_names_url(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_inception(tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    assert FID_WEIGHTS_URL in str(e.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in str(e.value)
