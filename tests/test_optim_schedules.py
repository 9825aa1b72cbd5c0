"""Schedules, momentum forms under the SPEC mappings, EWMA bias correction, parameter EMA and
network interpolation. SPEC: OPT-2, OPT-5, OPT-6, OPT-9.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jaxdl.optim as jo


def _values(schedule, steps):
    return np.asarray(jax.jit(jax.vmap(schedule))(jnp.asarray(steps, jnp.int32)))


def test_linear_warmup_then_constant_cosine_poly():
    base, tw, total = 0.1, 4, 14
    np.testing.assert_allclose(
        _values(jo.linear_warmup(base, tw), [0, 1, 3, 4, 100]), [0.025, 0.05, 0.1, 0.1, 0.1]
    )
    t = np.arange(total + 3)
    expected_cos = np.where(
        t < tw, base * (t + 1) / tw, base * 0.5 * (1 + np.cos(np.pi * np.minimum(t - tw, 10) / 10))
    )
    np.testing.assert_allclose(
        _values(jo.warmup_cosine(base, tw, total), t), expected_cos, atol=1e-7
    )
    expected_poly = np.where(
        t < tw, base * (t + 1) / tw, base * (1 - np.minimum(t - tw, 10) / 10) ** 0.9
    )
    np.testing.assert_allclose(
        _values(jo.warmup_poly(base, tw, total), t), expected_poly, atol=1e-7
    )
    # poly alone is DeepLab's base·(1 − it/max_it)^power (OPT-6).
    np.testing.assert_allclose(
        _values(jo.poly(0.01, 100, 0.9), [0, 50, 100, 150]),
        [0.01, 0.01 * 0.5**0.9, 0, 0],
        atol=1e-9,
    )


def test_esrgan_step_halving_matches_torch():
    gan = jo.multistep(1e-4, (50_000, 100_000, 200_000, 300_000))
    steps = [0, 49_999, 50_000, 99_999, 100_000, 200_000, 299_999, 300_000, 10**6]
    np.testing.assert_allclose(
        _values(gan, steps),
        [1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 1.25e-5, 1.25e-5, 6.25e-6, 6.25e-6],
        rtol=1e-6,
    )
    psnr = jo.step_decay(2e-4, every=200_000)
    np.testing.assert_allclose(
        _values(psnr, [0, 199_999, 200_000, 400_000, 650_000]),
        [2e-4, 2e-4, 1e-4, 5e-5, 2.5e-5],
        rtol=1e-6,
    )
    # torch MultiStepLR over a small copy of the same milestones.
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[5, 10, 20, 30], gamma=0.5)
    ref = []
    for _ in range(35):
        ref.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(
        _values(jo.multistep(1e-4, (5, 10, 20, 30)), range(35)), ref, rtol=1e-6
    )


def _run(tx, params, grads):
    state = tx.init(params)
    step = jax.jit(tx.update)
    for g in grads:
        updates, state = step(g, state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_momentum_forms_agree_under_spec_mappings():
    """velocity(η) = torch(η); ema(α) = torch(α(1−β)); differ after an LR change. SPEC: OPT-2."""
    rng = np.random.default_rng(0)
    params = {"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)}
    grads = [{"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)} for _ in range(20)]
    beta, eta = 0.9, 0.05
    torch_form = _run(jo.momentum(eta, beta), params, grads)
    chex.assert_trees_all_close(
        _run(jo.momentum(eta, beta, form="velocity"), params, grads),
        torch_form,
        rtol=1e-5,
        atol=1e-6,
    )
    chex.assert_trees_all_close(
        _run(jo.momentum(eta / (1 - beta), beta, form="ema"), params, grads),
        torch_form,
        rtol=1e-5,
        atol=1e-6,
    )
    # With a learning-rate drop the velocity form keeps the old η inside v: the forms part ways.
    drop = jo.multistep(eta, (10,), factor=0.1)
    a = _run(jo.momentum(drop, beta), params, grads)["w"]
    b = _run(jo.momentum(drop, beta, form="velocity"), params, grads)["w"]
    assert not np.allclose(a, b, rtol=1e-3)


def test_ewma_worked_example_beta_098():
    """β = 0.98: v₁ = 0.02θ₁ (debiased: θ₁); v₂ = 0.0196θ₁ + 0.02θ₂, debiased by 0.0396."""
    tx = jo.ewma(0.98)
    theta = [jnp.asarray(10.0), jnp.asarray(20.0), jnp.asarray(-5.0)]
    state = tx.init(theta[0])
    out1, state = tx.update(theta[0], state)
    np.testing.assert_allclose(float(state.average), 0.02 * 10.0, rtol=1e-6)
    np.testing.assert_allclose(float(out1), 10.0, rtol=1e-6)
    out2, state = tx.update(theta[1], state)
    np.testing.assert_allclose(float(out2), (0.0196 * 10 + 0.02 * 20) / 0.0396, rtol=1e-6)
    out3, state = jax.jit(tx.update)(theta[2], state)
    v3 = 0.98 * (0.0196 * 10 + 0.02 * 20) + 0.02 * -5.0
    np.testing.assert_allclose(float(out3), v3 / (1 - 0.98**3), rtol=1e-6)
    raw, _ = jo.ewma(0.98, debias=False).update(theta[0], jo.ewma(0.98).init(theta[0]))
    np.testing.assert_allclose(float(raw), 0.2, rtol=1e-6)  # biased low without correction


def test_ema_update_with_and_without_warmup():
    ema = {"w": jnp.zeros((3,), jnp.float32)}
    params = {"w": jnp.ones((3,), jnp.bfloat16)}
    out = jax.jit(lambda e, p: jo.ema_update(e, p, 0.9999))(ema, params)
    np.testing.assert_allclose(np.asarray(out["w"]), 1e-4, rtol=1e-4)
    assert out["w"].dtype == jnp.float32
    step = jax.jit(lambda e, p, t: jo.ema_update(e, p, 0.9999, step=t, warmup=True))
    np.testing.assert_allclose(np.asarray(step(ema, params, 0)["w"]), 0.9, rtol=1e-6)  # d = 1/10
    np.testing.assert_allclose(np.asarray(step(ema, params, 90)["w"]), 1 - 0.91, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(step(ema, params, 10**7)["w"]), 1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="needs the step"):
        jo.ema_update(ema, params, 0.999, warmup=True)


def test_interpolate_esrgan():
    a = {"conv": jnp.asarray([1.0, 2.0]), "b": jnp.asarray(3.0)}
    b = {"conv": jnp.asarray([3.0, -2.0]), "b": jnp.asarray(5.0)}
    chex.assert_trees_all_equal(jo.interpolate(a, b, 0.0), a)
    chex.assert_trees_all_equal(jo.interpolate(a, b, 1.0), b)
    chex.assert_trees_all_close(
        jo.interpolate(a, b, 0.8), {"conv": jnp.asarray([2.6, -1.2]), "b": jnp.asarray(4.6)}
    )
    with pytest.raises(ValueError, match="same structure"):
        jo.interpolate(a, {"conv": a["conv"]}, 0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        jo.interpolate(a, {"conv": jnp.ones(3), "b": jnp.asarray(1.0)}, 0.5)
