"""GAN networks: MLP toy G/D, DCGAN (GAN-2), CycleGAN ResNet G + PatchGAN (GAN-5), SN (GAN-7).

References are PyTorch re-expressions written here from the published layer lists (the PyTorch
DCGAN tutorial; the CycleGAN paper's appendix / official code with InstanceNorm, no affine).
"""

from functools import partial

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxdl.models.cyclegan import PatchDiscriminator, ResnetGenerator
from jaxdl.models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_layout
from jaxdl.models.gan_mlp import MLPDiscriminator, MLPGenerator
from jaxdl.nn.conv import conv2d, from_torch_conv_transpose_weight, from_torch_conv_weight

tnn = torch.nn


def shapes(module: nn.Module, *args, **kw):
    return jax.eval_shape(lambda: module.init(jax.random.key(0), *args, **kw))


def np_vars(module: nn.Module, *args, seed: int = 0, **kw):
    """Variables shaped as `module.init`, filled by NumPy (avoids slow per-shape RNG compiles)."""
    rng = np.random.default_rng(seed)

    def fill(path, a):
        key = str(getattr(path[-1], "key", path[-1]))
        if key in ("var", "scale") or key.endswith("sigma"):
            return np.ones(a.shape, np.float32)
        if key == "mean":
            return np.zeros(a.shape, np.float32)
        return (rng.normal(size=a.shape) * 0.2).astype(np.float32)

    return jax.tree_util.tree_map_with_path(fill, shapes(module, *args, **kw))


def numels(variables) -> list[int]:
    return sorted(int(np.prod(x.shape)) for x in jax.tree.leaves(variables["params"]))


def torch_numels(model: tnn.Module) -> list[int]:
    return sorted(p.numel() for p in model.parameters())


def rand(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


# ----------------------------------------------------------------------------- torch references


def torch_dcgan_g(nz: int, ngf: int, nc: int, n: int, s: int = 4) -> tnn.Sequential:
    """Tutorial G: ConvT(nz, ngf*2^(n-1), s, 1, 0), then 4x4/2/1 ConvTs halving; BN+ReLU; Tanh."""
    width, layers = ngf * 2 ** (n - 1), []
    layers += [tnn.ConvTranspose2d(nz, width, s, 1, 0, bias=False), tnn.BatchNorm2d(width)]
    layers += [tnn.ReLU()]
    for _ in range(n - 1):
        layers += [tnn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False)]
        layers += [tnn.BatchNorm2d(width // 2), tnn.ReLU()]
        width //= 2
    return tnn.Sequential(*layers, tnn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), tnn.Tanh())


def torch_dcgan_d(nc: int, ndf: int, n: int, s: int = 4) -> tnn.Sequential:
    """Tutorial D without the final sigmoid: 4x4/2/1 convs, BN except the first, LReLU 0.2."""
    layers, c_in = [], nc
    for i in range(n):
        layers += [tnn.Conv2d(c_in, ndf * 2**i, 4, 2, 1, bias=False)]
        layers += [tnn.BatchNorm2d(ndf * 2**i)] if i else []
        layers += [tnn.LeakyReLU(0.2)]
        c_in = ndf * 2**i
    return tnn.Sequential(*layers, tnn.Conv2d(c_in, 1, s, 1, 0, bias=False))


class TorchResBlock(tnn.Module):
    def __init__(self, c: int):
        super().__init__()
        pad, conv, norm = tnn.ReflectionPad2d, tnn.Conv2d, tnn.InstanceNorm2d
        self.body = tnn.Sequential(
            pad(1), conv(c, c, 3), norm(c), tnn.ReLU(), pad(1), conv(c, c, 3), norm(c)
        )

    def forward(self, x):
        return x + self.body(x)


def torch_resnet_g(ngf: int, n_blocks: int, nc: int = 3) -> tnn.Sequential:
    """c7s1-ngf, d2ngf, d4ngf, R4ngf x n, u2ngf, ungf, c7s1-nc (reflection pad, IN, ReLU, Tanh)."""
    norm = tnn.InstanceNorm2d
    layers = [tnn.ReflectionPad2d(3), tnn.Conv2d(nc, ngf, 7), norm(ngf), tnn.ReLU()]
    layers += [tnn.Conv2d(ngf, 2 * ngf, 3, 2, 1), norm(2 * ngf), tnn.ReLU()]
    layers += [tnn.Conv2d(2 * ngf, 4 * ngf, 3, 2, 1), norm(4 * ngf), tnn.ReLU()]
    layers += [TorchResBlock(4 * ngf) for _ in range(n_blocks)]
    layers += [tnn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, 1), norm(2 * ngf), tnn.ReLU()]
    layers += [tnn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, 1), norm(ngf), tnn.ReLU()]
    layers += [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, nc, 7), tnn.Tanh()]
    return tnn.Sequential(*layers)


def torch_patch_d(ndf: int, n_layers: int = 3, nc: int = 3) -> tnn.Sequential:
    """PatchGAN: C(ndf * min(2^i, 8)) for i = 0..n_layers (no IN on the first; stride 2 except
    the last), LeakyReLU 0.2, then a 1-channel conv; 4x4 kernels, padding 1. n_layers=3: 70x70."""
    layers, c_in = [], nc
    for i in range(n_layers + 1):
        c = ndf * min(2**i, 8)
        layers += [tnn.Conv2d(c_in, c, 4, 2 if i < n_layers else 1, 1)]
        layers += [tnn.InstanceNorm2d(c)] if i else []
        layers += [tnn.LeakyReLU(0.2)]
        c_in = c
    return tnn.Sequential(*layers, tnn.Conv2d(c_in, 1, 4, 1, 1))


def weighted(model: tnn.Module) -> list[tnn.Module]:
    kinds = (tnn.Conv2d, tnn.ConvTranspose2d, tnn.BatchNorm2d)
    return [m for m in model.modules() if isinstance(m, kinds)]


def port(model: tnn.Module, names: list[str], project: str | None = None):
    """torch layers (in order) -> flax {"params", "batch_stats"} under `names`."""
    params, stats = {}, {}
    for name, m in zip(names, weighted(model), strict=True):
        w = m.weight.detach().numpy()
        if isinstance(m, tnn.BatchNorm2d):
            params[name] = {"scale": w, "bias": m.bias.detach().numpy()}
            stats[name] = {"mean": m.running_mean.numpy(), "var": m.running_var.numpy()}
            continue
        if name == project:  # ConvT on a 1x1 input == Dense to (s, s, C) in (h, w, c) order
            params[name] = {"kernel": w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)}
        elif isinstance(m, tnn.ConvTranspose2d):
            params[name] = {"kernel": from_torch_conv_transpose_weight(w)}
        else:
            params[name] = {"kernel": from_torch_conv_weight(w)}
        if m.bias is not None:
            params[name]["bias"] = m.bias.detach().numpy()
    return {"params": params, "batch_stats": stats} if stats else {"params": params}


def nest(flat: dict) -> dict:
    out = {}
    for k, v in flat.items():
        *head, last = k.split("/")
        d = out
        for h in head:
            d = d.setdefault(h, {})
        d[last] = v
    return out


def randomize_bn(model: tnn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, tnn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 1 + 0.3 * torch.randn(c, generator=g)
            m.bias.data = 0.3 * torch.randn(c, generator=g)
            m.running_mean.data = 0.5 * torch.randn(c, generator=g)
            m.running_var.data = 0.5 + torch.rand(c, generator=g)


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def nhwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


# ----------------------------------------------------------------------------- shapes / dtypes


def train_and_eval_shapes(module: nn.Module, variables, x):
    """Abstract (train output, updated collections) and eval output; nothing is compiled."""
    train = jax.eval_shape(partial(module.apply, train=True, mutable=["batch_stats"]), variables, x)
    return train, jax.eval_shape(module.apply, variables, x)


def test_mlp_shapes():
    z, x = jnp.zeros((5, 16)), jnp.zeros((5, 2))
    g = MLPGenerator(hidden=(8, 8), out_dim=2)
    vg = shapes(g, z)
    assert sorted(vg) == ["params"] and sorted(vg["params"]) == ["l0", "l1", "l2"]
    chex.assert_shape(jax.eval_shape(g.apply, vg, z), (5, 2))
    for k, sn in [(1, False), (4, True)]:  # GAN logit; MAD-GAN k + 1 = 4 logits, SN
        d = MLPDiscriminator(hidden=(8, 8), num_outputs=k, spectral_norm=sn)
        vd = shapes(d, x)
        assert sorted(vd) == (["batch_stats", "params"] if sn else ["params"])
        (y_train, upd), y_eval = train_and_eval_shapes(d, vd, x)
        chex.assert_shape([y_train, y_eval], (5, k))
        chex.assert_type([y_train, y_eval], jnp.float32)
        chex.assert_trees_all_equal_shapes(upd.get("batch_stats", {}), vd.get("batch_stats", {}))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        shapes(d, x[0])


@pytest.mark.parametrize(("size", "channels", "start"), [(28, 1, 7), (32, 3, 4), (64, 3, 4)])
def test_dcgan_shapes(size, channels, start):
    assert dcgan_layout(size)[0] == start
    g = DCGANGenerator(latent_dim=8, base=4, out_channels=channels, image_size=size)
    z = jnp.zeros((3, 8))
    vg = shapes(g, z)
    (img, upd), img_eval = train_and_eval_shapes(g, vg, z)
    chex.assert_shape([img, img_eval], (3, size, size, channels))
    chex.assert_type([img, img_eval], jnp.float32)
    chex.assert_trees_all_equal_shapes(upd["batch_stats"], vg["batch_stats"])
    for sn in (False, True):
        d = DCGANDiscriminator(base=4, spectral_norm=sn)
        vd = shapes(d, img)
        (logits, upd), logits_eval = train_and_eval_shapes(d, vd, img)
        chex.assert_shape([logits, logits_eval], (3,))
        chex.assert_type([logits, logits_eval], jnp.float32)
        chex.assert_trees_all_equal_shapes(upd["batch_stats"], vd["batch_stats"])
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        shapes(g, jnp.zeros((2, 9)))
    with pytest.raises(ValueError, match="image_size"):
        dcgan_layout(30)
    with pytest.raises(ValueError, match="square"):
        shapes(DCGANDiscriminator(), jnp.zeros((1, 28, 32, 1)))


def test_dcgan_train_flag():
    g = DCGANGenerator(latent_dim=8, base=4, out_channels=1, image_size=28)
    z = jnp.asarray(rand((3, 8)))
    vg = np_vars(g, z)
    img, upd = g.apply(vg, z, train=True, mutable=["batch_stats"])
    assert float(jnp.abs(img).max()) <= 1.0  # Tanh output
    assert not np.allclose(upd["batch_stats"]["project_bn"]["mean"], 0.0)  # statistics updated
    img_eval = g.apply(vg, z)  # running averages (mean 0, var 1) differ from batch statistics
    assert not np.allclose(img_eval, img, atol=1e-3)


def test_cyclegan_shapes():
    x = jnp.zeros((2, 16, 16, 3))
    g = ResnetGenerator(base=4, num_res_blocks=2)
    vg = shapes(g, x)
    assert sorted(vg) == ["params"]  # InstanceNorm without affine: no state, no params
    y = jax.eval_shape(g.apply, vg, x)
    chex.assert_shape(y, x.shape)
    chex.assert_type(y, jnp.float32)
    chex.assert_shape(jax.eval_shape(g.apply, vg, x[:, :8]), (2, 8, 16, 3))
    d = PatchDiscriminator(base=4)
    x = jnp.zeros((2, 32, 32, 3))
    chex.assert_shape(jax.eval_shape(d.apply, shapes(d, x), x), (2, 2, 2, 1))  # 32/8 - 2
    with pytest.raises(ValueError, match="divisible by 4"):
        shapes(g, jnp.zeros((1, 10, 10, 3)))
    x, d = jnp.zeros((1, 256, 256, 3)), PatchDiscriminator()
    out = jax.eval_shape(d.apply, shapes(d, x), x)
    chex.assert_shape(out, (1, 30, 30, 1))  # 30x30 patches of 70x70 at 256x256


def test_dcgan_batchnorm_placement():
    v = shapes(DCGANGenerator(), jnp.zeros((1, 100)))
    assert sorted(v["batch_stats"]) == ["project_bn", "up0_bn", "up1_bn", "up2_bn"]  # not "out"
    assert sorted(v["params"]) == sorted(["out", "project", *v["batch_stats"], "up0", "up1", "up2"])
    v = shapes(DCGANDiscriminator(), jnp.zeros((1, 64, 64, 3)))
    assert sorted(v["batch_stats"]) == ["down1_bn", "down2_bn", "down3_bn"]  # not the input layer
    assert all("bias" not in p for k, p in v["params"].items() if not k.endswith("_bn"))
    v = shapes(DCGANDiscriminator(spectral_norm=True), jnp.zeros((1, 64, 64, 3)))
    assert sorted(v["params"]) == ["down0", "down1", "down2", "down3", "out"]  # no BatchNorm
    sn_state = ["layer_instance/kernel/sigma", "layer_instance/kernel/u", "layer_instance/kernel/v"]
    assert all(sorted(s) == sn_state for s in v["batch_stats"].values())


def test_init_std():
    # Full-width layers; every random draw compiles separately on CPU, so few small modules.
    d = DCGANDiscriminator(base=256)  # at 16x16, down1 is the 64x64 D's 4x4x256x512 layer
    g = DCGANGenerator(image_size=8)  # project: 100 x 4*4*64
    r = ResnetGenerator(num_res_blocks=0, num_downsampling=1)  # down0: 3*3*64*128

    @jax.jit
    def init(key):  # the "rbg" key compiles faster than threefry on CPU
        k = jax.random.split(key, 3)
        return [m.init(kk, x)["params"] for m, kk, x in
                [(g, k[0], jnp.zeros((1, 100))), (d, k[1], jnp.zeros((1, 16, 16, 3))),
                 (r, k[2], jnp.zeros((1, 8, 8, 3)))]]  # fmt: skip

    vg, vd, vr = init(jax.random.key(0, impl="rbg"))
    for k in (vg["project"]["kernel"], vd["down1"]["kernel"], vr["down0"]["kernel"]):
        assert k.size > 70_000
        np.testing.assert_allclose(float(k.std()), 0.02, rtol=0.02)  # lecun: 0.0156 or less
        assert abs(float(k.mean())) < 3e-4
    scale = np.concatenate([vg["project_bn"]["scale"], vd["down1_bn"]["scale"]])
    np.testing.assert_allclose(scale.mean(), 1.0, atol=0.004)  # 576 values ~ N(1, 0.02)
    np.testing.assert_allclose(scale.std(), 0.02, rtol=0.15)
    np.testing.assert_array_equal(vd["down1_bn"]["bias"], 0.0)
    np.testing.assert_array_equal(vr["down0"]["bias"], 0.0)


# ----------------------------------------------------------------------------- parameter counts


def test_parameter_counts_against_published_architectures():
    g_t, d_t = torch_dcgan_g(100, 64, 3, n=4), torch_dcgan_d(3, 64, n=4)
    g = shapes(DCGANGenerator(latent_dim=100, base=64, out_channels=3), jnp.zeros((1, 100)))
    d = shapes(DCGANDiscriminator(base=64), jnp.zeros((1, 64, 64, 3)))
    assert numels(g) == torch_numels(g_t) and sum(numels(g)) == 3_576_704
    assert numels(d) == torch_numels(d_t) and sum(numels(d)) == 2_765_568
    x = jnp.zeros((1, 256, 256, 3))
    rg_t, pd_t = torch_resnet_g(64, 9), torch_patch_d(64)
    assert numels(shapes(ResnetGenerator(), x)) == torch_numels(rg_t)
    assert sum(torch_numels(rg_t)) == 11_378_179  # official pytorch-CycleGAN-and-pix2pix count
    assert numels(shapes(PatchDiscriminator(), x)) == torch_numels(pd_t)
    assert sum(torch_numels(pd_t)) == 2_764_737
    deep = shapes(PatchDiscriminator(num_layers=5), x)  # widths capped at 8 * base
    assert numels(deep) == torch_numels(torch_patch_d(64, n_layers=5))
    six = shapes(ResnetGenerator(num_res_blocks=6), jnp.zeros((1, 128, 128, 3)))
    assert numels(six) == torch_numels(torch_resnet_g(64, 6))  # 128x128 variant


# ----------------------------------------------------------------------------- torch parity


def test_resnet_generator_and_patchgan_match_torch():
    torch.manual_seed(0)
    g_t, d_t = torch_resnet_g(4, 2), torch_patch_d(4)
    res = [f"res{i}/conv{j}" for i in range(2) for j in range(2)]
    names = ["c7s1_in", "down0", "down1", *res, "up0", "up1", "c7s1_out"]
    vg = nest(port(g_t, names)["params"])
    x = rand((2, 16, 16, 3))
    y = jax.jit(ResnetGenerator(base=4, num_res_blocks=2).apply)({"params": vg}, jnp.asarray(x))
    np.testing.assert_allclose(y, nhwc(g_t(nchw(x))), atol=1e-4)
    vd = port(d_t, ["c0", "c1", "c2", "c3", "out"])
    x = rand((2, 32, 32, 3), 1)
    y = jax.jit(PatchDiscriminator(base=4).apply)(vd, jnp.asarray(x))
    np.testing.assert_allclose(y, nhwc(d_t(nchw(x))), atol=1e-4)


def test_dcgan_matches_torch_train_and_eval():
    torch.manual_seed(0)
    g_t, d_t = torch_dcgan_g(8, 4, 3, n=2), torch_dcgan_d(3, 4, n=2)
    randomize_bn(g_t)
    randomize_bn(d_t)
    vg = port(g_t, ["project", "project_bn", "up0", "up0_bn", "out"], project="project")
    vd = port(d_t, ["down0", "down1", "down1_bn", "out"])
    g, d = DCGANGenerator(latent_dim=8, base=4, image_size=16), DCGANDiscriminator(base=4)
    z = rand((4, 8))
    z_t = torch.from_numpy(z)[:, :, None, None]
    g_t.eval()
    np.testing.assert_allclose(g.apply(vg, jnp.asarray(z)), nhwc(g_t(z_t)), atol=1e-4)
    g_t.train()
    img, upd = g.apply(vg, jnp.asarray(z), train=True, mutable=["batch_stats"])
    img_t = g_t(z_t)
    np.testing.assert_allclose(img, nhwc(img_t), atol=1e-4)
    for name, m in [("project_bn", g_t[1]), ("up0_bn", g_t[4])]:  # running stats, momentum 0.1
        np.testing.assert_allclose(upd["batch_stats"][name]["mean"], m.running_mean, atol=1e-5)
        np.testing.assert_allclose(upd["batch_stats"][name]["var"], m.running_var, atol=1e-5)
    x = np.asarray(img)
    logits, upd = d.apply(vd, jnp.asarray(x), train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(logits, d_t(nchw(x)).detach().numpy().reshape(-1), atol=1e-4)
    d_t.eval()  # with the statistics both have just updated
    y = d.apply({**vd, **upd}, jnp.asarray(x))
    np.testing.assert_allclose(y, d_t(nchw(x)).detach().numpy().reshape(-1), atol=1e-4)


# ----------------------------------------------------------------------------- spectral norm


def _run_power_iterations(module, variables, x, calls: int):
    @jax.jit
    def step(stats):
        return module.apply({**variables, "batch_stats": stats}, x, train=True,
                            mutable=["batch_stats"])[1]["batch_stats"]  # fmt: skip

    stats = variables["batch_stats"]
    for _ in range(calls):
        stats = step(stats)
    return stats


def _top_singular_value(kernel) -> float:
    k = np.asarray(kernel, np.float64)
    return float(np.linalg.svd(k.reshape(-1, k.shape[-1]), compute_uv=False)[0])


def test_spectral_norm_dcgan_discriminator():
    d = DCGANDiscriminator(base=8, spectral_norm=True)
    x = jnp.asarray(rand((2, 16, 16, 3)))
    v = np_vars(d, x)
    stats = _run_power_iterations(d, v, x, calls=100)
    p = {k: m["layer_instance"] for k, m in v["params"].items()}
    normalized = {}
    for name, layer in p.items():
        sigma = float(stats[name]["layer_instance/kernel/sigma"])
        assert abs(_top_singular_value(layer["kernel"] / sigma) - 1.0) < 1e-3
        normalized[name] = layer["kernel"] / _top_singular_value(layer["kernel"])
    h = x  # eval forward by hand with W / sigma_svd(W): the network really uses the normalized W
    for name in ("down0", "down1"):
        h = jax.nn.leaky_relu(conv2d(h, normalized[name], p[name]["bias"], 2, 1), 0.2)
    ref = conv2d(h, normalized["out"], p["out"]["bias"], 1, 0).reshape(-1)
    y = d.apply({**v, "batch_stats": stats}, x)
    np.testing.assert_allclose(y, ref, rtol=1e-3, atol=1e-5)


def test_spectral_norm_mlp_discriminator():
    d = MLPDiscriminator(hidden=(16, 16), num_outputs=3, spectral_norm=True)
    x = jnp.asarray(rand((4, 2)))
    v = np_vars(d, x)
    stats = _run_power_iterations(d, v, x, calls=100)
    h = x
    for i in range(3):
        layer = v["params"][f"l{i}"]["layer_instance"]
        sigma = float(stats[f"l{i}"]["layer_instance/kernel/sigma"])
        assert abs(_top_singular_value(layer["kernel"] / sigma) - 1.0) < 1e-3
        h = h @ (layer["kernel"] / _top_singular_value(layer["kernel"])) + layer["bias"]
        h = nn.relu(h) if i < 2 else h
    np.testing.assert_allclose(d.apply({**v, "batch_stats": stats}, x), h, rtol=1e-3, atol=1e-5)
