"""Recurrent layers: RNN, LSTM and GRU cells scanned over time, stacked, bidirectional. SPEC: SEQ-1.

Cells hold PyTorch's parameters (`ih`: x -> G·H and `hh`: h -> G·H Dense layers, both with
bias, gates in PyTorch's order: LSTM i, f, g, o; GRU r, z, n), initialised as PyTorch does
(U(−1/√H, 1/√H)), so `jaxdl.convert.torch_rnn` loads `torch.nn.RNN/LSTM/GRU` weights and the
numbers match.

- RNN (Elman 1990): h_t = act(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), act tanh or relu.
- LSTM (Hochreiter & Schmidhuber 1997, with a forget gate): i, f, o = σ(·), g = tanh(·),
  c_t = f⊙c_{t−1} + i⊙g, h_t = o⊙tanh(c_t).
- GRU, `form="torch"` (Cho et al. 2014's update, PyTorch/cuDNN's reset): r, z = σ(·),
  n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h_t = (1−z)⊙n + z⊙h_{t−1}.
  `form="chung"` (Chung et al. 2014, the textbook form): h̃ = tanh(W_in x + b_in +
  W_hn(r⊙h) + b_hn), h_t = (1−z)⊙h_{t−1} + z⊙h̃ — z weighs the new state instead of the old.

`Recurrent` runs `num_layers` of one cell kind over (B, T, F) inputs with `flax.linen.scan`,
optionally bidirectional (the reverse pass reads each sequence backwards from its own last valid
step, as `torch.nn.utils.rnn.pack_padded_sequence` does). Padded sequences: pass `lengths` (B,)
or a left-aligned `mask` (B, T); states stop at each sequence's end and outputs are zero past it.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

CELLS = ("rnn", "lstm", "gru")
GRU_FORMS = ("torch", "chung")
NONLINEARITIES = {"tanh": jnp.tanh, "relu": jax.nn.relu}
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

Carry = Any  # h (B, H), or (h, c) for the LSTM


def _torch_uniform(hidden: int):
    bound = hidden**-0.5

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class _Cell(nn.Module):
    """Shared parts: the two Dense layers; `project` (all time steps at once) and `step`."""

    features: int

    kind = "rnn"

    def setup(self):
        init = _torch_uniform(self.features)
        size = _GATES[self.kind] * self.features
        self.ih = nn.Dense(size, kernel_init=init, bias_init=init)
        self.hh = nn.Dense(size, kernel_init=init, bias_init=init)

    def project(self, x: jax.Array) -> jax.Array:
        """W_ih x + b_ih for every step: (..., F) -> (..., G·H)."""
        return self.ih(x)

    def zero_carry(self, batch: int, dtype=jnp.float32) -> Carry:
        h = jnp.zeros((batch, self.features), dtype)
        return (h, h) if self.kind == "lstm" else h

    def __call__(self, carry: Carry, x: jax.Array) -> tuple[Carry, jax.Array]:
        """One step from raw input x (B, F): -> (new carry, h (B, H))."""
        return self.step(carry, self.project(x))


class RNNCell(_Cell):
    """Elman RNN cell (SPEC SEQ-1); `nonlinearity` "tanh" or "relu"."""

    nonlinearity: str = "tanh"

    kind = "rnn"

    def step(self, h: jax.Array, xp: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = NONLINEARITIES[self.nonlinearity](xp + self.hh(h))
        return h, h


class LSTMCell(_Cell):
    """LSTM cell, PyTorch's gate order i, f, g, o (SPEC SEQ-1). Carry (h, c)."""

    kind = "lstm"

    def step(self, carry, xp):
        h, c = carry
        i, f, g, o = jnp.split(xp + self.hh(h), 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h


class GRUCell(_Cell):
    """GRU cell, gates r, z, n; `form` "torch" (PyTorch) or "chung" (see the module docstring)."""

    form: str = "torch"

    kind = "gru"

    def step(self, h, xp):
        x_r, x_z, x_n = jnp.split(xp, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(self.hh(h), 3, axis=-1)
        r = jax.nn.sigmoid(x_r + h_r)
        z = jax.nn.sigmoid(x_z + h_z)
        if self.form == "torch":
            h = (1.0 - z) * jnp.tanh(x_n + r * h_n) + z * h
        else:  # W_hn (r⊙h) + b_hn is the n part of hh(r⊙h)
            h = (1.0 - z) * h + z * jnp.tanh(x_n + jnp.split(self.hh(r * h), 3, axis=-1)[2])
        return h, h


def make_cell(kind: str, features: int, *, nonlinearity="tanh", gru_form="torch", name=None):
    """The cell for `kind` ("rnn" | "lstm" | "gru")."""
    if kind == "rnn":
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got {nonlinearity!r}"
            )
        return RNNCell(features, nonlinearity=nonlinearity, name=name)
    if kind == "lstm":
        return LSTMCell(features, name=name)
    if kind == "gru":
        if gru_form not in GRU_FORMS:
            raise ValueError(f"gru_form must be one of {GRU_FORMS}, got {gru_form!r}")
        return GRUCell(features, form=gru_form, name=name)
    raise ValueError(f"unknown cell {kind!r}; choose from {CELLS}")


def lengths_from(x: jax.Array, lengths=None, mask=None) -> jax.Array:
    """(B,) int32 valid lengths of x (B, T, ...) from `lengths` (B,) or a left-aligned `mask`
    (B, T) (True on real steps); all T when neither is given. Shapes are checked."""
    b, t = x.shape[:2]
    if lengths is not None and mask is not None:
        raise ValueError("pass either lengths or mask, not both")
    if mask is not None:
        if mask.shape != (b, t):
            raise ValueError(f"mask shape {mask.shape} must be (batch, time) = {(b, t)}")
        return jnp.sum(mask, axis=1, dtype=jnp.int32)
    if lengths is None:
        return jnp.full((b,), t, jnp.int32)
    if jnp.shape(lengths) != (b,):
        raise ValueError(f"lengths shape {jnp.shape(lengths)} must be (batch,) = {(b,)}")
    return jnp.asarray(lengths, jnp.int32)


def reverse_padded(x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Reverses each sequence of x (B, T, ...) within its length; padding stays in place."""
    t = jnp.arange(x.shape[1])[None, :]
    idx = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    idx = idx.reshape(idx.shape + (1,) * (x.ndim - 2))
    return jnp.take_along_axis(x, idx, axis=1)


def _masked_step(cell, carry, inputs):
    xp, valid = inputs
    new, y = cell.step(carry, xp)
    keep = lambda a, b: jnp.where(valid[:, None], a, b)  # noqa: E731
    carry = jax.tree.map(keep, new, carry)
    return carry, jnp.where(valid[:, None], y, 0.0)


_scan = nn.scan(
    _masked_step,
    variable_broadcast="params",
    split_rngs={"params": False},
    in_axes=1,
    out_axes=1,
)


def run_cell(cell: _Cell, x: jax.Array, lengths: jax.Array, carry: Carry, reverse=False):
    """Scans `cell` over x (B, T, F) from `carry`: -> (final carry at each length, outputs
    (B, T, H), zero past each length). `reverse` reads each sequence backwards from its end."""
    if reverse:
        x = reverse_padded(x, lengths)
    valid = jnp.arange(x.shape[1])[None, :] < lengths[:, None]
    carry, y = _scan(cell, carry, (cell.project(x), valid))
    return carry, reverse_padded(y, lengths) if reverse else y


class Recurrent(nn.Module):
    """A stack of `num_layers` recurrent layers, like `torch.nn.RNN/LSTM/GRU(batch_first=True)`.

    cell: "rnn" | "lstm" | "gru"; hidden: H; bidirectional: a reverse pass per layer, outputs
    concatenated [forward; reverse]; dropout: on the outputs of every layer but the last (as
    PyTorch), active when `deterministic=False` (needs a "dropout" rng).
    Parameters are named `l{k}` and `l{k}_reverse` after PyTorch's `weight_ih_l{k}_reverse`.

    __call__(x (B, T, F), lengths=None | (B,), mask=None | (B, T), initial_state=None) ->
    (outputs (B, T, D·H), final state): final state h_n (L·D, B, H), or (h_n, c_n) for the
    LSTM, ordered as PyTorch's (layer-major, forward before reverse); `initial_state` has the
    same form.
    """

    cell: str
    hidden: int
    num_layers: int = 1
    bidirectional: bool = False
    nonlinearity: str = "tanh"
    gru_form: str = "torch"
    dropout: float = 0.0

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def setup(self):
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")
        suffixes = ("", "_reverse")[: self.directions]
        self.cells = [
            make_cell(
                self.cell,
                self.hidden,
                nonlinearity=self.nonlinearity,
                gru_form=self.gru_form,
                name=f"l{k}{s}",
            )
            for k in range(self.num_layers)
            for s in suffixes
        ]
        self.drop = nn.Dropout(self.dropout)

    def __call__(self, x, lengths=None, mask=None, initial_state=None, deterministic=True):
        if x.ndim != 3:
            raise ValueError(f"x must be (batch, time, features), got shape {x.shape}")
        lengths = lengths_from(x, lengths, mask)
        b, n = x.shape[0], self.num_layers * self.directions
        is_lstm = self.cell == "lstm"
        if initial_state is None:
            init = [c.zero_carry(b, x.dtype) for c in self.cells]
        else:
            parts = initial_state if is_lstm else (initial_state,)
            for p in parts:
                if p.shape != (n, b, self.hidden):
                    raise ValueError(
                        f"initial_state arrays must be (layers*directions, batch, hidden) = "
                        f"{(n, b, self.hidden)}, got {p.shape}"
                    )
            init = [tuple(p[i] for p in parts) if is_lstm else parts[0][i] for i in range(n)]
        finals = []
        for k in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                i = k * self.directions + d
                carry, y = run_cell(self.cells[i], x, lengths, init[i], reverse=d == 1)
                finals.append(carry)
                outs.append(y)
            x = jnp.concatenate(outs, axis=-1) if len(outs) > 1 else outs[0]
            if k < self.num_layers - 1 and self.dropout > 0:
                x = self.drop(x, deterministic=deterministic)
        if is_lstm:
            state = (jnp.stack([h for h, _ in finals]), jnp.stack([c for _, c in finals]))
        else:
            state = jnp.stack(finals)
        return x, state
