"""Dropout (BAS-6), activations (BAS-1), sinusoidal embeddings (SEQ-3/DDPM), spectral norm
(GAN-7)."""

import ast
import importlib.util
import math
import pathlib

import chex
import flax.linen as nn
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from jaxdl.nn import activations as A
from jaxdl.nn.dropout import Dropout, dropout
from jaxdl.nn.embeddings import sinusoidal_position_embedding, timestep_embedding
from jaxdl.nn.spectral_norm import SpectralNorm, kernel_matrix, power_iteration


def rand(shape, seed=0, scale=1.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


# ----------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("mode", ["inverted", "direct"])
def test_dropout_expected_train_output_equals_eval(mode):
    rate, n = 0.3, 4000
    x = jnp.asarray(rand((32,), 0, 3.0))
    keys = jax.random.split(jax.random.key(1), n)
    ys = jax.vmap(lambda k: dropout(x, rate, k, mode=mode))(keys)
    ev = dropout(x, rate, None, deterministic=True, mode=mode)
    np.testing.assert_allclose(ev, x if mode == "inverted" else x * (1 - rate), rtol=1e-6)
    kept = np.asarray(ys != 0)
    assert abs(kept.mean() - (1 - rate)) < 0.01
    scale = 1 / (1 - rate) if mode == "inverted" else 1.0
    np.testing.assert_allclose(np.where(kept, ys, x * scale), np.broadcast_to(x * scale, ys.shape))
    sem = np.abs(np.asarray(x)) * scale * math.sqrt(rate * (1 - rate) / n)
    assert np.all(np.abs(ys.mean(0) - ev) < 5 * sem + 1e-6)


def test_dropout_module_inverted_equals_flax_and_errors():
    x = jnp.asarray(rand((4, 8), 0))
    rngs = {"dropout": jax.random.key(3)}
    y = Dropout(0.4).apply({}, x, deterministic=False, rngs=rngs)
    np.testing.assert_array_equal(y, nn.Dropout(0.4).apply({}, x, deterministic=False, rngs=rngs))
    np.testing.assert_array_equal(Dropout(0.4).apply({}, x, deterministic=True), x)
    y_direct = Dropout(0.4, mode="direct").apply({}, x, deterministic=False, rngs=rngs)
    np.testing.assert_allclose(y_direct, y * 0.6, rtol=1e-6)  # same mask, no rescale
    with pytest.raises(ValueError, match="rate"):
        dropout(x, 1.0, jax.random.key(0))
    with pytest.raises(ValueError, match="mode"):
        dropout(x, 0.5, jax.random.key(0), mode="other")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- activations

X = np.concatenate([np.linspace(-30, 30, 121), rand((64,), 5, 3.0)]).astype(np.float32)
TX = torch.from_numpy(X)
CASES = [
    ("sigmoid", A.sigmoid, torch.sigmoid),
    ("tanh", A.tanh, torch.tanh),
    ("relu", A.relu, F.relu),
    ("leaky_relu", A.leaky_relu, F.leaky_relu),
    ("leaky_relu_dcgan", lambda x: A.leaky_relu(x, A.DCGAN_LEAKY_SLOPE),
     lambda x: F.leaky_relu(x, 0.2)),
    ("elu", A.elu, F.elu),
    ("elu_0.5", lambda x: A.elu(x, 0.5), lambda x: F.elu(x, 0.5)),
    ("gelu", A.gelu, F.gelu),
    ("gelu_tanh", lambda x: A.gelu(x, True), lambda x: F.gelu(x, approximate="tanh")),
    ("silu", A.silu, F.silu),
]  # fmt: skip


@pytest.mark.parametrize(("name", "fn", "ref"), CASES, ids=[c[0] for c in CASES])
def test_activation_matches_torch(name, fn, ref):
    # Measured: 0 to 4.8e-7 (gelu) on inputs up to ±30.
    np.testing.assert_allclose(fn(jnp.asarray(X)), ref(TX).numpy(), atol=1e-6, rtol=0)


def test_softmax_log_softmax_match_torch_and_are_stable():
    z = rand((5, 7), 0, 10.0)
    z[0] += 1000.0  # overflow without the max shift
    z[1] -= 1000.0
    for fn, ref in [(A.softmax, F.softmax), (A.log_softmax, F.log_softmax)]:
        for axis in (-1, 0):
            y = fn(jnp.asarray(z), axis=axis)
            chex.assert_tree_all_finite(y)
            want = ref(torch.from_numpy(z), dim=axis).numpy()  # measured: 1.2e-10 at most
            np.testing.assert_allclose(y, want, rtol=2e-7, atol=5e-7)
    # BAS-2 worked example: 2-way softmax of its logits.
    p = A.softmax(jnp.array([-0.9419267177581787, 1.944047451019287]))
    np.testing.assert_allclose(p, [0.0529, 0.9471], atol=1e-4)


def test_derivatives_match_autograd():
    tx = TX.clone().requires_grad_(True)
    torch.sigmoid(tx).sum().backward()
    np.testing.assert_allclose(A.sigmoid_grad(jnp.asarray(X)), tx.grad.numpy(), atol=1e-7)
    tx.grad = None
    torch.tanh(tx).sum().backward()
    np.testing.assert_allclose(A.tanh_grad(jnp.asarray(X)), tx.grad.numpy(), atol=1e-6)
    assert float(A.sigmoid_grad(jnp.asarray(X)).max()) == pytest.approx(0.25)  # at x = 0


def test_maxout_and_prelu():
    x = rand((2, 3, 12), 0)
    np.testing.assert_array_equal(A.maxout(jnp.asarray(x), 3), x.reshape(2, 3, 4, 3).max(-1))
    np.testing.assert_array_equal(A.maxout(jnp.asarray(x), 3, axis=1), x.max(1, keepdims=True))
    with pytest.raises(ValueError, match="divisible"):
        A.maxout(jnp.asarray(x), 5)
    xi = rand((2, 3, 3, 4), 1)
    w = rand((4,), 2)
    y = A.PReLU(4).apply({"params": {"weight": w}}, xi)
    y_t = F.prelu(torch.from_numpy(xi).permute(0, 3, 1, 2), torch.from_numpy(w))
    np.testing.assert_allclose(y, y_t.permute(0, 2, 3, 1).numpy(), atol=1e-7)
    v = A.PReLU().init(jax.random.key(0), xi)
    np.testing.assert_allclose(v["params"]["weight"], [0.25])  # torch init
    with pytest.raises(ValueError, match=r"\(\.\.\., C\)"):
        A.PReLU(3).init(jax.random.key(0), xi)


# ----------------------------------------------------------------------------- embeddings


def diffusers_get_timestep_embedding():
    """diffusers' own function, read from its source file (importing diffusers takes ~7 s)."""
    spec = importlib.util.find_spec("diffusers")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "models" / "embeddings.py"
    tree = ast.parse(path.read_text())
    fn = next(
        n for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == "get_timestep_embedding"
    )  # fmt: skip
    ns = {"math": math, "torch": torch}
    exec(compile(ast.Module([fn], []), str(path), "exec"), ns)
    return ns["get_timestep_embedding"]


@pytest.mark.parametrize(
    "kw,atol",
    [
        (dict(dim=128), 6e-5),  # DDPM: flip_sin_to_cos False, downscale_freq_shift 1
        (dict(dim=33, flip_sin_to_cos=True, downscale_freq_shift=0.0), 4e-6),
        (dict(dim=16, scale=2.0, max_period=1000.0), 1e-4),
    ],
)
def test_timestep_embedding_matches_diffusers(kw, atol):
    """Measured: 3.1e-5 (dim 128), 1.7e-6 (dim 33), 5.1e-5 (scale 2): float32 sin of arguments
    up to ~1e3 (2e3 with scale 2), whose own rounding is ~3e-5."""
    ref_fn = diffusers_get_timestep_embedding()
    t = np.array([0.0, 1.0, 17.0, 500.0, 999.5], np.float32)
    kw = dict(kw)
    dim = kw.pop("dim")
    ref = ref_fn(torch.from_numpy(t), dim, **kw).numpy()
    y = timestep_embedding(jnp.asarray(t), dim, **kw)
    chex.assert_shape(y, (5, dim))
    np.testing.assert_allclose(y, ref, rtol=0, atol=atol)
    half = dim // 2
    first = y[0, :half] if not kw.get("flip_sin_to_cos") else y[0, half : 2 * half]
    np.testing.assert_array_equal(first, 0.0)  # sin(0) half


def test_sinusoidal_position_embedding_formula():
    length, d = 6, 8
    pe = np.asarray(sinusoidal_position_embedding(length, d))
    for pos in range(length):
        for i in range(d // 2):
            ang = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(ang), abs=1e-6)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(ang), abs=1e-6)
    with pytest.raises(ValueError, match="even"):
        sinusoidal_position_embedding(4, 7)
    with pytest.raises(ValueError, match=r"\(N,\)"):
        timestep_embedding(jnp.zeros((2, 2)), 8)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 4), dim=st.integers(2, 40), flip=st.booleans())
def test_timestep_embedding_shape_and_range(n, dim, flip):
    emb = jax.jit(timestep_embedding, static_argnums=(1, 2, 3))
    y = emb(jnp.arange(n) * 7.0, dim, flip, 0.0)
    chex.assert_shape(y, (n, dim))
    assert float(jnp.abs(y).max()) <= 1.0


# ----------------------------------------------------------------------------- spectral norm


def test_power_iteration_converges_to_top_singular_value():
    w = jnp.asarray(rand((7, 12), 0))
    sigma, u, v = power_iteration(w, jnp.asarray(rand((7,), 1)), n_steps=50)
    s = np.linalg.svd(np.asarray(w, np.float64), compute_uv=False)
    assert abs(float(sigma) - s[0]) / s[0] < 2e-7  # measured 7.7e-8
    np.testing.assert_allclose(float(jnp.linalg.norm(u)), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(w) @ np.asarray(v), float(sigma) * np.asarray(u), atol=1e-3
    )
    sigma1, _, _ = power_iteration(w, jnp.asarray(rand((7,), 1)), n_steps=1)
    assert float(sigma1) < float(sigma)  # one step from random u underestimates


@pytest.mark.parametrize(
    ("layer", "x_shape", "calls", "n_steps", "rel"),
    [
        # Measured 1.1e-7 (float32 rounding) and 1.8e-4: the conv kernel's top two singular
        # values are 7.45 and 7.24, so 50 power steps have not fully converged.
        (nn.Dense(6), (2, 9), 50, 1, 3e-7),
        (nn.Conv(6, (3, 3)), (1, 5, 5, 4), 1, 50, 3e-4),
    ],
)
def test_spectral_norm_layer_converges_to_svd(layer, x_shape, calls, n_steps, rel):
    m = SpectralNorm(layer, n_steps=n_steps)  # 50 steps: 50 training calls or one 50-step call
    x = jnp.ones(x_shape)
    rng = np.random.default_rng(0)
    v = jax.eval_shape(lambda: m.init(jax.random.key(0), x, update_stats=True))
    v = jax.tree.map(lambda a: rng.normal(size=a.shape).astype(np.float32), v)

    @jax.jit
    def step(stats):
        return m.apply({**v, "batch_stats": stats}, x, update_stats=True, mutable=["batch_stats"])

    stats = v["batch_stats"]
    for _ in range(calls):
        _, upd = step(stats)
        stats = upd["batch_stats"]
    kernel = np.asarray(v["params"]["layer_instance"]["kernel"], np.float64)
    s = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)
    sigma = float(stats["layer_instance/kernel/sigma"])
    assert abs(sigma - s[0]) / s[0] < rel
    w_sn = kernel_matrix(jnp.asarray(kernel / sigma))
    assert abs(np.linalg.svd(np.asarray(w_sn), compute_uv=False)[0] - 1.0) < rel


def test_spectral_norm_matches_torch_train_eval_and_grad():
    torch.manual_seed(0)
    lin = torch.nn.utils.spectral_norm(torch.nn.Linear(5, 4))
    w = lin.weight_orig.detach().numpy().copy()
    params = {"layer_instance": {"kernel": w.T, "bias": lin.bias.detach().numpy().copy()}}
    stats = {
        "layer_instance/kernel/u": lin.weight_u.numpy().copy(),
        "layer_instance/kernel/v": lin.weight_v.numpy().copy(),
        "layer_instance/kernel/sigma": np.float32(1.0),
    }
    m = SpectralNorm(nn.Dense(4))
    x = rand((3, 5), 1)
    init_shapes = jax.eval_shape(lambda: m.init(jax.random.key(0), x, update_stats=False))
    chex.assert_trees_all_equal_shapes(init_shapes, {"params": params, "batch_stats": stats})

    def loss(p, stats, train):
        y, upd = m.apply(
            {"params": p, "batch_stats": stats}, x, update_stats=train, mutable=["batch_stats"]
        )
        return (y**2).sum(), (y, upd["batch_stats"])

    for step in range(3):
        (_, (y, stats)), g = jax.value_and_grad(loss, has_aux=True)(params, stats, True)
        lin.zero_grad()
        y_t = lin(torch.from_numpy(x))
        (y_t**2).sum().backward()
        # Measured: 1.2e-7 (output), 6.0e-8 (u), 7.2e-7 (weight gradient), 6.0e-8 (eval).
        np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=0, atol=1.5e-6)
        u = stats["layer_instance/kernel/u"]
        np.testing.assert_allclose(u, lin.weight_u, rtol=0, atol=1.5e-6)
        if step == 0:
            g_t = lin.weight_orig.grad.numpy().T
            np.testing.assert_allclose(g["layer_instance"]["kernel"], g_t, rtol=0, atol=1.5e-6)
    lin.eval()
    (_, (y, stats_eval)) = loss(params, stats, False)
    y_t = lin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(y, y_t, rtol=0, atol=1.5e-6)
    chex.assert_trees_all_equal(stats_eval, stats)  # eval does not iterate
