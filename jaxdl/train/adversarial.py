"""The two-player step (`jaxdl.train.adversarial`): every GAN, SRGAN/ESRGAN and Real-ESRGAN.

Per train step: `d_steps` discriminator (critic) updates, then one generator update, all in one
jitted step (`lax.scan` over the critic updates). WGAN's n_critic = 5 is `d_steps=5` (Arjovsky
et al. 2017, GAN-3); the unrolled GAN's look-ahead is `unroll_steps=k` (Metz et al. 2017,
GAN-4): the generator's loss sees a copy of D advanced k steps, with gradients flowing through
those updates, while the real D takes only its own update.

Loss functions get Flax variable dicts (`{"params": ..., **mutable collections}`) of both
players, so they call `model.apply(vars, ...)` directly:

    d_loss_fn(d_vars, g_vars, batch, rng) -> (loss, aux)     # gradient w.r.t. d_vars["params"]
    g_loss_fn(g_vars, d_vars, batch, rng) -> (loss, aux)     # gradient w.r.t. g_vars["params"]

With `has_mutable=True` (BatchNorm in either network) both return
`(loss, (aux, updates))`, `updates` a dict with optional entries "g" and "d" holding the new
mutable collections of that player.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxdl.train import pieces
from jaxdl.train.config import resolve_dtype
from jaxdl.train.state import split_variables
from jaxdl.train.supervised import InitState, TrainStep

PlayerLoss = Callable[..., tuple[jax.Array, Any]]


@flax.struct.dataclass
class Player:
    """One network's params, optimizer state and mutable collections ({} if none)."""

    params: Any
    opt_state: Any
    mutable: Any = flax.struct.field(default_factory=dict)

    def variables(self, params: Any = None) -> dict:
        return {"params": self.params if params is None else params, **self.mutable}


@flax.struct.dataclass
class AdversarialState:
    """step, the state's RNG key (raw uint32), generator `g`, discriminator `d`, and the
    generator's EMA params (None without EMA)."""

    step: jax.Array
    rng: jax.Array
    g: Player
    d: Player
    g_ema: Any = None


def adversarial(
    g_loss_fn: PlayerLoss,
    d_loss_fn: PlayerLoss,
    g_tx: optax.GradientTransformation,
    d_tx: optax.GradientTransformation,
    *,
    g_init: Callable[[jax.Array], Any],
    d_init: Callable[[jax.Array], Any],
    d_steps: int = 1,
    d_batch: str = "full",
    unroll_steps: int = 0,
    d_constraint: Callable[[Any], Any] | None = None,
    clip_norm: float | None = None,
    ema_decay: float | None = None,
    ema_warmup: bool = False,
    compute_dtype: Any = None,
    skip_nonfinite: bool = False,
    has_mutable: bool = False,
    accum_steps: int = 1,
) -> tuple[InitState, TrainStep]:
    """Returns `(init_state, train_step)` for `Task`; the state is an `AdversarialState`.

    g_init / d_init: rng -> params or Flax variables of the generator / discriminator.
    d_steps: discriminator updates per step (>= 1).
    d_batch: "full": every D update sees the whole batch with its own key (fresh z);
      "slices": the batch is split into `d_steps` interleaved slices, update i sees slice i and
      the generator update sees the last slice (WGAN's m samples per update).
    unroll_steps: k look-ahead D updates inside the generator's loss (0: plain GAN). The
      look-ahead differentiates through `d_tx`: Adam needs `eps_root` > 0 there (its √v has an
      infinite derivative at a zero gradient, which gives NaN).
    d_constraint: params -> params applied after each D update, e.g. WGAN weight clipping
      `lambda p: jaxdl.optim.clip_weights(p, 0.01)`.
    clip_norm: global-norm gradient clipping for both players.
    ema_decay: keep `state.g_ema`, an EMA of the generator params.
    compute_dtype, skip_nonfinite, has_mutable: as in `jaxdl.train.supervised`.
    accum_steps: accepted for a uniform `config.train`; must be 1 here.

    Keys: D update i uses fold_in(step key, i), the generator fold_in(step key, d_steps), its
    look-ahead update j fold_in(generator key, j + 1). Metrics: d/loss, d/grad_norm (means over
    the D updates), g/loss, g/grad_norm, `d/`- and `g/`-prefixed aux metrics, nonfinite (and
    skipped).
    """
    if not isinstance(d_steps, int) or d_steps < 1:
        raise ValueError(f"d_steps must be an integer >= 1, got {d_steps!r}")
    if d_batch not in ("full", "slices"):
        raise ValueError(f"d_batch must be 'full' or 'slices', got {d_batch!r}")
    if not isinstance(unroll_steps, int) or unroll_steps < 0:
        raise ValueError(f"unroll_steps must be an integer >= 0, got {unroll_steps!r}")
    if accum_steps != 1:
        raise ValueError("the adversarial step does not accumulate gradients (accum_steps=1)")
    pieces.check_positive(clip_norm=clip_norm)
    pieces.check_decay(ema_decay)
    dtype = resolve_dtype(compute_dtype)

    def init_state(rng: jax.Array) -> AdversarialState:
        g_key, d_key, state_key = jax.random.split(rng, 3)
        g_params, g_mut = split_variables(g_init(g_key))
        d_params, d_mut = split_variables(d_init(d_key))
        return AdversarialState(
            step=jnp.zeros((), jnp.int32),
            rng=state_key,
            g=Player(g_params, g_tx.init(g_params), g_mut),
            d=Player(d_params, d_tx.init(d_params), d_mut),
            g_ema=jax.tree.map(jnp.copy, g_params) if ema_decay is not None else None,
        )

    def unpack(out):
        loss, rest = out
        aux, updates = rest if has_mutable else (rest, {})
        return loss, (pieces.float32_metrics(aux), dict(updates))

    def d_update(d: Player, g_vars: dict, batch: Any, rng: jax.Array):
        """One discriminator update -> (new D, G mutable updates, loss, grad_norm, aux)."""

        def objective(d_params, b, g_vars, rng):
            return unpack(d_loss_fn(d.variables(d_params), g_vars, b, rng))

        g_vars = {**g_vars, "params": pieces.cast_floats(g_vars["params"], dtype)}
        loss, (aux, upd), grads = pieces.value_and_grad(
            objective, d.params, batch, g_vars, rng, compute_dtype=dtype
        )
        loss, aux, grads, upd = pieces.data_mean((loss, aux, grads, upd))
        params, opt_state, grad_norm = pieces.apply_gradients(
            d_tx, grads, d.opt_state, d.params, clip_norm=clip_norm
        )
        if d_constraint is not None:
            params = d_constraint(params)
        new_d = Player(params, opt_state, {**d.mutable, **upd.get("d", {})})
        return new_d, upd.get("g", {}), loss, grad_norm, aux

    def critic_phase(d: Player, g: Player, batch: Any, rng: jax.Array):
        if d_batch == "slices":
            xs = pieces.split_micro(batch, d_steps, "d_steps")
            g_batch = jax.tree.map(lambda x: x[-1], xs)
        else:
            xs, g_batch = None, batch

        def body(carry, x):
            d, g_mut = carry
            i, b = x
            b = batch if b is None else b
            d, g_upd, loss, grad_norm, aux = d_update(
                d, {"params": g.params, **g_mut}, b, jax.random.fold_in(rng, i)
            )
            return (d, {**g_mut, **g_upd}), (loss, grad_norm, aux)

        (d, g_mut), (losses, norms, auxes) = jax.lax.scan(
            body, (d, g.mutable), (jnp.arange(d_steps), xs)
        )
        return d, g.replace(mutable=g_mut), g_batch, (losses, norms, auxes)

    def g_update(g: Player, d: Player, batch: Any, rng: jax.Array):
        def lookahead(g_vars, b):
            d_k = d
            for j in range(unroll_steps):
                d_k = d_update(d_k, g_vars, b, jax.random.fold_in(rng, j + 1))[0]
            return d_k.variables()

        def objective(g_params, b, rng):
            g_vars = g.variables(g_params)
            d_vars = lookahead(g_vars, b) if unroll_steps else d.variables()
            d_vars = {**d_vars, "params": pieces.cast_floats(d_vars["params"], dtype)}
            return unpack(g_loss_fn(g_vars, d_vars, b, rng))

        loss, (aux, upd), grads = pieces.value_and_grad(
            objective, g.params, batch, rng, compute_dtype=dtype
        )
        loss, aux, grads, upd = pieces.data_mean((loss, aux, grads, upd))
        params, opt_state, grad_norm = pieces.apply_gradients(
            g_tx, grads, g.opt_state, g.params, clip_norm=clip_norm
        )
        new_g = Player(params, opt_state, {**g.mutable, **upd.get("g", {})})
        new_d = d.replace(mutable={**d.mutable, **upd.get("d", {})})
        return new_g, new_d, loss, grad_norm, aux

    def train_step(state: AdversarialState, batch: Any):
        rng = pieces.step_rng(state.rng, state.step)
        d, g, g_batch, (d_losses, d_norms, d_aux) = critic_phase(state.d, state.g, batch, rng)
        g, d, g_loss, g_norm, g_aux = g_update(g, d, g_batch, jax.random.fold_in(rng, d_steps))
        g_ema = pieces.ema(state.g_ema, g.params, ema_decay, state.step, ema_warmup)
        new = state.replace(g=g, d=d, g_ema=g_ema)
        finite = pieces.is_finite(d_losses, d_norms, g_loss, g_norm)
        new, flags = pieces.guard_nonfinite(finite, new, state, skip_nonfinite)
        new = new.replace(step=state.step + 1)
        metrics = {
            "d/loss": jnp.mean(d_losses),
            "d/grad_norm": jnp.mean(d_norms),
            **{f"d/{k}": jnp.mean(v) for k, v in d_aux.items()},
            "g/loss": g_loss,
            "g/grad_norm": g_norm,
            **{f"g/{k}": v for k, v in g_aux.items()},
            **flags,
        }
        return new, metrics

    return init_state, train_step
