"""Schedules (vs diffusers' DDPMScheduler and the closed forms), q_sample (vs the iterated Markov
chain, in distribution), the posterior (vs Gaussian conditioning) and the input checks.
SPEC: DIF-1, DIF-3.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from diffusers import DDPMScheduler

import jaxdl.diffusion as jd

# Any key works; "rbg" keys compile several times faster than threefry on CPU.
key = functools.partial(jax.random.key, impl="rbg")


@pytest.mark.parametrize(
    ("name", "hf_name"), [("linear", "linear"), ("cosine", "squaredcos_cap_v2")]
)
def test_schedule_matches_diffusers(name, hf_name):
    s = jd.make_schedule(name, 1000)
    ref = DDPMScheduler(num_train_timesteps=1000, beta_schedule=hf_name)
    # diffusers' own (float32) arrays. Measured: β 1.9e-9 (linear) and 0 (cosine); ᾱ 2.4e-7 and
    # 3.0e-7 (diffusers' float32 cumulative product).
    np.testing.assert_allclose(s.betas, ref.betas.numpy(), atol=4e-9, rtol=0)
    np.testing.assert_allclose(s.alphas_cumprod, ref.alphas_cumprod.numpy(), atol=6e-7, rtol=0)
    # Derived arrays from diffusers' β in float64: 1 - ᾱ_t in float32 cancels (ᾱ_0 ≈ 1), which
    # would put diffusers' own √(1-ᾱ_t) up to 2.4e-6 off at small t (cosine).
    betas = ref.betas.double().numpy()
    ac = np.cumprod(1 - betas)
    ac_prev = np.append(1.0, ac[:-1])
    post_var = betas * (1 - ac_prev) / (1 - ac)
    expected = dict(
        betas=betas,
        alphas_cumprod=ac,
        alphas_cumprod_prev=ac_prev,
        sqrt_alphas_cumprod=np.sqrt(ac),
        sqrt_one_minus_alphas_cumprod=np.sqrt(1 - ac),
        posterior_variance=post_var,
        posterior_mean_coef1=betas * np.sqrt(ac_prev) / (1 - ac),
        posterior_mean_coef2=(1 - ac_prev) * np.sqrt(1 - betas) / (1 - ac),
    )
    for field, want in expected.items():
        got = np.asarray(getattr(s, field), np.float64)
        chex.assert_shape(got, (1000,))
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0, err_msg=field)
    # diffusers' own variance at each t equals β̃_t (float32 there: absolute tolerance).
    hf_var = np.array([float(ref._get_variance(t)) for t in (1, 10, 500, 999)])
    np.testing.assert_allclose(
        np.asarray(s.posterior_variance)[[1, 10, 500, 999]], hf_var, atol=2e-7, rtol=0
    )
    log_var = np.asarray(s.posterior_log_variance_clipped)
    np.testing.assert_allclose(log_var[0], log_var[1])
    np.testing.assert_allclose(log_var[1:], np.log(post_var[1:]), rtol=1e-6, atol=1e-6)
    assert s.num_timesteps == 1000 and s.betas.dtype == jnp.float32


def test_schedule_closed_forms():
    lin = np.asarray(jd.make_schedule("linear", 1000).betas)
    np.testing.assert_allclose([lin[0], lin[-1]], [1e-4, 0.02], rtol=1e-6)
    assert np.all(np.diff(lin) > 0)
    # cosine: ᾱ_t = f(t)/f(0) (t = 1..T) until the 0.999 cap is hit at the very end.
    cos = jd.make_schedule("cosine", 1000)
    f = np.cos((np.arange(1001) / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
    np.testing.assert_allclose(
        np.asarray(cos.alphas_cumprod)[:990], (f[1:] / f[0])[:990], rtol=1e-5
    )
    np.testing.assert_allclose(np.asarray(cos.betas).max(), 0.999, rtol=1e-7)
    # signal² + noise² = 1
    np.testing.assert_allclose(
        cos.sqrt_alphas_cumprod**2 + cos.sqrt_one_minus_alphas_cumprod**2, 1, atol=1e-6
    )
    custom = jd.make_schedule("linear", 10, beta_start=0.1, beta_end=0.2)
    np.testing.assert_allclose(custom.betas, np.linspace(0.1, 0.2, 10), rtol=1e-6)


def test_q_sample_matches_iterated_chain_in_distribution():
    """x_t via the closed form vs T steps of x_t = √(1-β_t)·x_{t-1} + √β_t·ε: mean and variance."""
    s = jd.make_schedule("linear", 1000)
    n, x0_vals, checks = 20_000, np.array([-0.9, 0.2, 1.0]), (0, 9, 99, 999)
    rng = np.random.default_rng(0)
    betas = np.asarray(s.betas, np.float64)
    x = np.repeat(x0_vals[:, None], n, axis=1)
    chain = {}
    for t in range(1000):
        x = np.sqrt(1 - betas[t]) * x + np.sqrt(betas[t]) * rng.standard_normal(x.shape)
        if t in checks:
            chain[t] = x
    x0 = jnp.asarray(np.repeat(x0_vals, n)[:, None], jnp.float32)
    for i, t in enumerate(checks):
        noise = jax.random.normal(key(i), x0.shape)
        xt = np.asarray(jd.q_sample(s, x0, jnp.full((x0.shape[0],), t, jnp.int32), noise))
        xt = xt.reshape(3, n)
        ac = float(np.prod(1 - betas[: t + 1]))
        se_mean = 5 * math.sqrt((1 - ac) / n)
        np.testing.assert_allclose(xt.mean(1), chain[t].mean(1), atol=2 * se_mean)
        np.testing.assert_allclose(xt.mean(1), math.sqrt(ac) * x0_vals, atol=se_mean)
        np.testing.assert_allclose(xt.var(1), chain[t].var(1), rtol=0.05)
        np.testing.assert_allclose(xt.var(1), 1 - ac, rtol=0.03)


class QSampleTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_q_sample_formula_and_shapes(self):
        s = jd.make_schedule("cosine", 100)
        x0 = jax.random.uniform(key(0), (3, 4, 4, 2), minval=-1, maxval=1)
        noise = jax.random.normal(key(1), x0.shape)
        t = jnp.array([0, 50, 99], jnp.int32)
        xt = self.variant(jd.q_sample)(s, x0, t, noise)
        chex.assert_shape(xt, x0.shape)
        chex.assert_type(xt, jnp.float32)
        a = np.asarray(s.alphas_cumprod)[[0, 50, 99]][:, None, None, None]
        want = np.sqrt(a) * np.asarray(x0) + np.sqrt(1 - a) * np.asarray(noise)
        chex.assert_trees_all_close(xt, want, atol=1e-6)
        # a scalar t broadcasts over the batch
        chex.assert_trees_all_close(
            self.variant(jd.q_sample)(s, x0, jnp.int32(50), noise)[1], xt[1], atol=1e-6
        )


def test_posterior_matches_gaussian_conditioning():
    """q(x_{t-1}|x_t,x_0) ∝ q(x_t|x_{t-1})·q(x_{t-1}|x_0), computed by completing the square."""
    s = jd.make_schedule("linear", 1000)
    b = jd.linear_betas(1000)  # float64: 1 - ᾱ_0 = 1e-4 cancels in float32
    ac = np.cumprod(1 - b)
    t = np.array([1, 10, 500, 999])
    x0 = np.linspace(-1, 1, 4)[:, None]
    xt = np.array([0.3, -1.2, 2.0, 0.5])[:, None]
    ac_prev = ac[t - 1][:, None]
    bt = b[t][:, None]
    prec = (1 - bt) / bt + 1 / (1 - ac_prev)
    mean = (np.sqrt(1 - bt) * xt / bt + np.sqrt(ac_prev) * x0 / (1 - ac_prev)) / prec
    got_mean, got_var, _ = jd.q_posterior(
        s, jnp.asarray(x0, jnp.float32), jnp.asarray(xt, jnp.float32), jnp.asarray(t, jnp.int32)
    )
    np.testing.assert_allclose(got_mean, mean, atol=1e-5)
    np.testing.assert_allclose(got_var, 1 / prec, rtol=1e-4)


def test_bad_inputs_raise_clearly():
    s = jd.make_schedule("linear", 10)
    x0 = jnp.zeros((2, 4, 4, 3))
    t = jnp.array([0, 9], jnp.int32)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 10\)"):
        jd.q_sample(s, x0, jnp.array([0, 10], jnp.int32), x0)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 10\)"):
        jd.q_sample(s, x0, jnp.array([-1, 3], jnp.int32), x0)
    with pytest.raises(TypeError, match="integer"):
        jd.q_sample(s, x0, jnp.array([0.0, 1.0]), x0)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        jd.q_sample(s, x0, jnp.array([0, 1, 2], jnp.int32), x0)
    with pytest.raises(ValueError, match=r"x0 must lie in \[-1.0, 1.0\].*255"):
        jd.q_sample(s, x0 + 255.0, t, x0)
    with pytest.raises(ValueError, match="x0 and noise must have the same shape"):
        jd.q_sample(s, x0, t, jnp.zeros((2, 4, 4, 1)))
    # under jit only shapes are checked; they still raise.
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        jax.jit(lambda t: jd.q_sample(s, x0, t, x0))(jnp.zeros((3,), jnp.int32))
    with pytest.raises(ValueError, match="unknown schedule 'quadratic'"):
        jd.make_schedule("quadratic")
    with pytest.raises(ValueError, match="num_timesteps"):
        jd.make_schedule("linear", 0)
    with pytest.raises(TypeError, match="beta_max"):
        jd.make_schedule("linear", 10, beta_max=0.1)
    with pytest.raises(ValueError, match=r"betas must lie in \(0, 1\)"):
        jd.schedule_from_betas(np.array([0.1, 1.5]))
