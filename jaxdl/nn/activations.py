"""Activations and their derivatives, equal to `torch.nn.functional` where torch defines them.

SPEC: BAS-1 (leaky ReLU as in DCGAN, Radford et al. 2016). Elementwise unless noted.
sigmoid saturates and its outputs are all positive; sigma' <= 0.25. tanh ranges over (-1, 1).
Dead ReLUs come from bad init or large LRs.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

DCGAN_LEAKY_SLOPE = 0.2  # DCGAN discriminator slope (Radford et al. 2015); torch default 0.01


def sigmoid(x: jax.Array) -> jax.Array:
    """1 / (1 + e^-x), evaluated stably."""
    return jax.nn.sigmoid(x)


def sigmoid_grad(x: jax.Array) -> jax.Array:
    """d sigmoid / dx = sigma (1 - sigma) <= 0.25."""
    s = jax.nn.sigmoid(x)
    return s * (1.0 - s)


def tanh(x: jax.Array) -> jax.Array:
    return jnp.tanh(x)


def tanh_grad(x: jax.Array) -> jax.Array:
    """d tanh / dx = 1 - tanh^2."""
    return 1.0 - jnp.tanh(x) ** 2


def relu(x: jax.Array) -> jax.Array:
    return jnp.maximum(x, 0)


def leaky_relu(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    """x if x >= 0 else slope * x (torch default 0.01; DCGAN uses `DCGAN_LEAKY_SLOPE`)."""
    return jnp.where(x >= 0, x, negative_slope * x)


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """x if x > 0 else alpha (e^x - 1) (Clevert et al. 2015)."""
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0)))


def gelu(x: jax.Array, approximate: bool = False) -> jax.Array:
    """x Phi(x); exact erf form by default, as torch (jax.nn.gelu defaults to tanh approx)."""
    return jax.nn.gelu(x, approximate=approximate)


def silu(x: jax.Array) -> jax.Array:
    """x sigmoid(x) (swish)."""
    return x * jax.nn.sigmoid(x)


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """e^(x - max) / sum e^(x - max) along `axis`; the shift avoids overflow."""
    z = jnp.exp(x - jax.lax.stop_gradient(x.max(axis=axis, keepdims=True)))
    return z / z.sum(axis=axis, keepdims=True)


def log_softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """x - M - log sum e^(x - M), M = max x (BAS-2)."""
    shifted = x - jax.lax.stop_gradient(x.max(axis=axis, keepdims=True))
    return shifted - jnp.log(jnp.exp(shifted).sum(axis=axis, keepdims=True))


def maxout(x: jax.Array, num_pieces: int, axis: int = -1) -> jax.Array:
    """Maxout (Goodfellow et al. 2013): max over `num_pieces` consecutive features along axis.

    (..., K * num_pieces) -> (..., K); feature k takes max of x[k * p : (k + 1) * p].
    """
    axis = axis % x.ndim
    if x.shape[axis] % num_pieces:
        raise ValueError(f"axis {axis} of {x.shape} not divisible by num_pieces={num_pieces}")
    shape = x.shape[:axis] + (x.shape[axis] // num_pieces, num_pieces) + x.shape[axis + 1 :]
    return x.reshape(shape).max(axis=axis + 1)


class PReLU(nn.Module):
    """Learned leaky slope, torch `nn.PReLU` (init 0.25; one slope, or one per channel).

    Shapes: (..., C) -> (..., C); `num_parameters` is 1 or C (channels last).
    """

    num_parameters: int = 1
    init_slope: float = 0.25  # torch `init`

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.num_parameters not in (1, x.shape[-1]):
            raise ValueError(
                f"PReLU(num_parameters={self.num_parameters}) expects (..., C) with "
                f"C == {self.num_parameters} (channels last), got {x.shape}"
            )
        a = self.param("weight", nn.initializers.constant(self.init_slope), (self.num_parameters,))
        return jnp.where(x >= 0, x, a * x)
