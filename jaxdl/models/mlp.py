"""Multilayer perceptron (sigmoid hidden activations by default). SPEC: BAS-7.

Shapes: (..., D_in) -> (..., fc_output_sizes[-1]); D_in is inferred at init.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax


class MLP(nn.Module):
    """One Dense layer per entry of `fc_output_sizes`, `activation` between them, none after.

    `MLP((10, 1))` has 2 layers and `MLP((10, 20, 30, 40, 1))` 5; layers are named l0, l1, ...
    (BAS-7 naming).
    """

    fc_output_sizes: Sequence[int]
    activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if not self.fc_output_sizes:
            raise ValueError("MLP needs at least one layer size")
        last = len(self.fc_output_sizes) - 1
        for i, size in enumerate(self.fc_output_sizes):
            x = nn.Dense(size, name=f"l{i}")(x)
            if i < last:
                x = self.activation(x)
        return x
