"""Parity figures that the docs give as "measured, not asserted": the sweeps behind them.

    python -m benchmarks.parity [--only conv,resize,...] [--out FILE]

Prints one JSON line per figure: `{"bench": "parity/<section>/<case>", "doc": ..., "max_abs": ...,
...}`. The tests assert each documented figure at about its size where they can; what they do not
assert (a sweep wider than the tests, a measurement of the reference itself, a timing) is measured
here. Sections (all but `groupnorm_ab_big` by default):

- `tests`: runs the test files whose tables docs/nn_conv_resample.md and
  docs/nn_norm_attention_models.md fill from tests this repository asserts at a looser bound,
  recording the largest difference of every `np.testing.assert_allclose` /
  `chex.assert_trees_all_close` call (per test and source line) on the tests' own inputs.
- `conv`, `resize`, `pool`: the wider sweeps of docs/nn_conv_resample.md against torch CPU.
- `fused_norm`: FusedGroupNorm value and gradients vs flax GroupNorm on (32, 32, 32, C).
- `inception`: float64 runs of the PyTorch reference network of tests/test_models_inception.py and
  the error of a deliberately broken reference (docs/fid_inception.md).
- `ms_ssim_rgb`: RGB MS-SSIM vs pytorch-msssim, which averages per-channel MS-SSIM.
- `diffusers_float32`: how far diffusers' float32 schedule arithmetic is from float64.
- `frechet_timing`: seconds for one `frechet_distance` at d = 2048.
- `groupnorm_ab`: train step of the quick DDPM U-Net (channels 16-32, batch 32), fused vs plain
  GroupNorm, interleaved A/B in one process; `groupnorm_ab_big` the 35.7M U-Net at batch 8.

Needs the dev extra (torch, diffusers' deps, pytest, pytorch-msssim). Import paths `tests.*`
are the test modules, for their reference implementations.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import sys
import time
from collections.abc import Callable

import numpy as np

from benchmarks.harness import Reporter, machine_info

DEFAULT = (
    "diffusers_float32",
    "tests",
    "conv",
    "resize",
    "pool",
    "fused_norm",
    "inception",
    "ms_ssim_rgb",
    "frechet_timing",
    "groupnorm_ab",
)
TEST_FILES = (
    "tests/test_nn_pooling.py",
    "tests/test_nn_resize.py",
    "tests/test_nn_sunet_sampling.py",
    "tests/test_nn_attention.py",
    "tests/test_nn_window_attention.py",
)


def _diff(got, want) -> dict:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    err = float(np.abs(got - want).max(initial=0.0))
    ref = float(np.abs(want).max(initial=0.0))
    return {"max_abs": err, "max_ref": ref, "rel": err / ref if ref else 0.0}


class _Worst:
    """Largest difference over a sweep, with the case where it occurred."""

    def __init__(self):
        self.rec, self.n = {"max_abs": -1.0}, 0

    def add(self, got, want, **case) -> None:
        d = _diff(got, want)
        self.n += 1
        if d["max_abs"] > self.rec["max_abs"]:
            self.rec = {**d, "worst_case": case}

    def emit(self, rep: Reporter, bench: str, doc: str) -> None:
        rep.emit(f"parity/{bench}", doc=doc, cases=self.n, **self.rec)


# --------------------------------------------------------------------------- tests (recorded)


class _Recorder:
    """pytest plugin: records the largest difference of every closeness assertion."""

    def __init__(self):
        self.records: dict[tuple[str, int], dict] = {}
        self.test = "?"

    def pytest_runtest_setup(self, item):
        self.test = item.nodeid

    def _record(self, actual, desired):
        import traceback

        line = next(
            (f.lineno for f in reversed(traceback.extract_stack()) if "/tests/test_" in f.filename),
            0,
        )
        try:
            d = _diff(*np.broadcast_arrays(np.asarray(actual, np.float64), desired))
        except (TypeError, ValueError, AssertionError):
            return
        r = self.records.setdefault((self.test, line), {"max_abs": 0.0, "max_ref": 0.0, "n": 0})
        r["max_abs"], r["max_ref"] = (
            max(r["max_abs"], d["max_abs"]),
            max(r["max_ref"], d["max_ref"]),
        )
        r["n"] += 1

    def pytest_sessionstart(self, session):
        import chex
        import jax

        np_close, chex_close = np.testing.assert_allclose, chex.assert_trees_all_close

        def np_patched(actual, desired, *a, **k):
            self._record(actual, desired)
            return np_close(actual, desired, *a, **k)

        def chex_patched(*trees, **k):
            for a, b in zip(jax.tree.leaves(trees[0]), jax.tree.leaves(trees[1]), strict=False):
                self._record(a, b)
            return chex_close(*trees, **k)

        np.testing.assert_allclose, chex.assert_trees_all_close = np_patched, chex_patched
        self._restore = lambda: (
            setattr(np.testing, "assert_allclose", np_close),
            setattr(chex, "assert_trees_all_close", chex_close),
        )

    def pytest_sessionfinish(self, session):
        self._restore()


def section_tests(rep: Reporter, args) -> None:
    import pytest

    rec = _Recorder()
    files = args.test_files.split(",") if args.test_files else list(TEST_FILES)
    with contextlib.redirect_stdout(sys.stderr):
        code = pytest.main(
            ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", *files], plugins=[rec]
        )
    for (test, line), r in sorted(rec.records.items()):
        rep.emit(
            "parity/tests",
            test=test,
            line=line,
            asserts=r["n"],
            max_abs=r["max_abs"],
            max_ref=r["max_ref"],
        )
    if code:
        rep.emit("parity/tests_failed", exit_code=int(code))


# --------------------------------------------------------------------------- conv / resize / pool


def _nchw(x):
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)))


def _nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def section_conv(rep: Reporter, args) -> None:
    """k ∈ {1,3,4,5}, s ∈ {1,2,3}, p ∈ {0,1,2}, d ∈ {1,2}, groups ∈ {1,2} (transposed: and every
    valid output_padding), random normal inputs, 4 -> 6 channels."""
    import jax.numpy as jnp
    import torch

    from jaxdl.nn import (
        conv2d,
        conv_transpose2d,
        conv_transpose_output_size,
        from_torch_conv_transpose_weight,
        from_torch_conv_weight,
    )

    rng = np.random.default_rng(0)
    fwd, tr = _Worst(), _Worst()
    for k, s, p, d, g in itertools.product((1, 3, 4, 5), (1, 2, 3), (0, 1, 2), (1, 2), (1, 2)):
        x = rng.standard_normal((2, 13, 12, 4)).astype(np.float32)
        b = rng.standard_normal(6).astype(np.float32)
        if 13 + 2 * p >= d * (k - 1) + 1:
            w = rng.standard_normal((6, 4 // g, k, k)).astype(np.float32)
            ref = torch.nn.functional.conv2d(
                _nchw(x), torch.from_numpy(w), torch.from_numpy(b), s, p, d, g
            )
            out = conv2d(
                jnp.asarray(x), jnp.asarray(from_torch_conv_weight(w)), jnp.asarray(b), s, p, d, g
            )
            fwd.add(out, _nhwc(ref), k=k, s=s, p=p, d=d, groups=g)
        xt = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
        for op in range(max(s, d)):
            if min(conv_transpose_output_size(n, k, s, p, op, d) for n in (6, 5)) < 1:
                continue
            w = rng.standard_normal((4, 6 // g, k, k)).astype(np.float32)
            ref = torch.nn.functional.conv_transpose2d(
                _nchw(xt), torch.from_numpy(w), torch.from_numpy(b), s, p, op, g, d
            )
            kernel = jnp.asarray(from_torch_conv_transpose_weight(w))
            out = conv_transpose2d(jnp.asarray(xt), kernel, jnp.asarray(b), s, p, op, d, g)
            tr.add(out, _nhwc(ref), k=k, s=s, p=p, d=d, groups=g, output_padding=op)
    fwd.emit(rep, "conv/conv2d_vs_torch", "docs/nn_conv_resample.md")
    tr.emit(rep, "conv/conv_transpose2d_vs_torch", "docs/nn_conv_resample.md")


def _resize_case(trackers, x, ours, method, torch_ac, torch_kw, case) -> None:
    """Adds one resize case to (vs torch32, torch32 vs torch64, ours vs torch64)."""
    import torch

    def ref(dtype):
        t = _nchw(x).to(dtype)
        out = torch.nn.functional.interpolate(t, **torch_kw, mode=method, align_corners=torch_ac)
        return _nhwc(out)

    trackers[0].add(ours, ref(torch.float32), **case)
    if method != "nearest":
        trackers[1].add(ref(torch.float32), ref(torch.float64), **case)
        trackers[2].add(ours, ref(torch.float64), **case)


def section_resize(rep: Reporter, args) -> None:
    """Every method and align_corners, sizes from 1-16 to 1-32 (50 random pairs each) and scale
    factors 0.3-3 on a 13x11 input. For the linear methods also both float32 results against
    torch's float64 result (how much of the difference is torch's own rounding)."""
    import jax.numpy as jnp

    from jaxdl.nn import resize

    rng = np.random.default_rng(1)
    for method, ac in (
        ("nearest", False),
        ("bilinear", False),
        ("bilinear", True),
        ("bicubic", False),
        ("bicubic", True),
    ):
        trackers = (_Worst(), _Worst(), _Worst())
        torch_ac = None if method == "nearest" else ac
        for _ in range(50):
            hw_in = tuple(int(v) for v in rng.integers(1, 17, 2))
            hw_out = tuple(int(v) for v in rng.integers(1, 33, 2))
            x = rng.standard_normal((1, *hw_in, 2)).astype(np.float32)
            ours = resize(jnp.asarray(x), hw_out, method, ac)
            _resize_case(
                trackers,
                x,
                ours,
                method,
                torch_ac,
                {"size": hw_out},
                {"hw_in": hw_in, "hw_out": hw_out},
            )
        if not ac:
            x = rng.standard_normal((1, 13, 11, 2)).astype(np.float32)
            for f in (0.3, 0.5, 0.7, 1.1, 1.5, 2.0, 2.5, 3.0):
                ours = resize(jnp.asarray(x), method=method, scale_factor=f)
                _resize_case(
                    trackers, x, ours, method, torch_ac, {"scale_factor": f}, {"scale_factor": f}
                )
        name, doc = f"resize/{method}_align_corners={ac}", "docs/nn_conv_resample.md"
        trackers[0].emit(rep, name, doc)
        if method != "nearest":
            trackers[1].emit(rep, name + "/torch32_vs_torch64", doc)
            trackers[2].emit(rep, name + "/jaxdl_vs_torch64", doc)


def section_pool(rep: Reporter, args) -> None:
    """max / avg pooling: k 1-4, s 1-3, p <= k/2, ceil_mode, count_include_pad; global pools vs
    float64 NumPy; pixel (un)shuffle equality."""
    import jax.numpy as jnp
    import torch

    from jaxdl.nn import global_avg_pool, global_max_pool, pixel_shuffle, pixel_unshuffle
    from jaxdl.nn.pooling import avg_pool, max_pool

    rng = np.random.default_rng(2)
    mx, av = _Worst(), _Worst()
    for k, s, p, ceil, cip in itertools.product(
        (1, 2, 3, 4), (1, 2, 3), (0, 1, 2), (False, True), (False, True)
    ):
        if 2 * p > k:
            continue
        x = rng.standard_normal((2, 11, 9, 3)).astype(np.float32)
        ref = torch.nn.functional.max_pool2d(_nchw(x), k, s, p, ceil_mode=ceil)
        mx.add(max_pool(jnp.asarray(x), k, s, p, ceil), _nhwc(ref), k=k, s=s, p=p, ceil=ceil)
        ref = torch.nn.functional.avg_pool2d(_nchw(x), k, s, p, ceil, cip)
        av.add(
            avg_pool(jnp.asarray(x), k, s, p, ceil, cip),
            _nhwc(ref),
            k=k,
            s=s,
            p=p,
            ceil=ceil,
            count_include_pad=cip,
        )
    mx.emit(rep, "pool/max_pool_vs_torch", "docs/nn_conv_resample.md")
    av.emit(rep, "pool/avg_pool_vs_torch", "docs/nn_conv_resample.md")
    glob = _Worst()
    for _ in range(10):
        x = rng.standard_normal((3, 17, 13, 8)).astype(np.float32)
        glob.add(global_avg_pool(jnp.asarray(x)), x.astype(np.float64).mean((1, 2)))
        glob.add(global_max_pool(jnp.asarray(x)), x.max((1, 2)))
    glob.emit(rep, "pool/global_pools_vs_numpy64", "docs/nn_conv_resample.md")
    shuf = _Worst()
    for r, h, w, c in itertools.product((2, 3), (1, 4), (2, 5), (1, 3)):
        x = rng.standard_normal((2, h, w, c * r * r)).astype(np.float32)
        shuf.add(
            pixel_shuffle(jnp.asarray(x), r), _nhwc(torch.nn.functional.pixel_shuffle(_nchw(x), r))
        )
        y = rng.standard_normal((2, h * r, w * r, c)).astype(np.float32)
        shuf.add(
            pixel_unshuffle(jnp.asarray(y), r),
            _nhwc(torch.nn.functional.pixel_unshuffle(_nchw(y), r)),
        )
    shuf.emit(rep, "pool/pixel_shuffle_vs_torch", "docs/nn_conv_resample.md")


# --------------------------------------------------------------------------- norm, inception


def _fused_vs_flax(c: int, groups: int, silu: bool) -> dict:
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    from jaxdl.nn.fused_norm import FusedGroupNorm

    key = jax.random.key(c)
    x = jax.random.normal(key, (32, 32, 32, c)) * 2.0 + 0.5
    w = jax.random.normal(jax.random.fold_in(key, 1), (32, 32, 32, c))
    v = nn.GroupNorm(groups, epsilon=1e-6).init(key, x)
    v = jax.tree.map(lambda a: a + 0.3 * jax.random.normal(key, a.shape), v)
    ref_module, act = nn.GroupNorm(groups, epsilon=1e-6), nn.silu if silu else (lambda h: h)
    fused = FusedGroupNorm(groups, 1e-6, silu=silu)

    def ref_out(v, x):
        return act(ref_module.apply(v, x))

    def fused_out(v, x):
        return fused.apply(v, x)

    def grads(out):  # a read-out weighted by w, so that every element's gradient differs
        return jax.jit(jax.grad(lambda v, x, w: jnp.sum(out(v, x) * w), (0, 1)))(v, x, w)

    outs = {"value": (jax.jit(fused_out)(v, x), jax.jit(ref_out)(v, x))}
    got, ref = grads(fused_out), grads(ref_out)
    outs["grad_x"] = (got[1], ref[1])
    for name in ("scale", "bias"):
        outs[f"grad_{name}"] = (got[0]["params"][name], ref[0]["params"][name])
    return {k: _diff(a, b)["rel"] for k, (a, b) in outs.items()}


def section_fused_norm(rep: Reporter, args) -> None:
    """Relative differences (max |diff| / max |flax|) of the value and of the gradients with
    respect to x, scale and bias, float32, (32, 32, 32, C)."""
    for c in (16, 32, 64, 128, 256):
        groups = 8 if c < 64 else 32
        for silu in (False, True):
            rel = _fused_vs_flax(c, groups, silu)
            rep.emit(
                "parity/fused_norm/vs_flax_group_norm",
                doc="docs/nn_norm_attention_models.md",
                channels=c,
                groups=groups,
                silu=silu,
                rel=max(rel.values()),
                **rel,
            )


def section_inception(rep: Reporter, args) -> None:
    """jaxdl and torch float32 vs the same torch network in float64, and jaxdl vs references
    broken on purpose (count_include_pad=True in the TF-style average pools; average instead of
    max pooling in Mixed_7c)."""
    import jax
    import torch

    import tests.test_models_inception as ref_mod
    from jaxdl.convert import inception_params_from_torch
    from jaxdl.models.inception import FIDInceptionV3

    torch.manual_seed(0)  # as the test's fixture: random weights, calibrated BatchNorm statistics
    net = ref_mod.TorchFIDInception()
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.momentum = 1.0
        net.fc.weight.normal_(0.0, 0.05)
        net.train()(2 * torch.rand(3, 3, 160, 160) - 1)
        for bn in bns:
            bn.running_var.mul_(torch.empty_like(bn.running_var).uniform_(0.8, 1.25))
    net.eval()
    variables = inception_params_from_torch(
        {k: v.numpy().copy() for k, v in net.state_dict().items()}
    )
    x = np.random.RandomState(1).uniform(-1, 1, (2, 299, 299, 3)).astype(np.float32)
    pool, logits = (np.asarray(a) for a in jax.jit(FIDInceptionV3().apply)(variables, x))

    def run(model, dtype=torch.float32):
        with torch.no_grad():
            return [t.double().numpy() for t in model.to(dtype)(_nchw(x).to(dtype))]

    ref32 = run(net)
    ref64 = run(net, torch.float64)
    net.to(torch.float32)
    doc = "docs/fid_inception.md"
    for i, name in enumerate(("pool3", "logits")):
        rep.emit(
            f"parity/inception/{name}_jaxdl_vs_torch32",
            doc=doc,
            **_diff((pool, logits)[i], ref32[i]),
        )
        rep.emit(
            f"parity/inception/{name}_jaxdl_vs_torch64",
            doc=doc,
            **_diff((pool, logits)[i], ref64[i]),
        )
        rep.emit(
            f"parity/inception/{name}_torch32_vs_torch64", doc=doc, **_diff(ref32[i], ref64[i])
        )
    tf_avg = ref_mod._tf_avg
    try:
        ref_mod._tf_avg = lambda t: torch.nn.functional.avg_pool2d(
            t, 3, 1, 1, count_include_pad=True
        )
        broken = run(net)
    finally:
        ref_mod._tf_avg = tf_avg
    for i, name in enumerate(("pool3", "logits")):
        rep.emit(
            f"parity/inception/{name}_vs_broken_count_include_pad",
            doc=doc,
            **_diff((pool, logits)[i], broken[i]),
        )
    net.Mixed_7c.max_pool = False
    broken = run(net)
    for i, name in enumerate(("pool3", "logits")):
        rep.emit(
            f"parity/inception/{name}_vs_broken_avg_pool_in_E2",
            doc=doc,
            **_diff((pool, logits)[i], broken[i]),
        )


def section_ms_ssim_rgb(rep: Reporter, args) -> None:
    import jax

    from jaxdl import metrics
    from tests.test_metrics_image_quality import _images, _torch_ms_ssim

    rng = np.random.default_rng(5)
    pred, target = _images(rng, (2, 176, 192, 3), 0.15)
    ours = jax.jit(metrics.ms_ssim)(pred, target)
    per_channel = np.mean(
        [jax.jit(metrics.ms_ssim)(pred[..., c : c + 1], target[..., c : c + 1]) for c in range(3)],
        0,
    )
    ref = _torch_ms_ssim(pred, target, 1.0)
    rep.emit(
        "parity/ms_ssim_rgb/jaxdl_vs_pytorch_msssim",
        doc="docs/losses_metrics.md",
        **_diff(ours, ref),
    )
    rep.emit(
        "parity/ms_ssim_rgb/per_channel_mean_vs_pytorch_msssim",
        doc="docs/losses_metrics.md",
        **_diff(per_channel, ref),
    )


def section_diffusers_float32(rep: Reporter, args) -> None:
    """How far diffusers' float32 schedule arithmetic is from float64 (docs/diffusion.md note):
    β_t recovered as 1 - ᾱ_t/ᾱ_{t-1} in float32 torch (as its `step` does), relative, at t = 1,
    and √(1-ᾱ_t) from its float32 ᾱ, absolute, over all t."""
    import torch
    from diffusers import DDPMScheduler

    for name in ("linear", "squaredcos_cap_v2"):
        ref = DDPMScheduler(beta_schedule=name)
        betas64 = ref.betas.double().numpy()
        ac64 = np.cumprod(1.0 - betas64)
        ac32 = ref.alphas_cumprod
        beta1 = float(1 - ac32[1] / ac32[0])
        sqrt32 = torch.sqrt(1 - ac32).double().numpy()
        rep.emit(
            f"parity/diffusers_float32/{name}",
            doc="docs/diffusion.md",
            beta_t1_rel=abs(beta1 - betas64[1]) / betas64[1],
            sqrt_one_minus_abar_max_abs=float(np.abs(sqrt32 - np.sqrt(1 - ac64)).max()),
        )


def section_frechet_timing(rep: Reporter, args) -> None:
    """`frechet_distance` at d = 2048 (pool3 features): scipy.linalg.sqrtm dominates."""
    from benchmarks.harness import time_fn
    from jaxdl.metrics.generative import frechet_distance

    rng = np.random.default_rng(0)
    feats = [
        rng.standard_normal((4096, 2048)) @ rng.standard_normal((2048, 2048)) / 45 for _ in range(2)
    ]
    stats = [(f.mean(0), np.cov(f, rowvar=False)) for f in feats]
    timing = time_fn(
        lambda: np.float64(frechet_distance(*stats[0], *stats[1])), repeats=1, warmup=0
    )
    rep.emit("parity/frechet_timing/d2048", doc="docs/fid_inception.md", **timing)


# --------------------------------------------------------------------------- GroupNorm A/B timing


def _unet_train_step(model, batch_size: int, channels: int) -> tuple[Callable, object, dict]:
    import jax
    import optax

    from jaxdl import diffusion

    schedule = diffusion.make_schedule("linear", 1000)
    x0 = jax.random.uniform(jax.random.key(1), (batch_size, 32, 32, channels), minval=-1)
    t0 = jax.numpy.zeros((1,), jax.numpy.int32)
    params = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x0[:1], t0)["params"]
    tx = optax.adam(2e-4)

    def apply(p, x, t, rng):
        return model.apply({"params": p}, x, t, train=True, rngs={"dropout": rng})

    loss_fn = diffusion.make_loss_fn(schedule, apply)

    @jax.jit
    def step(state, batch):
        params, opt, key = state
        key, sub = jax.random.split(key)
        grads = jax.grad(lambda p: loss_fn(p, batch, sub)[0])(params)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), opt, key)

    return step, (params, tx.init(params), jax.random.key(2)), {"image": x0}


def _ab(rep: Reporter, name: str, make: Callable, batch_size: int, channels: int, repeats: int):
    import jax

    runs = {}
    for fused in (True, False):
        step, state, batch = _unet_train_step(make(fused), batch_size, channels)
        t0 = time.perf_counter()
        state = jax.block_until_ready(step(state, batch))
        runs[fused] = [step, state, batch, time.perf_counter() - t0, []]
    for r in range(repeats):  # interleaved, alternating which goes first
        for fused in (True, False) if r % 2 == 0 else (False, True):
            step, state, batch = runs[fused][:3]
            t0 = time.perf_counter()
            runs[fused][1] = jax.block_until_ready(step(state, batch))
            runs[fused][4].append(time.perf_counter() - t0)
    med = {f: float(np.median(runs[f][4])) for f in runs}
    rep.emit(
        f"parity/groupnorm_ab/{name}",
        doc="docs/nn_norm_attention_models.md",
        batch_size=batch_size,
        repeats=repeats,
        fused_median_s=med[True],
        plain_median_s=med[False],
        plain_over_fused=med[False] / med[True],
        fused_first_call_s=runs[True][3],
        plain_first_call_s=runs[False][3],
    )


def section_groupnorm_ab(rep: Reporter, args) -> None:
    from jaxdl.models.unet import DDPMUNet

    def quick(fused):  # experiments/ddpm_cifar.py --preset quick
        return DDPMUNet(
            ch=16,
            num_res_blocks=1,
            attn_resolutions=(8,),
            dropout=0.0,
            num_groups=8,
            in_ch=1,
            out_ch=1,
            fused_norm=fused,
        )

    _ab(rep, "quick_unet_train_step_b32", quick, 32, 1, args.repeats)


def section_groupnorm_ab_big(rep: Reporter, args) -> None:
    from jaxdl.models.unet import DDPMUNet

    _ab(
        rep,
        "cifar10_unet_train_step_b8",
        lambda fused: DDPMUNet(dropout=0.0, fused_norm=fused),
        8,
        3,
        max(3, args.repeats // 4),
    )


SECTIONS = {
    name[len("section_") :]: fn for name, fn in globals().items() if name.startswith("section_")
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.parity")
    p.add_argument(
        "--only", default=",".join(DEFAULT), help=f"comma-separated sections of {sorted(SECTIONS)}"
    )
    p.add_argument("--test_files", default="", help="for `tests`: comma-separated test files")
    p.add_argument("--repeats", type=int, default=20, help="for the A/B timings")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        p.error(f"unknown sections {unknown}; choose from {sorted(SECTIONS)}")
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the test paths
    rep = Reporter(args.out)
    rep.emit("parity/machine", **machine_info())
    for name in names:
        t0 = time.perf_counter()
        SECTIONS[name](rep, args)
        rep.emit("parity/section_done", section=name, seconds=time.perf_counter() - t0)


if __name__ == "__main__":
    main()
