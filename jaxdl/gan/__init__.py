"""GAN family library: losses from discriminator outputs, gradient penalties, toy 2-D mixtures
and mode-collapse metrics. Pure functions; the two-player step is `jaxdl.train.adversarial`.

Goodfellow et al. 2014, Arjovsky et al. 2017, Gulrajani et al. 2017, Mao et al. 2017,
Jolicoeur-Martineau 2018, Srivastava et al. 2017 (VEEGAN), Lin et al. 2018 (PacGAN).
SPEC: GAN-1..GAN-7.
"""

from jaxdl.gan.image_pool import ImagePool, init_image_pool, query_image_pool
from jaxdl.gan.losses import (
    LOSSES,
    GanLoss,
    d_hinge,
    d_least_squares,
    d_minimax,
    d_relativistic_average,
    d_wasserstein,
    g_hinge,
    g_least_squares,
    g_minimax,
    g_nonsaturating,
    g_relativistic_average,
    g_wasserstein,
    get_losses,
    minimax_value,
)
from jaxdl.gan.modes import mode_metrics, nearest_modes, stacked_mnist_modes
from jaxdl.gan.penalties import gradient_penalty, interpolates, real_gradient_penalty
from jaxdl.gan.toy_data import (
    MIXTURES,
    MixtureSource,
    MixtureStream,
    grid_centers,
    mixture,
    mixture_batches,
    ring_centers,
    sample_mixture,
    sample_mixture_np,
)

__all__ = [
    "LOSSES",
    "MIXTURES",
    "GanLoss",
    "ImagePool",
    "MixtureSource",
    "MixtureStream",
    "d_hinge",
    "d_least_squares",
    "d_minimax",
    "d_relativistic_average",
    "d_wasserstein",
    "g_hinge",
    "g_least_squares",
    "g_minimax",
    "g_nonsaturating",
    "g_relativistic_average",
    "g_wasserstein",
    "get_losses",
    "gradient_penalty",
    "grid_centers",
    "init_image_pool",
    "interpolates",
    "minimax_value",
    "mixture",
    "mixture_batches",
    "mode_metrics",
    "nearest_modes",
    "query_image_pool",
    "real_gradient_penalty",
    "ring_centers",
    "sample_mixture",
    "sample_mixture_np",
    "stacked_mnist_modes",
]
