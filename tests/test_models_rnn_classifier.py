"""RecurrentClassifier (SPEC SEQ-1) against torch: nn.Embedding, a packed bidirectional
nn.LSTM and nn.Linear on [h_fwd; h_rev] of the last layer, with the same weights."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxdl.convert.torch_rnn import torch_rnn_params
from jaxdl.models.rnn_classifier import RecurrentClassifier
from jaxdl.nn.recurrent import Recurrent


def test_logits_match_torch_packed_bilstm():
    vocab, embed, hidden, labels = 20, 6, 5, 3
    torch.manual_seed(0)
    emb = torch.nn.Embedding(vocab, embed)
    lstm = torch.nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
    head = torch.nn.Linear(2 * hidden, labels)
    ids = np.array([[3, 4, 5, 6, 7, 8, 9], [5, 1, 2, 9, 0, 0, 0], [7, 0, 0, 0, 0, 0, 0]])
    lengths = (ids != 0).sum(1)
    with torch.no_grad():
        x = torch.nn.utils.rnn.pack_padded_sequence(
            emb(torch.from_numpy(ids)), torch.from_numpy(lengths), batch_first=True
        )
        _, (h_n, _) = lstm(x)
        want = head(torch.cat([h_n[-2], h_n[-1]], -1)).numpy()
    model = RecurrentClassifier(vocab, labels, embed, hidden)
    rnn = Recurrent("lstm", hidden, bidirectional=True)
    params = {
        "embedding": {"embedding": emb.weight.detach().numpy()},
        "rnn": torch_rnn_params(lstm.state_dict(), rnn, embed),
        "classifier": {
            "kernel": head.weight.detach().numpy().T,
            "bias": head.bias.detach().numpy(),
        },
    }
    chex.assert_trees_all_equal_shapes(
        params, model.init(jax.random.key(0), jnp.asarray(ids))["params"]
    )
    apply = jax.jit(model.apply)
    got = apply({"params": params}, jnp.asarray(ids))
    chex.assert_trees_all_close(np.asarray(got), want, atol=1e-5)
    padded = np.pad(ids, ((0, 0), (0, 4)))  # extra padding changes nothing
    chex.assert_trees_all_close(apply({"params": params}, jnp.asarray(padded)), got)
    with pytest.raises(ValueError, match="vocab"):
        model.apply({"params": params}, jnp.asarray(ids) + vocab)
