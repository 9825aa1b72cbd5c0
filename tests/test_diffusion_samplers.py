"""DDPM / DDIM steps vs diffusers' `DDPMScheduler.step` / `DDIMScheduler.step`, the scan samplers
vs a diffusers loop and vs exact denoisers of known data. SPEC: DIF-3, DIF-4.
"""

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

import jaxdl.diffusion as jd

HF_NAMES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
# The samplers take any key; "rbg" keys compile several times faster than threefry on CPU.
key = functools.partial(jax.random.key, impl="rbg")
SHAPE = (2, 4, 4, 3)


def _inputs(seed):
    rng = np.random.default_rng(seed)
    x_t = rng.standard_normal(SHAPE).astype(np.float32)
    eps = rng.standard_normal(SHAPE).astype(np.float32)
    return x_t, eps


def _close(got, want, rtol=2e-5, atol=2e-5):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want, np.float32), rtol=rtol, atol=atol)


def _float64(ref):
    """Run a diffusers scheduler in float64: its float32 1 - ᾱ_t/ᾱ_{t-1} cancels at small t (β_1
    1.7e-4 off for cosine), so the tight comparison is against its own code in float64."""
    ref.alphas_cumprod = torch.cumprod(1.0 - ref.betas.double(), 0)
    ref.one = torch.tensor(1.0, dtype=torch.float64)
    if hasattr(ref, "final_alpha_cumprod"):
        final = ref.one if ref.config.set_alpha_to_one else ref.alphas_cumprod[0]
        ref.final_alpha_cumprod = final
    return ref


def _t64(x):
    return torch.from_numpy(np.asarray(x, np.float64))


def _max_abs(got, want):
    return float(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64)).max())


# Every 7th timestep: 143 of the 1000, from t = 0 (no noise) to t = 994.
DDPM_TS = np.arange(0, 1000, 7)


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("clip", [True, False])
def test_ddpm_step_matches_diffusers(name, variance, clip):
    """143 timesteps, all rows of one batched `ddpm_step` call (per-example t). Against diffusers'
    code run in float64 the largest difference is 3.9e-7 (asserted 8e-7); against diffusers as
    shipped (float32 ᾱ, which cancels at small t) 5.2e-5 linear, 1.5e-4 cosine (asserted 1e-4,
    3e-4)."""
    sched = jd.make_schedule(name, 1000)
    kw = dict(beta_schedule=HF_NAMES[name], variance_type=variance, clip_sample=clip)
    ref32, ref64 = DDPMScheduler(**kw), _float64(DDPMScheduler(**kw))
    n = len(DDPM_TS)
    rng = np.random.default_rng(0)
    x_t = rng.standard_normal((n, *SHAPE)).astype(np.float32)
    eps = rng.standard_normal((n, *SHAPE)).astype(np.float32)
    want64, want_x0, want32, z64, z32 = [], [], [], [], []
    for i, t in enumerate(DDPM_TS):
        # diffusers draws z with torch.randn(shape, generator, dtype); draw the same z for ours.
        z64.append(
            torch.randn(SHAPE, generator=torch.Generator().manual_seed(i), dtype=torch.float64)
        )
        z32.append(torch.randn(SHAPE, generator=torch.Generator().manual_seed(i)))
        out64 = ref64.step(
            _t64(eps[i]), int(t), _t64(x_t[i]), generator=torch.Generator().manual_seed(i)
        )
        out32 = ref32.step(
            torch.from_numpy(eps[i]), int(t), torch.from_numpy(x_t[i]),
            generator=torch.Generator().manual_seed(i),
        )  # fmt: skip
        want64.append(out64.prev_sample.numpy())
        want_x0.append(out64.pred_original_sample.numpy())
        want32.append(out32.prev_sample.numpy())
    rows = (n * SHAPE[0], *SHAPE[1:])
    t_rows = jnp.asarray(np.repeat(DDPM_TS, SHAPE[0]), jnp.int32)

    def ours(z):
        z = jnp.asarray(np.stack([a.numpy() for a in z]).reshape(rows), jnp.float32)
        return jd.ddpm_step(
            sched, jnp.asarray(eps.reshape(rows)), t_rows, jnp.asarray(x_t.reshape(rows)), None,
            variance=variance, clip_x0=clip, noise=z,
        )  # fmt: skip

    got64, got32 = ours(z64), ours(z32)
    chex.assert_shape(got64.prev_sample, rows)
    chex.assert_type(got64.prev_sample, jnp.float32)
    want64, want_x0, want32 = (np.stack(w).reshape(rows) for w in (want64, want_x0, want32))
    assert _max_abs(got64.prev_sample, want64) <= 8e-7
    # x̂_0 = (x_t - √(1-ᾱ)ε)/√ᾱ is ~160·x at t = 994 (cosine: ~10⁴): relative to the largest.
    assert _max_abs(got64.pred_x0, want_x0) <= max(5e-6, 2e-7 * np.abs(want_x0).max())
    assert _max_abs(got32.prev_sample, want32) <= (1e-4 if name == "linear" else 3e-4)


@pytest.mark.parametrize("prediction,hf_prediction", [("v", "v_prediction"), ("x0", "sample")])
def test_ddpm_step_other_predictions_match_diffusers(prediction, hf_prediction):
    sched = jd.make_schedule("linear", 1000)
    ref = DDPMScheduler(prediction_type=hf_prediction, clip_sample=False)
    x_t, out_net = _inputs(7)
    z = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    want = ref.step(
        torch.from_numpy(out_net), 300, torch.from_numpy(x_t),
        generator=torch.Generator().manual_seed(7),
    ).prev_sample  # fmt: skip
    got = jd.ddpm_step(
        sched, jnp.asarray(out_net), jnp.full((2,), 300, jnp.int32), jnp.asarray(x_t), None,
        clip_x0=False, prediction=prediction, noise=jnp.asarray(z.numpy()),
    )  # fmt: skip
    _close(got.prev_sample, want.numpy())


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("eta", [0.0, 0.7])
@pytest.mark.parametrize("clip,set_alpha_to_one", [(False, True), (True, False)])
@pytest.mark.parametrize("ref_dtype", [torch.float32, torch.float64])
def test_ddim_step_matches_diffusers(name, eta, clip, set_alpha_to_one, ref_dtype):
    """All 50 steps of `set_timesteps(50)` in one batched `ddim_step` call, against diffusers in
    float32 (as shipped) and in float64: largest x_{t_prev} difference 3.2e-6 linear, 6.5e-6
    cosine (asserted 6e-6, 1.3e-5)."""
    sched = jd.make_schedule(name, 1000)
    ref = DDIMScheduler(
        beta_schedule=HF_NAMES[name], clip_sample=clip, set_alpha_to_one=set_alpha_to_one
    )
    if ref_dtype == torch.float64:
        ref = _float64(ref)
    ref.set_timesteps(50)
    ts, t_prevs = jd.ddim_timesteps(1000, 50)
    np.testing.assert_array_equal(ts, ref.timesteps.numpy())
    rng = np.random.default_rng(1)
    x_t, eps, z = (rng.standard_normal((50, *SHAPE)).astype(np.float32) for _ in range(3))
    want, want_x0 = [], []
    for i, t in enumerate(ts):
        out = ref.step(
            torch.from_numpy(eps[i]).to(ref_dtype), int(t), torch.from_numpy(x_t[i]).to(ref_dtype),
            eta=eta, variance_noise=torch.from_numpy(z[i]).to(ref_dtype) if eta > 0 else None,
        )  # fmt: skip
        want.append(out.prev_sample.numpy())
        want_x0.append(out.pred_original_sample.numpy())
    rows = (50 * SHAPE[0], *SHAPE[1:])
    got = jd.ddim_step(
        sched, jnp.asarray(eps.reshape(rows)), jnp.asarray(np.repeat(ts, SHAPE[0]), jnp.int32),
        jnp.asarray(np.repeat(t_prevs, SHAPE[0]), jnp.int32), jnp.asarray(x_t.reshape(rows)),
        eta, key(0), clip_x0=clip, set_alpha_to_one=set_alpha_to_one,
        noise=jnp.asarray(z.reshape(rows)),
    )  # fmt: skip
    want, want_x0 = np.stack(want).reshape(rows), np.stack(want_x0).reshape(rows)
    assert _max_abs(got.prev_sample, want) <= (6e-6 if name == "linear" else 1.3e-5)
    # Unclipped x̂_0 reaches ~600 at t = 980: 2e-5 absolute or 2e-7 of the largest value.
    assert _max_abs(got.pred_x0, want_x0) <= max(2e-5, 2e-7 * np.abs(want_x0).max())


def _lin_eps_jax(x, t):
    return 0.5 * x + 0.2 * jnp.cos(t / 300.0)[:, None, None, None]


@pytest.mark.parametrize("num_steps,tol", [(10, 2.5e-5), (50, 5e-5)])
@pytest.mark.parametrize("ref_dtype", [torch.float32, torch.float64])
def test_sample_ddim_matches_diffusers_loop_and_traces_once(num_steps, tol, ref_dtype):
    """Toy ε whose trajectory grows to ~25: largest difference from a diffusers loop 1.3e-5
    (10 steps), 2.3e-5 (50 steps), against float32 and float64 diffusers alike."""
    sched = jd.make_schedule("linear", 1000)
    x_T = jax.random.normal(key(0), SHAPE)
    chex.clear_trace_counter()  # the parametrized runs share the counter of `_lin_eps_jax`
    eps_fn = chex.assert_max_traces(_lin_eps_jax, n=1)
    sample = jax.jit(
        functools.partial(
            jd.sample_ddim, eps_fn, sched, SHAPE, num_steps=num_steps, return_trajectory=True
        )
    )
    out, traj = sample(key(1), x_T=x_T)
    chex.assert_shape(out, SHAPE)
    chex.assert_shape(traj, (num_steps, *SHAPE))
    ref = DDIMScheduler(beta_schedule="linear", clip_sample=False)
    if ref_dtype == torch.float64:
        ref = _float64(ref)
    ref.set_timesteps(num_steps)
    x, peak = torch.from_numpy(np.array(x_T)).to(ref_dtype), 0.0
    for i, t in enumerate(ref.timesteps):
        eps = 0.5 * x + 0.2 * torch.cos(t.to(ref_dtype) / 300.0)
        x = ref.step(eps, t, x).prev_sample
        assert _max_abs(traj[i], x.numpy()) <= tol, i
        peak = max(peak, float(x.abs().max()))
    assert peak > 20  # the size of the values the tolerance applies to
    assert _max_abs(out, x.clamp(-1, 1).numpy()) <= 5e-6


def _point_mass_eps(sched, c):
    def eps_fn(x, t):
        a = sched.sqrt_alphas_cumprod[t][:, None, None, None]
        s = sched.sqrt_one_minus_alphas_cumprod[t][:, None, None, None]
        return (x - a * c) / s

    return eps_fn


class StepTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_steps_with_per_example_timesteps(self):
        """(batch,) timesteps act row by row; the noise comes from `key` when not given."""
        sched = jd.make_schedule("cosine", 1000)
        x_t, eps = (jnp.asarray(a) for a in _inputs(3))
        t, t_prev = jnp.array([10, 700], jnp.int32), jnp.array([-1, 650], jnp.int32)
        ddpm = self.variant(lambda e, t, x, k: jd.ddpm_step(sched, e, t, x, k, clip_x0=False))
        ddim = self.variant(lambda e, t, tp, x, k: jd.ddim_step(sched, e, t, tp, x, 0.5, k))
        z = jax.random.normal(key(0), SHAPE)
        got_ddpm, got_ddim = ddpm(eps, t, x_t, key(0)), ddim(eps, t, t_prev, x_t, key(0))
        for i in range(2):
            row = (slice(i, i + 1),)
            want = jd.ddpm_step(
                sched, eps[row], t[i], x_t[row], None, clip_x0=False, noise=z[row]
            )  # fmt: skip
            chex.assert_trees_all_close(got_ddpm.prev_sample[row], want.prev_sample, atol=1e-5)
            want = jd.ddim_step(sched, eps[row], t[i], t_prev[i], x_t[row], 0.5, noise=z[row])
            chex.assert_trees_all_close(got_ddim.prev_sample[row], want.prev_sample, atol=1e-5)
        chex.assert_trees_all_close(got_ddim.pred_x0[0], got_ddim.prev_sample[0])  # ᾱ_prev = 1


class SamplerTest(chex.TestCase):
    @chex.variants(with_jit=True)
    def test_exact_denoiser_of_a_point_mass_returns_it(self):
        """With data = c, ε*(x_t) = (x_t - √ᾱ_t c)/√(1-ᾱ_t): every x̂_0 is c, so the samplers end
        exactly at c (last DDPM step: coef1 = 1, coef2 = 0; last DDIM step: ᾱ_prev = 1)."""
        sched = jd.make_schedule("linear", 1000)
        c = jax.random.uniform(key(2), (1, 4, 4, 3), minval=-0.9, maxval=0.9)
        eps_fn = _point_mass_eps(sched, c)
        ddpm = self.variant(lambda k: jd.sample_ddpm(eps_fn, sched, (2, 4, 4, 3), k))
        ddim = self.variant(lambda k: jd.sample_ddim(eps_fn, sched, (2, 4, 4, 3), k, eta=1.0))
        for out in (ddpm(key(3)), ddim(key(4))):
            chex.assert_shape(out, (2, 4, 4, 3))
            chex.assert_trees_all_close(out, jnp.broadcast_to(c, out.shape), atol=1e-4)


def _exact_moments(m, s, ts, t_prevs, *, variance=None, eta=0.0):
    """Mean and std of x_0 from the sampler's linear-Gaussian chain, exactly, in float64: with
    data ~ N(m, s²) the exact x̂_0 = E[x_0 | x_t] = p·x_t + q, so each step is A·x + B + σ·z."""
    b = jd.linear_betas(1000)
    ac = np.cumprod(1 - b)
    mean, var = 0.0, 1.0
    for t, tp in zip(ts, t_prevs, strict=True):
        a, a_p = ac[t], (ac[tp] if tp >= 0 else 1.0)
        p = np.sqrt(a) * s**2 / (a * s**2 + 1 - a)
        q = m - p * np.sqrt(a) * m
        if variance is not None:  # DDPM: μ̃ = c1·x̂_0 + c2·x_t (tp = t - 1)
            c1, c2 = b[t] * np.sqrt(a_p) / (1 - a), (1 - a_p) * np.sqrt(1 - b[t]) / (1 - a)
            A, B = c1 * p + c2, c1 * q
            sig2 = (
                0.0
                if t == 0
                else (b[t] * (1 - a_p) / (1 - a) if variance == "fixed_small" else b[t])
            )
        else:  # DDIM: √ᾱ_p·x̂_0 + d·(x_t - √ᾱ·x̂_0), d = √(1-ᾱ_p-σ²)/√(1-ᾱ)
            sig2 = eta**2 * (1 - a_p) / (1 - a) * (1 - a / a_p)
            d = np.sqrt(1 - a_p - sig2) / np.sqrt(1 - a)
            A, B = np.sqrt(a_p) * p + d * (1 - np.sqrt(a) * p), (np.sqrt(a_p) - d * np.sqrt(a)) * q
        mean, var = A * mean + B, A**2 * var + sig2
    return mean, np.sqrt(var)


def test_exact_denoiser_of_gaussian_data_gives_the_chains_moments():
    """Data ~ N(m, s²), ε*(x_t) = √(1-ᾱ)(x_t - √ᾱ m)/(ᾱ s² + 1 - ᾱ): the samples' mean and std
    equal the exact moments of each sampler's chain. With s = 0.03 the DDPM variances differ by
    14% in the final std (fixed_small 0.0263, fixed_large 0.0299), 5 times the 2.8% tolerance
    (5 standard errors of a std from 16k draws), so swapping them fails."""
    m, s = 0.1, 0.03
    sched = jd.make_schedule("linear", 1000)

    def eps_fn(x, t):
        a = sched.alphas_cumprod[t][:, None, None, None]
        return jnp.sqrt(1 - a) * (x - jnp.sqrt(a) * m) / (a * s**2 + 1 - a)

    shape, keys = (4000, 2, 2, 1), jax.random.split(key(5), 4)
    n = math.prod(shape)
    std_tol = 5 / math.sqrt(2 * n)  # relative
    all_t = np.arange(999, -1, -1)
    ts, t_prevs = jd.ddim_timesteps(1000, 50)
    small = _exact_moments(m, s, all_t, all_t - 1, variance="fixed_small")
    large = _exact_moments(m, s, all_t, all_t - 1, variance="fixed_large")
    assert large[1] / small[1] - 1 > 4 * std_tol  # the check below tells the two apart
    runs = [  # (samples, exact moments)
        (jd.sample_ddpm(eps_fn, sched, shape, keys[0], clip_x0=False), small),
        (
            jd.sample_ddpm(eps_fn, sched, shape, keys[1], clip_x0=False, variance="fixed_large"),
            large,
        ),
        (jd.sample_ddim(eps_fn, sched, shape, keys[2]), _exact_moments(m, s, ts, t_prevs)),
        (
            jd.sample_ddim(eps_fn, sched, shape, keys[3], eta=0.7),
            _exact_moments(m, s, ts, t_prevs, eta=0.7),
        ),
    ]
    for i, (out, (mean, std)) in enumerate(runs):
        x = np.asarray(out, np.float64).ravel()
        assert abs(x.mean() - mean) < 5 * std / math.sqrt(n), (i, x.mean(), mean)
        assert abs(x.std() / std - 1) < std_tol, (i, x.std(), std)


def test_variance_options_and_trajectory():
    sched = jd.make_schedule("linear", 50)
    eps_fn = lambda x, t: 0.1 * x  # noqa: E731
    small, traj = jd.sample_ddpm(eps_fn, sched, SHAPE, key(0), return_trajectory=True)
    large = jd.sample_ddpm(eps_fn, sched, SHAPE, key(0), variance="fixed_large")
    chex.assert_shape(traj, (50, *SHAPE))
    chex.assert_trees_all_close(small, jnp.clip(traj[-1], -1, 1))
    assert float(jnp.abs(small - large).max()) > 1e-3
    assert float(jnp.abs(small).max()) <= 1.0
    ts, prev = jd.ddim_timesteps(1000, 7, "quadratic")
    assert np.all(prev < ts) and prev[-1] == -1 and np.all(np.diff(ts) < 0)


def test_sampler_bad_inputs():
    sched = jd.make_schedule("linear", 10)
    x = jnp.zeros(SHAPE)
    with pytest.raises(ValueError, match="t_prev must be < t"):
        jd.ddim_step(sched, x, jnp.int32(3), jnp.int32(5), x)
    with pytest.raises(ValueError, match="needs a PRNG `key`"):
        jd.ddim_step(sched, x, jnp.int32(3), jnp.int32(1), x, eta=0.5)
    with pytest.raises(ValueError, match="eta must be >= 0"):
        jd.ddim_step(sched, x, jnp.int32(3), jnp.int32(1), x, eta=-1.0)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 10\)"):
        jd.ddpm_step(sched, x, jnp.int32(10), x, key(0))
    with pytest.raises(ValueError, match="unknown variance 'learned'"):
        jd.ddpm_step(sched, x, jnp.int32(1), x, key(0), variance="learned")
    with pytest.raises(ValueError, match="the network output and x_t must have the same shape"):
        jd.ddpm_step(sched, x[..., :1], jnp.int32(1), x, key(0))
    with pytest.raises(ValueError, match=r"num_steps must lie in \[1, 10\]"):
        jd.sample_ddim(lambda x, t: x, sched, SHAPE, key(0), num_steps=11)
    with pytest.raises(ValueError, match=r"x_T must have shape \(2, 4, 4, 3\)"):
        jd.sample_ddpm(lambda x, t: x, sched, SHAPE, key(0), x_T=jnp.zeros((1, 4)))
