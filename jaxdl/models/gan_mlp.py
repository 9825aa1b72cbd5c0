"""MLP generator and discriminator for 2-D toy GANs (mixtures of Gaussians). SPEC: GAN-1, GAN-4.

Defaults: two hidden layers of 128 units in both networks, ReLU, linear output: the size of
the G and D of the 2-D mixture-of-Gaussians experiments of the unrolled GAN (Metz et al. 2017,
arXiv:1611.02163), whose toy setups VEEGAN (Srivastava et al. 2017, arXiv:1705.07761) reuses;
the unrolled-GAN authors' public demo uses tanh (`activation=jnp.tanh`). MAD-GAN's
discriminator (Ghosh et al. 2018, arXiv:1704.02906) is `MLPDiscriminator(num_outputs=k + 1)`:
logits over "generator i" and "real". `spectral_norm=True` wraps every Dense layer of D in
`jaxdl.nn.SpectralNorm` (Miyato et al. 2018, arXiv:1802.05957; SPEC GAN-7). `maxout_pieces=5`
gives the discriminator of PacGAN's 2-D experiments (Lin et al. 2018, arXiv:1712.04086): hidden
layers of LinearMaxout units (Goodfellow et al. 2013), each the max of 5 affine pieces.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax

from jaxdl.nn.spectral_norm import SpectralNorm

Activation = Callable[[jax.Array], jax.Array]


class MLPGenerator(nn.Module):
    """z (N, latent) -> x (N, out_dim): Dense+activation per `hidden` width, then linear Dense.

    The latent width is taken from z. Params only (no other collection). Layers l0, l1, ...
    """

    hidden: Sequence[int] = (128, 128)
    out_dim: int = 2
    activation: Activation = nn.relu
    kernel_init: Callable = nn.linear.default_kernel_init

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        if z.ndim != 2:
            raise ValueError(f"MLPGenerator expects latents (N, latent_dim), got shape {z.shape}")
        for i, width in enumerate(self.hidden):
            z = self.activation(nn.Dense(width, kernel_init=self.kernel_init, name=f"l{i}")(z))
        return nn.Dense(self.out_dim, kernel_init=self.kernel_init, name=f"l{len(self.hidden)}")(z)


class MLPDiscriminator(nn.Module):
    """x (N, D) -> logits (N, num_outputs): Dense+activation per `hidden` width, linear Dense.

    `num_outputs` is 1 for a GAN (a logit of "real"; the trailing axis is kept) and k + 1 for
    MAD-GAN's D. With `spectral_norm=True` each Dense is `SpectralNorm(Dense)` (params under
    `l{i}/layer_instance`): its power-iteration state u, v, sigma lives in the `batch_stats`
    collection and a call with `train=True` runs `sn_steps` steps and writes it, so apply with
    `mutable=["batch_stats"]` (in `jaxdl.train.adversarial`: `has_mutable=True`). `train=False`
    reuses the stored state. Without spectral norm `train` has no effect. `maxout_pieces` > 1
    makes each hidden layer a LinearMaxout: Dense(width · pieces), then the max over the pieces
    of each unit (the activation is then not used).
    """

    hidden: Sequence[int] = (128, 128)
    num_outputs: int = 1
    activation: Activation = nn.relu
    spectral_norm: bool = False
    sn_steps: int = 1
    maxout_pieces: int = 1
    kernel_init: Callable = nn.linear.default_kernel_init

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if x.ndim != 2:
            raise ValueError(f"MLPDiscriminator expects points (N, D), got shape {x.shape}")
        if self.maxout_pieces < 1:
            raise ValueError(f"maxout_pieces must be >= 1, got {self.maxout_pieces}")
        p = self.maxout_pieces
        widths = (*(w * p for w in self.hidden), self.num_outputs)
        for i, width in enumerate(widths):
            if self.spectral_norm:
                dense = nn.Dense(width, kernel_init=self.kernel_init, parent=None)
                x = SpectralNorm(dense, n_steps=self.sn_steps, name=f"l{i}")(x, update_stats=train)
            else:
                x = nn.Dense(width, kernel_init=self.kernel_init, name=f"l{i}")(x)
            if i < len(self.hidden):
                x = self.activation(x) if p == 1 else x.reshape(-1, width // p, p).max(-1)
        return x
