"""SUNet (Fan et al. 2022, the paper's 99.7M configuration) on this machine: jaxdl vs a PyTorch
re-expression of the same network (tests/torch_sunet.py), side by side. SPEC: RES-1.

    python -m benchmarks.sunet [--repeats 3] [--out FILE] [--small]

Times the forward pass at 256x256 (batch 1) and a train step (L1 loss, backward, Adam) at batch
4; jaxdl compile time separately; each framework runs in its own subprocess and reports its peak
RSS. `--small` runs a tiny configuration (a smoke test of the script, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

SMALL = dict(embed_dim=8, depths=(2, 2), num_heads=(2, 2), window_size=4)


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _config(args) -> dict:
    return SMALL if args.small else {}


def _jax(args) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from benchmarks.harness import time_fn
    from jaxdl import optim
    from jaxdl.models.sunet import SUNet, init_params
    from jaxdl.train import supervised

    model, size = SUNet(drop_path_rate=0.0, **_config(args)), args.image_size
    tx = optim.adam(2e-4)

    def loss_fn(params, batch, rng):
        out = model.apply({"params": params}, batch["noisy"])
        return jnp.mean(jnp.abs(out - batch["clean"])), {}

    init_state, train_step = supervised(loss_fn, tx, init_fn=lambda k: init_params(model, k, size))
    state = jax.jit(init_state)(jax.random.key(0))
    forward = jax.jit(lambda p, x: model.apply({"params": p}, x))
    x1 = jnp.zeros((1, size, size, 3))
    out = [
        dict(
            bench="sunet_forward_b1",
            **time_fn(lambda: forward(state.params, x1), repeats=args.repeats),
        )
    ]
    out[-1]["peak_rss_gib"] = _rss_gib()
    batch = {"noisy": jnp.ones((4, size, size, 3)) * 0.5, "clean": jnp.zeros((4, size, size, 3))}
    step = jax.jit(train_step, donate_argnums=0)
    holder = {"s": state}

    def run():
        holder["s"], m = step(holder["s"], batch)
        return m

    out.append(dict(bench="sunet_train_step_b4", **time_fn(run, repeats=args.repeats)))
    out[-1]["peak_rss_gib"] = _rss_gib()
    return out


def _torch(args) -> list[dict]:

    import torch

    from benchmarks.harness import time_fn
    from tests.torch_sunet import TorchSUNet

    c, size = _config(args), args.image_size
    kw = (
        dict(
            embed=c["embed_dim"], depths=c["depths"], heads=c["num_heads"], window=c["window_size"]
        )
        if c
        else {}
    )
    model = TorchSUNet((size, size), **kw)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    x1 = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        out = [
            dict(
                bench="sunet_forward_b1",
                **time_fn(lambda: model(x1), repeats=args.repeats, block=False),
                peak_rss_gib=_rss_gib(),
            )
        ]
    noisy, clean = torch.full((4, 3, size, size), 0.5), torch.zeros(4, 3, size, size)

    def step():
        loss = (model(noisy) - clean).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    out.append(
        dict(
            bench="sunet_train_step_b4",
            **time_fn(step, repeats=args.repeats, block=False),
            peak_rss_gib=_rss_gib(),
        )
    )
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sunet")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--image_size", type=int, default=256)
    p.add_argument("--small", action="store_true", help="tiny configuration (smoke test)")
    p.add_argument("--out", default=None)
    p.add_argument("--only", choices=("jaxdl", "torch"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.only:
        for r in _jax(args) if args.only == "jaxdl" else _torch(args):
            print(json.dumps(r), flush=True)
        return
    from benchmarks.harness import Reporter

    rep, results = Reporter(args.out), {}
    for fw in ("jaxdl", "torch"):
        cmd = [sys.executable, "-m", "benchmarks.sunet", "--only", fw]
        cmd += ["--repeats", str(args.repeats), "--image_size", str(args.image_size)]
        proc = subprocess.run(
            cmd + (["--small"] if args.small else []), capture_output=True, text=True
        )
        if proc.returncode:
            print(f"{fw} benchmark failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[(r["bench"], fw)] = rep.emit(**{**r, "framework": fw})
    for (bench, fw), r in sorted(results.items()):
        ref = results.get((bench, "torch"))
        if fw == "jaxdl" and ref:
            rep.emit(
                bench + "_ratio",
                jaxdl_over_torch=r["median_s"] / ref["median_s"],
                jaxdl_peak_rss_gib=r["peak_rss_gib"],
                torch_peak_rss_gib=ref["peak_rss_gib"],
            )


if __name__ == "__main__":
    main()
