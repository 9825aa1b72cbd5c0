"""Image restoration helpers shared by the denoising and super-resolution families."""

from jaxdl.restoration.tiling import tile_starts, tiled_apply

__all__ = ["tile_starts", "tiled_apply"]
