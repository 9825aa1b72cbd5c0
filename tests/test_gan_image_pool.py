"""jaxdl.gan.image_pool: CycleGAN's history of 50 fakes (Zhu et al. 2017; Shrivastava et al. 2017).

Image k of a stream is filled with the value k, so the pool's contents and outputs can be read
back as ids and checked against the algorithm's rules.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxdl import gan
from jaxdl.train import Checkpointer

SHAPE = (2, 3, 1)


def ids(start, n):
    """Images start, ..., start + n - 1, image k filled with k."""
    values = jnp.arange(start, start + n, dtype=jnp.float32)
    return jnp.broadcast_to(values[:, None, None, None], (n, *SHAPE))


def read(images):
    x = np.asarray(images)
    assert (x == x[:, :1, :1, :1]).all()  # images are never mixed
    return x[:, 0, 0, 0].astype(int)


def full_pool(size=50):
    pool = gan.init_image_pool(size, SHAPE)
    out, pool = gan.query_image_pool(pool, ids(0, size), jax.random.PRNGKey(0))
    return pool


class ImagePoolTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_first_50_pass_through_unchanged_and_are_stored_in_order(self):
        query = self.variant(gan.query_image_pool)
        pool = gan.init_image_pool(50, SHAPE)
        for start, n in ((0, 20), (20, 20), (40, 10)):
            out, pool = query(pool, ids(start, n), jax.random.PRNGKey(start))
            chex.assert_trees_all_equal(out, ids(start, n))
        assert int(pool.count) == 50
        chex.assert_trees_all_equal(pool.images, ids(0, 50))

    @chex.variants(with_jit=True, without_jit=True)
    def test_swap_probability_zero_and_one(self):
        query = self.variant(gan.query_image_pool)
        pool = full_pool()
        out, same = query(pool, ids(50, 8), jax.random.PRNGKey(1), 0.0)
        chex.assert_trees_all_equal(out, ids(50, 8))
        chex.assert_trees_all_equal(same, pool)
        out, new = query(pool, ids(50, 8), jax.random.PRNGKey(1), 1.0)
        got = read(out)  # every image swapped: none comes straight back
        assert all(k != 50 + j for j, k in enumerate(got))
        assert sorted([*read(new.images), *got]) == list(range(58))


def test_a_filling_batch_stores_its_first_images_then_draws():
    pool = gan.init_image_pool(4, SHAPE)
    out, pool = gan.query_image_pool(pool, ids(0, 6), jax.random.PRNGKey(3), 1.0)
    assert list(read(out)[:4]) == [0, 1, 2, 3] and int(pool.count) == 4
    got = read(out)  # image 4 swaps with one of 0..3; image 5 with one of 0..4 (4 just stored)
    assert got[4] in range(4) and got[5] in range(5)
    assert sorted([*got[4:], *read(pool.images)]) == list(range(6))  # 0..3 were also returned


def test_statistics_and_conservation_of_a_seeded_run():
    """After filling: each image swaps with probability 0.5 a uniformly chosen stored one.

    Every batch conserves images (outputs + new pool = inputs + old pool, as multisets), an
    output is its own input or one stored before it; the swap count and the replaced slots
    (batches of 1, 3,000 draws) agree with Binomial(0.5) and a uniform slot (chi-square)."""
    pool, key, n = full_pool(), jax.random.PRNGKey(42), 3000

    @jax.jit
    def stream(pool):  # image 50 + i with key fold_in(key, i), one at a time
        def body(pool, i):
            out, pool = gan.query_image_pool(
                pool, ids(50, 1) + i.astype(jnp.float32), jax.random.fold_in(key, i)
            )
            return pool, (out, pool.images)

        return jax.lax.scan(body, pool, jnp.arange(n))

    first = read(pool.images)
    pool, (outs, pools) = stream(pool)
    swaps, slots = 0, np.zeros(50, int)
    for i, (got, after) in enumerate(zip(read(outs[:, 0]), map(read, pools), strict=True)):
        if got != 50 + i:
            swaps += 1
            (slot,) = np.flatnonzero(after != first)
            assert first[slot] == got and after[slot] == 50 + i
            slots[slot] += 1
        else:
            np.testing.assert_array_equal(after, first)
        first = after
    assert abs(swaps - n / 2) < 5 * np.sqrt(n / 4), swaps
    assert stats.chisquare(slots).pvalue > 1e-4, slots
    query, next_id = jax.jit(gan.query_image_pool), 50 + n
    for i in range(100):  # batches of 8
        before, batch = read(pool.images), ids(next_id, 8)
        out, pool = query(pool, batch, jax.random.fold_in(key, 10_000 + i))
        got = read(out)
        assert sorted([*got, *read(pool.images)]) == sorted([*read(batch), *before])
        for j, k in enumerate(got):
            assert k == next_id + j or k in before or next_id <= k < next_id + j
        next_id += 8


def test_state_round_trips_through_a_checkpoint(tmp_path):
    pool = full_pool()
    _, pool = gan.query_image_pool(pool, ids(50, 7), jax.random.PRNGKey(5))
    ckpt = Checkpointer(str(tmp_path), keep=1, async_save=False)
    ckpt.save(1, {"pool": pool})
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), {"pool": pool}
    )
    step, restored, _ = ckpt.restore_latest(target)
    ckpt.close()
    assert step == 1 and isinstance(restored["pool"], gan.ImagePool)
    chex.assert_trees_all_equal(restored["pool"], pool)
    key = jax.random.PRNGKey(6)  # the resumed pool continues exactly
    chex.assert_trees_all_equal(
        gan.query_image_pool(restored["pool"], ids(57, 9), key),
        gan.query_image_pool(pool, ids(57, 9), key),
    )


def test_size_zero_is_no_pool_and_bad_input_is_named():
    pool = gan.init_image_pool(0, SHAPE)
    out, same = gan.query_image_pool(pool, ids(0, 3), jax.random.PRNGKey(0))
    chex.assert_trees_all_equal(out, ids(0, 3))
    chex.assert_trees_all_equal(same, pool)
    with pytest.raises(ValueError, match=r"images of shape \(2, 3, 1\) expected"):
        gan.query_image_pool(full_pool(), jnp.zeros((4, 3, 2, 1)), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="integer >= 0"):
        gan.init_image_pool(-1, SHAPE)
    out, _ = gan.query_image_pool(
        full_pool(), ids(50, 2).astype(jnp.bfloat16), jax.random.PRNGKey(0)
    )
    assert out.dtype == jnp.float32
