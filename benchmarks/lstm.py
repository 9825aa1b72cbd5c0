"""A 2-layer LSTM (hidden 512, sequence 100, batch 32): jaxdl vs `torch.nn.LSTM` on CPU (SEQ-1).

    python -m benchmarks.lstm [--repeats 10] [--out FILE] [--small]

Same sizes on both sides (input 512, `batch_first`, unidirectional unless `--bidirectional`),
same inputs. `forward`: the outputs and final states, no gradients. `train_step`: MSE of the
outputs to a fixed target, backward through time, Adam. Each framework runs in its own
subprocess and reports its peak RSS; one JSON line per measurement (median seconds, first call
with compilation apart), then a ratio line per measurement (jaxdl / torch; below 1: jaxdl is
faster). `--small` is a smoke test of the script (hidden 16, sequence 5), not a measurement.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import numpy as np


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _data(args):
    rng = np.random.default_rng(0)
    shape = (args.batch, args.seq, args.hidden)
    out = args.hidden * (2 if args.bidirectional else 1)
    x = rng.standard_normal(shape, dtype=np.float32)
    return x, rng.standard_normal((*shape[:2], out), dtype=np.float32)


def _jax(args) -> list[tuple[str, callable]]:
    import jax
    import jax.numpy as jnp
    import optax

    from jaxdl.nn.recurrent import Recurrent

    lstm = Recurrent("lstm", args.hidden, args.layers, args.bidirectional)
    x, target = (jnp.asarray(a) for a in _data(args))
    params = jax.jit(lstm.init)(jax.random.key(0), x)["params"]
    tx = optax.adam(1e-3)
    state = {"p": params, "o": tx.init(params)}
    forward = jax.jit(lambda p, x: lstm.apply({"params": p}, x))

    @jax.jit
    def train_step(p, o, x, y):
        loss, g = jax.value_and_grad(
            lambda p: jnp.mean((lstm.apply({"params": p}, x)[0] - y) ** 2)
        )(p)
        updates, o = tx.update(g, o, p)
        return optax.apply_updates(p, updates), o, loss

    def step():
        state["p"], state["o"], loss = train_step(state["p"], state["o"], x, target)
        return loss

    return [("forward", lambda: forward(state["p"], x)), ("train_step", step)]


def _torch(args) -> list[tuple[str, callable]]:
    import torch

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(
        args.hidden, args.hidden, args.layers, batch_first=True, bidirectional=args.bidirectional
    )
    x, target = (torch.from_numpy(a) for a in _data(args))
    opt = torch.optim.Adam(lstm.parameters(), lr=1e-3)

    def forward():
        with torch.no_grad():
            lstm(x)
        return np.zeros(())

    def step():
        loss = torch.nn.functional.mse_loss(lstm(x)[0], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return np.asarray(loss.item())

    return [("forward", forward), ("train_step", step)]


def _measure(args) -> None:
    from benchmarks.harness import machine_info, time_fn

    info = machine_info()
    if args.only == "torch":
        import torch

        info |= {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    for name, fn in (_jax if args.only == "jaxdl" else _torch)(args):
        t = time_fn(fn, repeats=args.repeats, warmup=2, block=args.only == "jaxdl")
        print(json.dumps({"bench": f"lstm/{name}", **t, **info, "peak_rss_gib": _rss_gib()}))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lstm")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--seq", type=int, default=100)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--small", action="store_true", help="hidden 16, sequence 5 (smoke test)")
    p.add_argument("--out", default=None)
    p.add_argument("--only", choices=("jaxdl", "torch"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.small:
        args.hidden, args.seq, args.repeats = 16, 5, 2
    if args.only:
        return _measure(args)
    from benchmarks.harness import Reporter

    rep, results = Reporter(args.out), {}
    sizes = {k: getattr(args, k) for k in ("layers", "hidden", "seq", "batch", "bidirectional")}
    flags = [f"--{k}={getattr(args, k)}" for k in ("repeats", "layers", "hidden", "seq", "batch")]
    flags += ["--bidirectional"] if args.bidirectional else []
    for fw in ("jaxdl", "torch"):
        cmd = [sys.executable, "-m", "benchmarks.lstm", "--only", fw, *flags]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{fw} benchmark failed:\n{proc.stderr[-2000:]}")
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[r["bench"], fw] = rep.emit(**{**r, "framework": fw, **sizes})
    for name in ("forward", "train_step"):
        jx, ref = results[f"lstm/{name}", "jaxdl"], results[f"lstm/{name}", "torch"]
        rep.emit(
            f"lstm/{name}/ratio",
            **sizes,
            jaxdl_over_torch=jx["median_s"] / ref["median_s"],
            jaxdl_peak_rss_gib=jx["peak_rss_gib"],
            torch_peak_rss_gib=ref["peak_rss_gib"],
        )


if __name__ == "__main__":
    main()
