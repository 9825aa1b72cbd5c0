"""Weighted sums of a function over many points, evaluated a chunk of points at a time.

The shared core of Integrated Gradients (quadrature nodes along the path) and SmoothGrad (noisy
copies of the input). SPEC: BAS-8.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def chunked_weighted_sum(
    fn: Callable[[jax.Array], jax.Array],
    nodes: jax.Array,
    weights: jax.Array,
    chunk_size: int,
) -> jax.Array:
    """Σ_j weights[j] · fn(nodes[j]), with `fn` vmapped over `chunk_size` nodes at a time.

    nodes: (m, ...) array (floats or PRNG keys); weights: (m,). The nodes are padded to a
    multiple of `chunk_size` with zero-weight copies of the last one and scanned, so memory
    holds one chunk of `fn`'s outputs, whatever m is. jit-able.
    """
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    m = weights.shape[0]
    chunk = min(chunk_size, m)
    num_chunks = -(-m // chunk)
    index = jnp.minimum(jnp.arange(num_chunks * chunk), m - 1)
    padded_w = jnp.where(jnp.arange(num_chunks * chunk) < m, weights[index], 0.0)
    nodes = nodes[index].reshape(num_chunks, chunk, *nodes.shape[1:])
    padded_w = padded_w.reshape(num_chunks, chunk)
    out = jax.eval_shape(fn, nodes[0, 0])

    def body(total, inputs):
        chunk_nodes, chunk_w = inputs
        values = jax.vmap(fn)(chunk_nodes)
        return total + jnp.tensordot(chunk_w.astype(values.dtype), values, axes=1), None

    total, _ = jax.lax.scan(body, jnp.zeros(out.shape, out.dtype), (nodes, padded_w))
    return total
