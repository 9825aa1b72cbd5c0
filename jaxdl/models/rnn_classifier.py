"""A recurrent text classifier: embedding, (Bi)LSTM/GRU/RNN, the final states, a linear head.
SPEC: SEQ-1 (BiLSTM: forward and reversed passes, S2:690-692).

ids (B, T) int, padded with `pad_id` at the end -> logits (B, num_labels). Each sequence's
length is its count of non-padding ids; the features are the last layer's final states, forward
then reverse ([h_fwd(T_i); h_rev(1)], the reverse pass starting at each sequence's own last
token), so extra padding changes nothing. `delta` (B, T, embed), if given, is added to the
embedded sequence (per-example FGM/PGD perturbations, `jaxdl.text.adversarial`, SEQ-6).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdl.models.transformer import check_token_ids
from jaxdl.nn.recurrent import Recurrent


class RecurrentClassifier(nn.Module):
    """Parameters: `embedding`, `rnn` (`jaxdl.nn.recurrent.Recurrent`, PyTorch's names and
    layout), `classifier`."""

    vocab_size: int
    num_labels: int
    embed: int = 300
    hidden: int = 256
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = True
    dropout: float = 0.0  # on the embeddings, between layers and on the features
    pad_id: int = 0

    @nn.compact
    def __call__(
        self, ids: jax.Array, deterministic: bool = True, *, delta: jax.Array | None = None
    ) -> jax.Array:
        check_token_ids(ids, self.vocab_size)
        lengths = jnp.sum(ids != self.pad_id, axis=1)
        drop = nn.Dropout(self.dropout, deterministic=deterministic)
        x = nn.Embed(self.vocab_size, self.embed, name="embedding")(ids)
        if delta is not None:
            x = x + delta
        x = drop(x)
        rnn = Recurrent(
            self.cell,
            self.hidden,
            self.num_layers,
            self.bidirectional,
            dropout=self.dropout,
            name="rnn",
        )
        _, state = rnn(x, lengths=lengths, deterministic=deterministic)
        h = state[0] if self.cell == "lstm" else state  # (layers * directions, B, H)
        features = jnp.concatenate(list(h[-rnn.directions :]), axis=-1)
        return nn.Dense(self.num_labels, name="classifier")(drop(features))
