"""The denoising loss: L_simple with ε, x_0 and v targets, its random draws, the train-engine
adapter, and its input checks. SPEC: DIF-2.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdl.diffusion as jd

# Any key works; "rbg" keys compile several times faster than threefry on CPU.
key = functools.partial(jax.random.key, impl="rbg")

SCHED = jd.make_schedule("linear", 1000)
X0 = jax.random.uniform(key(0), (4, 4, 4, 3), minval=-1, maxval=1)


def _oracle(prediction, x0, noise, t):
    """An 'ideal network' that returns the exact target for the x_t it is given."""
    a = SCHED.sqrt_alphas_cumprod[t][:, None, None, None]
    s = SCHED.sqrt_one_minus_alphas_cumprod[t][:, None, None, None]
    targets = {"eps": noise, "x0": x0, "v": a * noise - s * x0}

    def apply_fn(x_t, t_in):
        chex.assert_trees_all_close(x_t, a * x0 + s * noise, atol=1e-6)
        chex.assert_trees_all_equal(t_in, t)
        return targets[prediction]

    return apply_fn, targets[prediction]


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_denoising_loss_targets(prediction):
    noise = jax.random.normal(key(1), X0.shape)
    t = jnp.array([0, 10, 500, 999], jnp.int32)
    apply_fn, target = _oracle(prediction, X0, noise, t)
    per_ex = jd.denoising_loss(SCHED, apply_fn, X0, t, noise, prediction=prediction)
    chex.assert_shape(per_ex, (4,))
    chex.assert_trees_all_close(per_ex, jnp.zeros(4), atol=1e-10)
    # A network that always answers 0: the loss is the mean square (or abs) of the target.
    zero = lambda x_t, t: jnp.zeros_like(x_t)  # noqa: E731
    mse = jd.denoising_loss(SCHED, zero, X0, t, noise, prediction=prediction)
    l1 = jd.denoising_loss(SCHED, zero, X0, t, noise, prediction=prediction, loss_type="l1")
    chex.assert_trees_all_close(mse, jnp.mean(target**2, axis=(1, 2, 3)), rtol=1e-6)
    chex.assert_trees_all_close(l1, jnp.mean(jnp.abs(target), axis=(1, 2, 3)), rtol=1e-6)


def test_v_target_and_conversions_agree():
    noise = jax.random.normal(key(2), X0.shape)
    t = jnp.array([3, 100, 600, 999], jnp.int32)
    x_t = jd.q_sample(SCHED, X0, t, noise)
    v = jd.velocity(SCHED, X0, noise, t)
    for pred, out in (("eps", noise), ("x0", X0), ("v", v)):
        x0_hat, eps_hat = jd.split_prediction(SCHED, out, x_t, t, pred)
        chex.assert_trees_all_close(x0_hat, X0, atol=2e-3 if pred == "eps" else 1e-5)
        chex.assert_trees_all_close(eps_hat, noise, atol=1e-4 if pred == "x0" else 1e-5)
    chex.assert_trees_all_close(jd.predict_x0_from_eps(SCHED, x_t, t, noise), X0, atol=2e-3)
    chex.assert_trees_all_close(jd.predict_eps_from_x0(SCHED, x_t, t, X0), noise, atol=1e-4)


class DiffusionLossTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_diffusion_loss_draws_t_and_noise_from_key(self):
        k3 = key(3)
        net = lambda x_t, t: 0.5 * x_t + 1e-3 * t[:, None, None, None]  # noqa: E731
        loss = self.variant(lambda x0, k: jd.diffusion_loss(SCHED, net, x0, k))(X0, k3)
        chex.assert_shape(loss, ())
        t_key, n_key = jax.random.split(k3)
        t = jax.random.randint(t_key, (4,), 0, 1000)
        noise = jax.random.normal(n_key, X0.shape)
        x_t = jd.q_sample(SCHED, X0, t, noise)
        want = jnp.mean((noise - net(x_t, t)) ** 2)
        chex.assert_trees_all_close(loss, want, rtol=1e-5)
        t_drawn = jd.sample_timesteps(key(4), 20_000, 1000)
        assert t_drawn.dtype == jnp.int32 and int(t_drawn.min()) == 0 and int(t_drawn.max()) == 999
        np.testing.assert_allclose(float(t_drawn.mean()), 499.5, atol=10)


def test_make_loss_fn_plugs_into_engine_signature():
    def model_apply(params, x_t, t, rng):
        chex.assert_shape(rng, ())
        return params["w"] * x_t

    loss_fn = jd.make_loss_fn(SCHED, model_apply, prediction="eps")
    params = {"w": jnp.float32(0.3)}
    (loss, aux), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(
        params, {"image": X0}, key(5)
    )
    assert aux == {} and loss.shape == () and np.isfinite(float(loss))
    assert float(jnp.abs(grads["w"])) > 0


def test_loss_bad_inputs():
    t = jnp.array([0, 1, 2, 3], jnp.int32)
    net = lambda x_t, t: x_t  # noqa: E731
    with pytest.raises(ValueError, match=r"x0 must lie in \[-1.0, 1.0\]"):
        jd.diffusion_loss(SCHED, net, X0 * 127.5 + 127.5, key(0))
    with pytest.raises(ValueError, match="unknown prediction 'score'"):
        jd.denoising_loss(SCHED, net, X0, t, X0, prediction="score")
    with pytest.raises(ValueError, match="unknown loss_type 'huber'"):
        jd.denoising_loss(SCHED, net, X0, t, X0, loss_type="huber")
    with pytest.raises(ValueError, match=r"apply_fn\(x_t, t\) and x0 must have the same shape"):
        jd.denoising_loss(SCHED, lambda x, t: x[..., :1], X0, t, X0)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1000\)"):
        jd.denoising_loss(SCHED, net, X0, t + 997, X0)
