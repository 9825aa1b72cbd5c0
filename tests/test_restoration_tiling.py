"""Tiled inference: exact for pixel-wise maps and x-scale nearest up-sampling; seams suppressed."""

import numpy as np
import pytest
from scipy import ndimage

from jaxdl.restoration import tile_starts, tiled_apply


def test_tile_starts_cover_with_overlap():
    for length, tile, overlap in [(100, 32, 8), (32, 32, 4), (33, 32, 0), (250, 64, 16)]:
        starts = tile_starts(length, tile, overlap)
        assert starts[0] == 0 and starts[-1] == length - tile
        assert all(0 < b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(100, 32, 32)
    with pytest.raises(ValueError, match="shorter than the tile"):
        tile_starts(20, 32, 4)


@pytest.mark.parametrize("shape", [(70, 95, 3), (20, 50, 3), (64, 64, 1)])
def test_pixelwise_and_nearest_upsampling_are_exact(shape):
    image = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
    out = tiled_apply(lambda t: t**2 + 1, image, tile=32, overlap=8, batch_size=3)
    np.testing.assert_allclose(out, image**2 + 1, rtol=1e-6)
    up = tiled_apply(lambda t: t.repeat(4, 1).repeat(4, 2), image, tile=32, overlap=8, scale=4)
    np.testing.assert_allclose(up, image.repeat(4, 0).repeat(4, 1), rtol=1e-6)


def test_overlap_blending_hides_seams_of_a_local_filter():
    image = np.random.default_rng(1).uniform(size=(96, 96, 1)).astype(np.float32)

    def blur(t):  # a local op that sees zeros outside each tile
        return ndimage.uniform_filter(t, size=(1, 5, 5, 1), mode="constant")

    full = blur(image[None])[0]
    inner = (slice(4, -4), slice(4, -4))
    hard = np.abs(tiled_apply(blur, image, tile=32, overlap=0) - full)[inner].max()
    soft = np.abs(tiled_apply(blur, image, tile=32, overlap=16) - full)[inner].max()
    assert soft < hard / 3, (soft, hard)


def test_bad_fn_output_is_named():
    with pytest.raises(ValueError, match="expected"):
        tiled_apply(lambda t: t, np.zeros((40, 40, 3), np.float32), tile=32, overlap=8, scale=2)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        tiled_apply(lambda t: t, np.zeros((1, 40, 40, 3), np.float32), tile=32, overlap=8)
