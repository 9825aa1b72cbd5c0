"""Recurrent layers (SPEC SEQ-1) against torch.nn.RNN/LSTM/GRU with converted weights, the
Chung et al. GRU form against a float64 NumPy re-expression, padding/masks and bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxdl.convert.torch_rnn import torch_rnn_params
from jaxdl.nn.recurrent import GRUCell, Recurrent, reverse_padded

B, T, F, H = 3, 7, 5, 6
LENGTHS = np.array([7, 4, 1])
TORCH = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
TOL = 1e-5


def _inputs(seed=0):
    return np.random.RandomState(seed).randn(B, T, F).astype(np.float32)


def _torch_run(tm, x, lengths, h0=None):
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(x), torch.tensor(lengths), batch_first=True, enforce_sorted=False
    )
    out, state = tm(packed, h0)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    state = state if isinstance(state, tuple) else (state,)
    return out.detach().numpy(), [s.detach().numpy() for s in state]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_parity_with_torch_packed_two_layers(cell, bidirectional):
    torch.manual_seed(0)
    tm = TORCH[cell](F, H, num_layers=2, bidirectional=bidirectional, batch_first=True)
    model = Recurrent(cell, H, num_layers=2, bidirectional=bidirectional)
    params = torch_rnn_params(tm.state_dict(), model, F)
    x = _inputs()
    want_out, want_state = _torch_run(tm, x, LENGTHS)
    fn = lambda p, x, n: model.apply({"params": p}, x, lengths=n)  # noqa: E731
    out, state = jax.jit(fn)(params, jnp.asarray(x), jnp.asarray(LENGTHS))
    chex.assert_shape(out, (B, T, H * (2 if bidirectional else 1)))
    chex.assert_trees_all_close(np.asarray(out), want_out, atol=TOL, rtol=0)
    state = state if cell == "lstm" else (state,)
    for got, want in zip(state, want_state, strict=True):
        chex.assert_trees_all_close(np.asarray(got), want, atol=TOL, rtol=0)


def test_parity_relu_rnn_with_initial_state_and_gradients():
    torch.manual_seed(1)
    tm = torch.nn.RNN(F, H, num_layers=2, nonlinearity="relu", batch_first=True)
    model = Recurrent("rnn", H, num_layers=2, nonlinearity="relu")
    params = torch_rnn_params(tm.state_dict(), model, F)
    x = _inputs(1)
    h0 = np.random.RandomState(2).randn(2, B, H).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    out, _ = tm(xt, torch.tensor(h0))
    out.pow(2).sum().backward()

    def loss(x):
        y, _ = model.apply({"params": params}, x, initial_state=jnp.asarray(h0))
        return jnp.sum(y**2), y

    (_, y), gx = jax.value_and_grad(loss, has_aux=True)(jnp.asarray(x))
    chex.assert_trees_all_close(np.asarray(y), out.detach().numpy(), atol=TOL, rtol=0)
    chex.assert_trees_all_close(np.asarray(gx), xt.grad.numpy(), atol=1e-4, rtol=1e-5)


def test_lstm_initial_state_parity():
    torch.manual_seed(3)
    tm = torch.nn.LSTM(F, H, num_layers=2, bidirectional=True, batch_first=True)
    model = Recurrent("lstm", H, num_layers=2, bidirectional=True)
    params = torch_rnn_params(tm.state_dict(), model, F)
    rs = np.random.RandomState(4)
    h0, c0 = (rs.randn(4, B, H).astype(np.float32) for _ in range(2))
    x = _inputs(2)
    want_out, want_state = _torch_run(tm, x, LENGTHS, (torch.tensor(h0), torch.tensor(c0)))
    out, (h, c) = model.apply(
        {"params": params}, jnp.asarray(x), lengths=LENGTHS, initial_state=(h0, c0)
    )
    chex.assert_trees_all_close(np.asarray(out), want_out, atol=TOL, rtol=0)
    chex.assert_trees_all_close((np.asarray(h), np.asarray(c)), tuple(want_state), atol=TOL)


def _gru_chung_numpy(params, x):
    """Chung et al. (2014) GRU in float64: h = (1−z)·h₋₁ + z·tanh(W x + U(r⊙h₋₁) + b)."""
    wi, bi = (np.float64(params["ih"][k]) for k in ("kernel", "bias"))
    wh, bh = (np.float64(params["hh"][k]) for k in ("kernel", "bias"))
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h = np.zeros((x.shape[0], H))
    outs = []
    for t in range(x.shape[1]):
        xi = x[:, t] @ wi + bi
        r = sig(xi[:, :H] + h @ wh[:, :H] + bh[:H])
        z = sig(xi[:, H : 2 * H] + h @ wh[:, H : 2 * H] + bh[H : 2 * H])
        cand = np.tanh(xi[:, 2 * H :] + (r * h) @ wh[:, 2 * H :] + bh[2 * H :])
        h = (1 - z) * h + z * cand
        outs.append(h)
    return np.stack(outs, 1)


def test_gru_chung_form_matches_reference_and_differs_from_torch_form():
    x = _inputs(5)
    model = Recurrent("gru", H, gru_form="chung")
    params = model.init(jax.random.PRNGKey(0), jnp.asarray(x))["params"]
    out, h = model.apply({"params": params}, jnp.asarray(x))
    want = _gru_chung_numpy(params["l0"], np.float64(x))
    chex.assert_trees_all_close(np.asarray(out), want, atol=1e-5, rtol=0)
    chex.assert_trees_all_close(np.asarray(h[0]), want[:, -1], atol=1e-5, rtol=0)
    torch_form, _ = Recurrent("gru", H).apply({"params": params}, jnp.asarray(x))
    assert np.abs(np.asarray(torch_form) - want).max() > 1e-2


def test_gru_cell_step_equals_layer():
    x = jnp.asarray(_inputs(6))
    cell = GRUCell(H)
    p = cell.init(jax.random.PRNGKey(1), jnp.zeros((B, H)), x[:, 0])
    h = jnp.zeros((B, H))
    for t in range(T):
        h, _ = cell.apply(p, h, x[:, t])
    _, state = Recurrent("gru", H).apply({"params": {"l0": p["params"]}}, x)
    chex.assert_trees_all_close(h, state[0], atol=1e-6)


def test_padding_is_ignored_and_mask_equals_lengths():
    model = Recurrent("lstm", H, num_layers=2, bidirectional=True)
    x = _inputs(7)
    params = model.init(jax.random.PRNGKey(0), jnp.asarray(x))["params"]
    mask = np.arange(T)[None] < LENGTHS[:, None]
    noisy = np.where(mask[..., None], x, 1e3).astype(np.float32)
    a_out, a_state = model.apply({"params": params}, jnp.asarray(x), lengths=LENGTHS)
    b_out, b_state = model.apply({"params": params}, jnp.asarray(noisy), mask=jnp.asarray(mask))
    chex.assert_trees_all_close((a_out, a_state), (b_out, b_state), atol=1e-6)
    assert np.all(np.asarray(a_out)[~mask] == 0)


def test_reverse_padded_keeps_padding_in_place():
    x = jnp.arange(2 * 4).reshape(2, 4)
    got = reverse_padded(x, jnp.array([3, 1]))
    np.testing.assert_array_equal(got, [[2, 1, 0, 3], [4, 5, 6, 7]])


def test_bad_shapes_and_names():
    model = Recurrent("gru", H, num_layers=2)
    x = jnp.zeros((B, T, F))
    params = model.init(jax.random.PRNGKey(0), x)["params"]
    with pytest.raises(ValueError, match=r"mask shape \(3, 6\) must be \(batch, time\) = \(3, 7\)"):
        model.apply({"params": params}, x, mask=jnp.ones((B, T - 1), bool))
    with pytest.raises(ValueError, match=r"lengths shape \(2,\) must be \(batch,\)"):
        model.apply({"params": params}, x, lengths=jnp.array([1, 2]))
    with pytest.raises(ValueError, match=r"initial_state .* \(2, 3, 6\), got \(1, 3, 6\)"):
        model.apply({"params": params}, x, initial_state=jnp.zeros((1, B, H)))
    with pytest.raises(ValueError, match=r"unknown cell 'lstn'; choose from \('rnn', 'lstm'"):
        Recurrent("lstn", H).init(jax.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="gru_form must be one of"):
        Recurrent("gru", H, gru_form="book").init(jax.random.PRNGKey(0), x)


def test_converter_rejects_other_layer_count_and_shapes_by_key():
    two = Recurrent("lstm", H, num_layers=2)
    with pytest.raises(
        ValueError, match=r"has layers \[0, 1, 2\]\): .*unexpected keys \[bias_hh_l2, bias_ih_l2"
    ):
        torch_rnn_params(torch.nn.LSTM(F, H, num_layers=3).state_dict(), two, F)
    with pytest.raises(ValueError, match=r"missing keys \[bias_hh_l1, bias_ih_l1, weight_hh_l1"):
        torch_rnn_params(torch.nn.LSTM(F, H, num_layers=1).state_dict(), two, F)
    with pytest.raises(ValueError, match=r"missing keys \[bias_hh_l0, bias_hh_l1, bias_ih_l0"):
        torch_rnn_params(torch.nn.LSTM(F, H, num_layers=2, bias=False).state_dict(), two, F)
    with pytest.raises(ValueError, match=r"weight_ih_l0: shape \(28, 5\) .* expects \(24, 5\)"):
        torch_rnn_params(torch.nn.LSTM(F, H + 1, num_layers=2).state_dict(), two, F)
    with pytest.raises(ValueError, match=r"unexpected keys \[.*weight_ih_l0_reverse"):
        sd = torch.nn.LSTM(F, H, num_layers=2, bidirectional=True).state_dict()
        torch_rnn_params(sd, two, F)


def test_converter_prefix_selects_submodule():
    outer = torch.nn.Sequential(torch.nn.GRU(F, H, batch_first=True))
    model = Recurrent("gru", H)
    params = torch_rnn_params(outer.state_dict(), model, F, prefix="0.")
    x = _inputs(8)
    out, _ = model.apply({"params": params}, jnp.asarray(x))
    want, _ = outer[0](torch.tensor(x))
    chex.assert_trees_all_close(np.asarray(out), want.detach().numpy(), atol=TOL)
