"""Per-step update time of the hand-written optimizers vs their optax counterparts. SPEC: OPT-1..5.

A 35.7M-parameter float32 pytree (the DDPM CIFAR-10 U-Net's size, conv-like leaves), fixed random
gradients, `jax.jit(tx.update + optax.apply_updates)` with params and optimizer state donated.
The two implementations run interleaved (alternating order per round), and each JSON line gives
medians and `ratio = jaxdl_median / optax_median` (target <= 1.05), plus whether the two compile
to the same optimized HLO on a small tree (if so, any ratio away from 1 is timing noise).

Run: python -m benchmarks.optim [--repeats 15] [--only adam,sgd] [--out FILE]
"""

from __future__ import annotations

import argparse
import gc
import re
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxdl.optim as jo
from benchmarks.harness import Reporter, machine_info, time_fn

# (shape, count): 3x3 convs at 128/256 channels, dense/attention projections, biases.
SHAPES = [
    ((3, 3, 256, 256), 48),
    ((3, 3, 128, 256), 12),
    ((3, 3, 128, 128), 12),
    ((512, 256), 8),
    ((256, 1024), 4),
    ((256,), 64),
    ((128,), 10),
]

PAIRS: dict[str, tuple[Callable[[], optax.GradientTransformation], ...]] = {
    "sgd": (lambda: jo.sgd(1e-2), lambda: optax.sgd(1e-2)),
    "momentum": (lambda: jo.momentum(1e-2, 0.9), lambda: optax.sgd(1e-2, momentum=0.9)),
    "adagrad": (
        lambda: jo.adagrad(1e-2, eps=1e-10, initial_accumulator_value=0.1),
        lambda: optax.adagrad(1e-2, initial_accumulator_value=0.1, eps=1e-10),
    ),
    "rmsprop": (
        lambda: jo.rmsprop(1e-2, 0.99, 1e-8),
        lambda: optax.rmsprop(1e-2, decay=0.99, eps=1e-8, eps_in_sqrt=False),
    ),
    "adam": (lambda: jo.adam(1e-3), lambda: optax.adam(1e-3)),
    "adamw": (lambda: jo.adamw(1e-3), lambda: optax.adamw(1e-3, weight_decay=1e-2)),
}


def make_tree(seed: int = 0) -> dict[str, jax.Array]:
    key = jax.random.key(seed)
    tree, i = {}, 0
    for shape, count in SHAPES:
        for _ in range(count):
            tree[f"layer_{i:03d}"] = 0.02 * jax.random.normal(jax.random.fold_in(key, i), shape)
            i += 1
    return tree


def _hlo(tx: optax.GradientTransformation) -> str:
    """Optimized HLO ops of the update step on a small 3-leaf tree (names and metadata out)."""
    tree = {"k": jnp.ones((3, 3, 8, 8)), "d": jnp.ones((16, 8)), "b": jnp.ones((8,))}

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    text = jax.jit(step).lower(tree, tx.init(tree), tree).compile().as_text()
    text = re.sub(r",? (metadata|stack_frame_id)=(\{[^}]*\}|\d+)", "", text)
    # Instructions and computation headers only (the stack-frame tables name source files).
    keep = [ln for ln in text.splitlines() if re.match(r"\s*(ROOT )?%|ENTRY|\}", ln)]
    # Instruction names differ (`mul.6` vs `integer_pow.0`); compare ops, shapes and constants.
    return re.sub(r"%[\w.\-]+", "%_", "\n".join(keep))


def make_runner(tx: optax.GradientTransformation, params, grads) -> Callable[[], jax.Array]:
    """A closure that runs one donated update step and returns something to block on."""

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    jitted = jax.jit(step, donate_argnums=(0, 1))
    box = [jax.tree.map(jnp.copy, params), tx.init(params)]

    def run():
        box[0], box[1] = jitted(box[0], box[1], grads)
        return box[0]

    return run


def bench_pair(name: str, params, grads, repeats: int, reporter: Reporter) -> None:
    runners = [make_runner(make(), params, grads) for make in PAIRS[name]]
    first = [time_fn(r, repeats=1, warmup=2)["first_call_s"] for r in runners]
    times: list[list[float]] = [[], []]
    for rnd in range(repeats):
        order = (0, 1) if rnd % 2 == 0 else (1, 0)
        for k in order:
            times[k].append(time_fn(runners[k], repeats=1, warmup=0)["median_s"])
    med = [float(np.median(t)) for t in times]
    same_hlo = _hlo(PAIRS[name][0]()) == _hlo(PAIRS[name][1]())
    reporter.emit(
        "optim_update",
        optimizer=name,
        ratio=round(med[0] / med[1], 4),
        same_hlo_ops_small_tree=same_hlo,
        jaxdl_median_s=med[0],
        optax_median_s=med[1],
        jaxdl_p10_s=float(np.percentile(times[0], 10)),
        jaxdl_p90_s=float(np.percentile(times[0], 90)),
        optax_p10_s=float(np.percentile(times[1], 10)),
        optax_p90_s=float(np.percentile(times[1], 90)),
        jaxdl_first_call_s=first[0],
        optax_first_call_s=first[1],
        jaxdl_min_s=float(np.min(times[0])),
        optax_min_s=float(np.min(times[1])),
        repeats=repeats,
    )
    del runners
    gc.collect()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", default=",".join(PAIRS), help="comma-separated optimizers")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    reporter = Reporter(args.out)
    t0 = time.perf_counter()
    params = make_tree(0)
    grads = jax.tree.map(lambda x: 1e-2 * x, make_tree(1))
    n = sum(x.size for x in jax.tree.leaves(params))
    reporter.emit("optim_setup", params=n, leaves=len(params), **machine_info())
    for name in args.only.split(","):
        bench_pair(name, params, grads, args.repeats, reporter)
    reporter.emit("optim_total", wall_s=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
