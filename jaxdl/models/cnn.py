"""Small convolutional classifier: conv -> ReLU -> max-pool blocks, then a dense head.

SPEC: BAS-7 (`SimpleCNN`). Input NHWC float, output logits (N, num_classes).
"""

from collections.abc import Sequence

import flax.linen as nn
import jax


class SimpleCNN(nn.Module):
    """`features[i]` 3x3 conv filters per block (each followed by ReLU and 2x2 max-pool)."""

    features: Sequence[int] = (32, 64)
    hidden: int = 128
    num_classes: int = 10
    dropout: float = 0.0

    @nn.compact
    def __call__(
        self, x: jax.Array, train: bool = False, return_features: bool = False
    ) -> jax.Array | tuple[jax.Array, jax.Array]:
        """Logits (N, num_classes); with `return_features` also the (N, hidden) penultimate
        activations (the features used to score generated images)."""
        if x.ndim != 4:
            raise ValueError(f"SimpleCNN expects NHWC images (4 dims), got shape {x.shape}")
        for f in self.features:
            x = nn.Conv(f, (3, 3), padding="SAME")(x)
            x = nn.relu(x)
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        features = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(features)
        logits = nn.Dense(self.num_classes)(x)
        return (logits, features) if return_features else logits
