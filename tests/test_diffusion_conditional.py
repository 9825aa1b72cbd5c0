"""Conditional paired diffusion: channel concat (noisy first, x̃ never noised), its loss, and the
seed's deterministic DDIM sampler vs a float64 NumPy loop. SPEC: DIF-5.
"""

import functools

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.diffusion as jd

# Any key works; "rbg" keys compile several times faster than threefry on CPU.
key = functools.partial(jax.random.key, impl="rbg")
SCHED = jd.make_schedule("linear", 1000)
SHAPE = (2, 4, 4, 3)
COND = jax.random.uniform(key(0), SHAPE, minval=-1, maxval=1)


class Pick(nn.Module):
    """A stand-in network: returns the channels `sl` of its input."""

    sl: slice

    def __call__(self, x, t):
        return x[..., self.sl] + 0.0 * t[:, None, None, None]


class TinyNet(nn.Module):
    @nn.compact
    def __call__(self, x, t):
        return nn.Conv(3, (3, 3))(x) + 1e-3 * t[:, None, None, None]


def test_cond_eps_concatenates_noisy_first_on_channels():
    x_t = jax.random.normal(key(1), SHAPE)
    t = jnp.array([3, 900], jnp.int32)
    for sl, want in ((slice(0, 3), x_t), (slice(3, 6), COND)):
        out = jd.CondEps(Pick(sl)).apply({}, x_t, COND, t)
        chex.assert_trees_all_equal(out, want)
    model = jd.CondEps(TinyNet())
    params = model.init(key(2), x_t, COND, t)
    chex.assert_shape(params["params"]["net"]["Conv_0"]["kernel"], (3, 3, 6, 3))  # 2·C inputs
    chex.assert_shape(model.apply(params, x_t, COND, t), SHAPE)
    with pytest.raises(ValueError, match="same shape"):
        jd.concat_condition(x_t, COND[..., :1])
    with pytest.raises(ValueError, match=r"must match x_t \(2, 4, 4, 3\)"):
        jd.CondEps(Pick(slice(0, 6))).apply({}, x_t, COND, t)


def test_conditional_loss_is_l_simple_on_the_concatenation():
    x0 = jax.random.uniform(key(3), SHAPE, minval=-1, maxval=1)
    seen = {}

    def cond_eps_fn(x_t, cond, t):
        seen["cond"] = cond
        return 0.5 * x_t - 0.2 * cond

    loss = jd.conditional_loss(SCHED, cond_eps_fn, x0, COND, key(4))
    chex.assert_trees_all_equal(seen["cond"], COND)  # x̃ reaches the network un-noised
    t_key, n_key = jax.random.split(key(4))
    t = jax.random.randint(t_key, (2,), 0, 1000)
    noise = jax.random.normal(n_key, SHAPE)
    x_t = jd.q_sample(SCHED, x0, t, noise)
    chex.assert_trees_all_close(loss, jnp.mean((noise - (0.5 * x_t - 0.2 * COND)) ** 2), rtol=1e-5)
    with pytest.raises(ValueError, match=r"cond must lie in \[-1.0, 1.0\]"):
        jd.conditional_loss(SCHED, cond_eps_fn, x0, COND * 255, key(4))
    with pytest.raises(ValueError, match="same shape"):
        jd.conditional_loss(SCHED, cond_eps_fn, x0, COND[:1], key(4))


def test_sample_conditional_follows_the_seed_update():
    """x_{t-1} = √ᾱ_{t-1}(x_t - √(1-ᾱ_t)ε)/√ᾱ_t + √(1-ᾱ_{t-1})ε over τ (003:847-848), float64."""

    def cond_eps_fn(x_t, cond, t):
        return 0.3 * x_t + 0.5 * cond - 0.1 * (t / 1000.0)[:, None, None, None]

    x_T = jax.random.normal(key(5), SHAPE)
    sample = jax.jit(
        lambda c, x: jd.sample_conditional(
            chex.assert_max_traces(cond_eps_fn, n=1),
            SCHED,
            c,
            key(6),
            num_steps=10,
            x_T=x,
            return_trajectory=True,
        )  # fmt: skip
    )
    out, traj = sample(COND, x_T)
    chex.assert_shape(traj, (10, *SHAPE))
    ac = np.cumprod(1 - jd.linear_betas(1000))
    x, c = np.asarray(x_T, np.float64), np.asarray(COND, np.float64)
    for i, t in enumerate(range(900, -1, -100)):
        eps = 0.3 * x + 0.5 * c - 0.1 * t / 1000
        a_t, a_prev = ac[t], (ac[t - 100] if t >= 100 else 1.0)
        x = (
            np.sqrt(a_prev) * (x - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t)
            + np.sqrt(1 - a_prev) * eps
        )
        np.testing.assert_allclose(traj[i], x, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out, np.clip(x, -1, 1), rtol=1e-4, atol=1e-4)
    # The same as DIF-4's DDIM sampler with η = 0 and no clipping of x̂_0.
    ddim = jd.sample_ddim(
        jd.conditional_eps_fn(cond_eps_fn, COND), SCHED, SHAPE, key(6), num_steps=10, x_T=x_T
    )
    chex.assert_trees_all_close(out, ddim, atol=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        jd.sample_conditional(cond_eps_fn, SCHED, COND, key(0), x_T=x_T[:1])


def test_clip_x0_clips_the_estimate_and_keeps_eps():
    schedule = SCHED
    rng = np.random.default_rng(3)
    x_t = jnp.asarray(rng.standard_normal((2, 4, 4, 3)), jnp.float32)
    eps = jnp.asarray(rng.standard_normal((2, 4, 4, 3)), jnp.float32)
    t, t_prev = jnp.array([900, 900]), 850
    a_t, a_prev = schedule.alphas_cumprod[900], schedule.alphas_cumprod[850]
    x0 = np.clip((np.asarray(x_t) - np.sqrt(1 - a_t) * np.asarray(eps)) / np.sqrt(a_t), -1, 1)
    expected = np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * np.asarray(eps)
    out = jd.conditional_ddim_update(schedule, eps, t, t_prev, x_t, clip_x0=True)
    chex.assert_trees_all_close(out, expected, atol=1e-5, rtol=1e-5)
    plain = jd.conditional_ddim_update(schedule, eps, t, t_prev, x_t)
    assert float(jnp.abs(plain - out).max()) > 1.0  # x̂_0 far outside [-1, 1] at t = 900
