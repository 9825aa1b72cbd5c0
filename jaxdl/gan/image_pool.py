"""History of generated images for the discriminator (Shrivastava et al. 2017, arXiv:1612.07828,
§2.3; CycleGAN, Zhu et al. 2017, arXiv:1703.10593, §4: a buffer of the 50 latest). SPEC: GAN-5.

A pure function of an `ImagePool` state carried in the train state (so it is checkpointed and
resumed with it) and an explicit RNG key. Each image of a batch, in order: while the pool holds
fewer than `size` images it is stored and returned unchanged; afterwards, with probability
`swap_prob` (CycleGAN: 0.5) a uniformly chosen stored image is returned and the new one takes its
slot, otherwise the new image is returned and the pool is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class ImagePool:
    """images: (size, *image_shape) stored images (the first `count` slots are filled);
    count: int32 scalar."""

    images: jax.Array
    count: jax.Array

    @property
    def size(self) -> int:
        return self.images.shape[0]


def init_image_pool(size: int, image_shape: Sequence[int], dtype=jnp.float32) -> ImagePool:
    """An empty pool of `size` images of shape `image_shape` (e.g. (H, W, C)); size 0: no pool
    (`query_image_pool` returns its input)."""
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"image pool size must be an integer >= 0, got {size!r}")
    return ImagePool(jnp.zeros((size, *image_shape), dtype), jnp.zeros((), jnp.int32))


def query_image_pool(
    pool: ImagePool, images: jax.Array, rng: jax.Array, swap_prob: float = 0.5
) -> tuple[jax.Array, ImagePool]:
    """(images for the discriminator, new pool) for a batch `images` (N, *image_shape).

    The outputs have the pool's dtype. The batch is processed image by image (`lax.scan`);
    image i's coin and slot are row i of one uniform (N, 2) draw from `rng`.
    """
    if images.shape[1:] != pool.images.shape[1:]:
        raise ValueError(
            f"images of shape {tuple(pool.images.shape[1:])} expected by the pool, got a batch "
            f"of shape {images.shape}"
        )
    images = images.astype(pool.images.dtype)
    if pool.size == 0:
        return images, pool

    def one(carry, x):
        stored, count = carry
        image, (coin, pick) = x
        filling = count < pool.size
        swap = ~filling & (coin < swap_prob)
        slot = jnp.minimum((pick * pool.size).astype(count.dtype), pool.size - 1)
        slot = jnp.where(filling, count, slot)
        old = stored[slot]
        stored = stored.at[slot].set(jnp.where(filling | swap, image, old))
        return (stored, count + filling.astype(count.dtype)), jnp.where(swap, old, image)

    draws = jax.random.uniform(rng, (images.shape[0], 2))
    (stored, count), out = jax.lax.scan(one, (pool.images, pool.count), (images, draws))
    return out, ImagePool(stored, count)
