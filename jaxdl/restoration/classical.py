"""Classical denoisers as baselines, each told the noise level (SPEC RES-1 evaluation).

scikit-image's non-local means (Buades et al. 2005; h = 0.8σ, 5×5 patches within 13×13, fast
mode, as scikit-image's own guide recommends when σ is known), total-variation (Chambolle 2004;
weight chosen per σ on the training photos, `tune_tv_weight`) and wavelet BayesShrink (Chang et
al. 2000; YCbCr, soft thresholds, σ given); BM3D (Dabov et al. 2007) when the optional `bm3d`
package is installed (free for non-commercial use only, so jaxdl never requires it). Images are
float (H, W, 3) on the [0, 1] scale, σ on the 0-255 scale.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Denoiser = Callable[[np.ndarray, float], np.ndarray]


def nl_means(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    s = sigma / 255.0
    return denoise_nl_means(
        noisy, h=0.8 * s, sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1
    )


def total_variation(noisy: np.ndarray, sigma: float, weight_per_sigma: float = 1.0) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(noisy, weight=weight_per_sigma * sigma / 255.0, channel_axis=-1)


def wavelet(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_wavelet

    return denoise_wavelet(
        np.clip(noisy, 0.0, 1.0),  # YCbCr conversion needs [0, 1] RGB
        sigma=sigma / 255.0,
        mode="soft",
        method="BayesShrink",
        convert2ycbcr=True,
        rescale_sigma=True,
        channel_axis=-1,
    )


def bm3d_rgb(noisy: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    return bm3d.bm3d_rgb(noisy, sigma / 255.0)


def bm3d_available() -> bool:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def tune_tv_weight(
    clean: list[np.ndarray], sigma: float, seed: int = 0, grid=(0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
) -> float:
    """The TV weight (in units of σ/255) with the best mean PSNR on `clean` images at σ."""
    from jaxdl.restoration.noise import noisy_numpy

    def score(k: float) -> float:
        psnrs = []
        for i, img in enumerate(clean):
            out = total_variation(noisy_numpy(img, sigma, seed + i), sigma, k)
            psnrs.append(10 * np.log10(1.0 / np.mean((np.clip(out, 0, 1) - img) ** 2)))
        return float(np.mean(psnrs))

    return max(grid, key=score)


def classical_denoisers(tv_weights: dict[float, float] | None = None) -> dict[str, Denoiser]:
    """{name: denoise(noisy, sigma)}; BM3D only when installed. `tv_weights` maps σ to the TV
    weight per σ (default 1.0)."""
    weights = tv_weights or {}
    methods: dict[str, Denoiser] = {
        "nl_means": nl_means,
        "tv": lambda x, s: total_variation(x, s, weights.get(s, 1.0)),
        "wavelet": wavelet,
    }
    if bm3d_available():
        methods["bm3d"] = bm3d_rgb
    return methods
