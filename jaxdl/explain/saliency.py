"""Gradient saliency maps: the input gradient, gradient × input and SmoothGrad.

Simonyan, Vedaldi, Zisserman 2014, arXiv:1312.6034 (gradient); Shrikumar et al. 2016,
arXiv:1605.01713 (gradient × input); Smilkov et al. 2017, arXiv:1706.03825 (SmoothGrad). They
are the comparisons for Integrated Gradients. SPEC: BAS-8.

`f` maps a batch x (N, ...) to one score per example (N,), or to class scores (N, C) of which
`target` (an int, or (N,) ints) picks the one explained. Examples must not interact inside `f`
(no batch statistics): the gradient of the summed scores is then each example's own gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdl.explain.chunked import chunked_weighted_sum

Scores = Callable[[jax.Array], jax.Array]


def explained_output(f: Scores, x: jax.Array, target: int | jax.Array | None = None) -> jax.Array:
    """The score each example's attributions explain: f(x) (N,), or f(x)[n, target[n]]."""
    out = f(x)
    n = x.shape[0]
    if target is None:
        if out.shape != (n,):
            raise ValueError(
                f"f returned shape {out.shape} for {n} examples: expected one score per example "
                f"({n},), or class scores ({n}, C) with `target` naming the class to explain"
            )
        return out
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(
            f"with a target, f must return class scores ({n}, C); it returned shape {out.shape}"
        )
    target = jnp.broadcast_to(jnp.asarray(target, jnp.int32), (n,))
    return jnp.take_along_axis(out, target[:, None], axis=1)[:, 0]


def input_gradients(f: Scores, x: jax.Array, target: int | jax.Array | None = None) -> jax.Array:
    """∂ score_n / ∂ x_n for every example: the saliency map of Simonyan et al.; x's shape."""
    return jax.grad(lambda z: jnp.sum(explained_output(f, z, target)))(x)


def gradient_x_input(f: Scores, x: jax.Array, target: int | jax.Array | None = None) -> jax.Array:
    """x ⊙ ∂ score/∂x (Shrikumar et al. 2016); x's shape."""
    return x * input_gradients(f, x, target)


def smoothgrad(
    f: Scores,
    x: jax.Array,
    key: jax.Array,
    num_samples: int = 50,
    noise_level: float = 0.15,
    target: int | jax.Array | None = None,
    chunk_size: int = 16,
) -> jax.Array:
    """SmoothGrad: the input gradient averaged over `num_samples` noisy copies x + N(0, σ²),
    σ = noise_level · (max x_n − min x_n) per example (Smilkov et al. 2017, 10–20% and 50
    samples). x's shape. jit-able with `num_samples` and `chunk_size` static."""
    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}")
    axes = tuple(range(1, x.ndim))
    spread = jnp.max(x, axis=axes, keepdims=True) - jnp.min(x, axis=axes, keepdims=True)
    sigma = noise_level * spread

    def noisy_gradient(k):
        return input_gradients(f, x + sigma * jax.random.normal(k, x.shape, x.dtype), target)

    keys = jax.random.split(key, num_samples)
    weights = jnp.full((num_samples,), 1.0 / num_samples, x.dtype)
    return chunked_weighted_sum(noisy_gradient, keys, weights, chunk_size)
