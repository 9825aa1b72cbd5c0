"""Perceptual (VGG feature) losses and the SRGAN / ESRGAN generator objectives.
SPEC: RES-2, RES-3, RES-4.

A `features_fn` maps NHWC images in [0, 1] to {layer name: feature map}, e.g.
`functools.partial(VGGFeatures(layers=("conv5_4",)).apply, {"params": vgg_params})` with
`jaxdl.models.vgg_features.VGGFeatures` and weights from `jaxdl.convert.vgg`. The target's
features are held fixed (`stop_gradient`); gradients flow into the prediction only.

- ESRGAN (Wang et al. 2018, arXiv:1809.00219, sec. 3.3): L1 between VGG19 `conv5_4` maps
  *before* the ReLU (`esrgan_perceptual_loss`); the generator loss is
  L_percep + λ·L_G^Ra + η·L1 with λ = 5e-3, η = 0.01 (`esrgan_generator_loss`, L_G^Ra from
  `jaxdl.gan.losses.g_relativistic_average`).
- SRGAN (Ledig et al. 2017, arXiv:1609.04802, eq. 3-5): MSE between VGG19 φ5,4 maps (*after*
  the ReLU, `relu5_4`) with the feature maps scaled by 1/12.75 (`srgan_content_loss`), and
  l_SR = l_VGG + 1e-3·l_Gen with l_Gen = −log D(G(I_LR)) (`srgan_generator_loss`; batch mean
  where the paper writes a sum over the batch).
- Real-ESRGAN's weighted multi-layer L1 (SPEC RES-4): `perceptual_loss` with
  `REAL_ESRGAN_LAYER_WEIGHTS`.
"""

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from jaxdl.gan.losses import g_nonsaturating, g_relativistic_average
from jaxdl.losses.regression import mae, mse

FeaturesFn = Callable[[jax.Array], Mapping[str, jax.Array]]
SRGAN_FEATURE_SCALE = 1 / 12.75
REAL_ESRGAN_LAYER_WEIGHTS = {
    "conv1_2": 0.1,
    "conv2_2": 0.1,
    "conv3_4": 1.0,
    "conv4_4": 1.0,
    "conv5_4": 1.0,
}
_CRITERIA = {"l1": mae, "mse": mse}


def perceptual_loss(
    features_fn: FeaturesFn,
    pred: jax.Array,
    target: jax.Array,
    layer_weights: Mapping[str, float],
    criterion: str = "l1",
    feature_scale: float = 1.0,
) -> jax.Array:
    """Σ_layers w·criterion(s·φ(pred), s·φ(target)), each term a mean over its elements.

    `criterion` is "l1" or "mse"; `feature_scale` s multiplies both feature maps first.
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; valid: {sorted(_CRITERIA)}")
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} shapes differ")
    fp, ft = features_fn(pred), features_fn(target)
    missing = [name for name in layer_weights if name not in fp]
    if missing:
        raise ValueError(
            f"features_fn gives layers {sorted(fp)}, not {missing}: build the extractor with them"
        )
    crit = _CRITERIA[criterion]
    total = jnp.zeros((), jnp.float32)
    for name, weight in layer_weights.items():
        a = fp[name] * feature_scale
        b = jax.lax.stop_gradient(ft[name]) * feature_scale
        total = total + weight * crit(a, b)
    return total


def esrgan_perceptual_loss(features_fn: FeaturesFn, pred: jax.Array, target: jax.Array):
    """ESRGAN's L_percep: L1 between VGG19 conv5_4 maps before the ReLU (SPEC RES-3)."""
    return perceptual_loss(features_fn, pred, target, {"conv5_4": 1.0}, "l1")


def srgan_content_loss(features_fn: FeaturesFn, pred: jax.Array, target: jax.Array):
    """SRGAN's l_VGG/5,4: MSE between VGG19 φ5,4 maps (after ReLU) scaled by 1/12.75 (RES-2)."""
    return perceptual_loss(
        features_fn, pred, target, {"relu5_4": 1.0}, "mse", feature_scale=SRGAN_FEATURE_SCALE
    )


def srgan_generator_loss(
    content: jax.Array, fake_logits: jax.Array, adversarial_weight: float = 1e-3
) -> jax.Array:
    """l_SR = l_content + 1e-3·l_Gen, l_Gen = mean −log D(G(I_LR)) from D's logits (RES-2)."""
    return content + adversarial_weight * g_nonsaturating(fake_logits)


def esrgan_generator_loss(
    perceptual: jax.Array,
    real_logits: jax.Array,
    fake_logits: jax.Array,
    l1: jax.Array,
    gan_weight: float = 5e-3,
    l1_weight: float = 0.01,
) -> jax.Array:
    """L_G = L_percep + λ·L_G^Ra(real, fake) + η·L1, λ = 5e-3, η = 0.01 (SPEC RES-3)."""
    return (
        perceptual
        + gan_weight * g_relativistic_average(real_logits, fake_logits)
        + (l1_weight * l1)
    )
