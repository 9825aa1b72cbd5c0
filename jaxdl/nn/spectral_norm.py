"""Spectral normalization by power iteration (Miyato et al. 2018, arXiv:1802.05957).

SPEC: GAN-7. W is used as W / sigma(W), sigma estimated with a persistent vector u:
v = n(W^T u), u = n(W v), sigma = u^T W v, one step per training call, u and v outside the
gradient (as torch's `torch.nn.utils.spectral_norm`). A kernel of shape (..., out) is viewed
as the matrix (out, -1) (torch's conv view; rows permuted relative to torch, which changes
neither sigma nor u). Evaluation reuses the stored u and v without iterating.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


def _normalize(x: jax.Array, eps: float) -> jax.Array:
    return x / jnp.maximum(jnp.linalg.norm(x), eps)


def kernel_matrix(kernel: jax.Array) -> jax.Array:
    """View a kernel (..., in, out) (Dense (in, out), conv HWIO) as the (out, -1) matrix."""
    return kernel.reshape(-1, kernel.shape[-1]).T


def power_iteration(
    w_mat: jax.Array, u: jax.Array, n_steps: int = 1, eps: float = 1e-12
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """`n_steps` power-iteration steps from u (out,); returns (sigma, u, v), u and v stop-grad.

    sigma = u^T W v is differentiable in W. SPEC: GAN-7.
    """
    w_sg = jax.lax.stop_gradient(w_mat)

    def step(_, uv: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        v = _normalize(w_sg.T @ uv[0], eps)
        return _normalize(w_sg @ v, eps), v

    u, v = jax.lax.fori_loop(0, n_steps, step, (u, _normalize(w_sg.T @ u, eps)))
    u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
    return u @ (w_mat @ v), u, v


class SpectralNorm(nn.Module):
    """Wrap a layer so every parameter with ndim >= 2 is divided by its spectral norm. SPEC: GAN-7.

    `SpectralNorm(nn.Conv(64, (3, 3)))(x, update_stats=train)`. With `update_stats=True` the
    call runs `n_steps` power-iteration steps and stores u, v and sigma in `collection`
    (pass `mutable=[collection]`); with False it reuses them. Shapes: those of the wrapped layer.
    """

    layer_instance: nn.Module
    n_steps: int = 1
    eps: float = 1e-12
    collection: str = "batch_stats"

    @nn.compact
    def __call__(self, *args, update_stats: bool, **kwargs):
        def forward(layer: nn.Module):
            return layer(*args, **kwargs)

        def trans_in(variables):
            return jax.tree_util.tree_map_with_path(
                lambda path, w: self._normalize_leaf(path, w, update_stats), variables
            )

        return nn.map_variables(
            forward, trans_in_fn=trans_in, init=self.is_initializing(), mutable=True
        )(self.layer_instance)

    def _normalize_leaf(self, path, w: jax.Array, update_stats: bool) -> jax.Array:
        if w.ndim < 2:
            return w
        name = "/".join([self.layer_instance.name] + [str(k.key) for k in path[1:]])
        w_mat = kernel_matrix(w)
        out_dim, in_dim = w_mat.shape

        def init_u() -> jax.Array:
            return _normalize(jax.random.normal(self.make_rng("params"), (out_dim,)), self.eps)

        u_var = self.variable(self.collection, f"{name}/u", init_u)
        v_var = self.variable(
            self.collection,
            f"{name}/v",
            lambda: _normalize(jax.lax.stop_gradient(w_mat).T @ u_var.value, self.eps),
        )
        sigma_var = self.variable(self.collection, f"{name}/sigma", jnp.ones, (), jnp.float32)
        if update_stats:
            sigma, u, v = power_iteration(w_mat, u_var.value, self.n_steps, self.eps)
            if not self.is_initializing():
                u_var.value, v_var.value, sigma_var.value = u, v, sigma
        else:
            sigma = u_var.value @ (w_mat @ v_var.value)
        return w / sigma
