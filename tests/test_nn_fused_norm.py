"""FusedGroupNorm (custom VJP) against plain flax GroupNorm (+ SiLU): values and gradients."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from jaxdl.models.unet import DDPMUNet
from jaxdl.nn.fused_norm import FusedGroupNorm, group_norm


def _loss(module, act):
    # A non-linear read-out so that every element's gradient differs.
    return lambda v, x: jnp.sum(jnp.sin(act(module.apply(v, x))) * jnp.arange(x.shape[-1]))


class FusedGroupNormTest(chex.TestCase, parameterized.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.product(
        silu=[False, True], case=[((3, 8, 8, 32), 8), ((2, 5, 12), 3), ((4, 6, 6, 16), 16)]
    )
    def test_matches_flax_group_norm(self, silu, case):
        shape, groups = case
        x = jax.random.normal(jax.random.PRNGKey(0), shape) * 3.0 + 1.5
        ref = nn.GroupNorm(groups, epsilon=1e-6)
        fused = FusedGroupNorm(groups, 1e-6, silu=silu)
        v = ref.init(jax.random.PRNGKey(1), x)
        v = jax.tree.map(lambda a: a + 0.5 * jax.random.normal(jax.random.PRNGKey(2), a.shape), v)
        chex.assert_trees_all_equal_shapes(v, fused.init(jax.random.PRNGKey(1), x))
        act = nn.silu if silu else (lambda h: h)
        want = jax.value_and_grad(_loss(ref, act), argnums=(0, 1))(v, x)
        got = self.variant(jax.value_and_grad(_loss(fused, lambda h: h), argnums=(0, 1)))(v, x)
        chex.assert_trees_all_close(got, want, rtol=2e-5, atol=5e-5)
        out = self.variant(fused.apply)(v, x)
        chex.assert_shape(out, shape)
        chex.assert_type(out, jnp.float32)


def test_large_mean_input_keeps_precision():
    """Two-pass variance: an input with mean 1e3 and std 0.1 matches a float64 NumPy GroupNorm
    (flax's one-pass `use_fast_variance` loses the variance to cancellation here)."""
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 8)) * 0.1 + 1000.0
    xg = np.asarray(x, np.float64).reshape(2, 16, 4, 2)
    mu, var = xg.mean((1, 3), keepdims=True), xg.var((1, 3), keepdims=True)
    want = ((xg - mu) / np.sqrt(var + 1e-6)).reshape(x.shape)
    v = FusedGroupNorm(4, 1e-6).init(jax.random.PRNGKey(1), x)
    # Measured 1.4e-3: the float32 inputs themselves are only 6e-5 apart (std 0.1 -> 6e-4).
    chex.assert_trees_all_close(FusedGroupNorm(4, 1e-6).apply(v, x), want, atol=2e-3)
    # flax's default GroupNorm (one-pass E[x²] - E[x]²) is off by ~270 here.
    one_pass = np.asarray(nn.GroupNorm(4, epsilon=1e-6).apply(v, x))
    assert np.abs(one_pass - want).max() > 1.0


def test_bfloat16_input_keeps_dtype_and_float32_statistics():
    x = (jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 8)) * 50 + 200).astype(jnp.bfloat16)
    m = FusedGroupNorm(4, 1e-6, silu=True)
    v = m.init(jax.random.PRNGKey(1), x)
    out = m.apply(v, x)
    chex.assert_type(out, jnp.bfloat16)
    want = nn.silu(nn.GroupNorm(4, epsilon=1e-6).apply(v, x.astype(jnp.float32)))
    chex.assert_trees_all_close(out.astype(jnp.float32), want, atol=3e-2)
    g = jax.grad(lambda x: jnp.sum(m.apply(v, x).astype(jnp.float32)))(x)
    chex.assert_type(g, jnp.bfloat16)
    assert np.isfinite(np.asarray(g, np.float32)).all()


def test_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="divisible by num_groups=4.*\\(2, 3, 6\\)"):
        FusedGroupNorm(4).init(jax.random.PRNGKey(0), jnp.ones((2, 3, 6)))


def test_group_norm_function_is_differentiable_in_all_inputs():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 3, 4))
    s, b = jnp.full((4,), 1.5), jnp.full((4,), 0.25)
    grads = jax.grad(
        lambda x, s, b: jnp.sum(group_norm(x, s, b, 2, 1e-5, True) ** 2), argnums=(0, 1, 2)
    )(x, s, b)
    chex.assert_trees_all_equal_shapes(grads, (x, s, b))
    assert all(float(jnp.abs(g).sum()) > 0 for g in grads)


def test_unet_fused_and_plain_norms_agree():
    """The U-Net's default (fused) path equals plain flax GroupNorm + Swish: same params,
    outputs and gradients."""
    kw = dict(
        ch=16,
        ch_mult=(1, 2),
        num_res_blocks=1,
        attn_resolutions=(8,),
        dropout=0.0,
        num_groups=8,
        in_ch=3,
        out_ch=3,
    )
    fused, plain = DDPMUNet(**kw), DDPMUNet(**kw, fused_norm=False)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 16, 3), np.float32)
    t = jnp.array([3, 700])
    shapes = jax.eval_shape(plain.init, jax.random.PRNGKey(1), x, t)["params"]
    chex.assert_trees_all_equal_shapes(
        shapes, jax.eval_shape(fused.init, jax.random.PRNGKey(1), x, t)["params"]
    )

    def fill(path, a):
        """Random params from NumPy (compiling the init's RNG took ~40 s on 2 CPU cores):
        kernels ~ N(0, 1/fan_in), norm scales ~ 1 + N(0, 0.05²), biases ~ N(0, 0.05²)."""
        z = rng.standard_normal(a.shape, np.float32)
        if len(a.shape) > 1:
            return z / np.sqrt(np.prod(a.shape[:-1]))
        return (path[-1].key == "scale") + 0.05 * z

    params = jax.tree_util.tree_map_with_path(fill, shapes)

    def loss(model):
        return lambda p: jnp.mean(model.apply({"params": p}, x, t) ** 2)

    (lf, gf), (lp, gp) = (jax.jit(jax.value_and_grad(loss(m)))(params) for m in (fused, plain))
    chex.assert_trees_all_close(lf, lp, rtol=1e-5)
    chex.assert_trees_all_close(gf, gp, rtol=1e-4, atol=1e-5)
