"""RRDBNet (ESRGAN's generator, full 23-block ×4 configuration) on this machine: jaxdl vs
BasicSR's own `RRDBNet` on PyTorch CPU, side by side. SPEC: RES-3.

    python -m benchmarks.sr [--repeats 3] [--out FILE] [--small]

Times the forward pass at 64x64 LR input (batch 1 and 8; output 256x256) and a train step (L1
loss, backward, Adam) at batch 4 with 128x128 HR targets (32x32 LR inputs); jaxdl compile time
separately (`first_call_s`). Each framework runs in its own subprocess and reports its peak RSS;
the `*_ratio` lines give jaxdl / PyTorch median time (target ≤ 1.0). BasicSR is imported through
`tests/basicsr_ref.py` (`pip install --no-deps basicsr==1.4.2`). `--small` runs a 1-block,
16-feature net (a smoke test of the script, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

SMALL = dict(num_feat=16, num_block=1, num_grow_ch=8)
LR_SIZE, HR_TRAIN, TRAIN_BATCH = 64, 128, 4


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _config(args) -> dict:
    return SMALL if args.small else {}


def _jax(args) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from benchmarks.harness import time_fn
    from jaxdl import optim
    from jaxdl.models.rrdbnet import RRDBNet
    from jaxdl.train import supervised

    model, lr_train = RRDBNet(**_config(args)), HR_TRAIN // 4

    def loss_fn(params, batch, rng):
        out = model.apply({"params": params}, batch["lr"])
        return jnp.mean(jnp.abs(out - batch["hr"])), {}

    def init_fn(rng):
        return model.init(rng, jnp.zeros((1, lr_train, lr_train, 3)))["params"]

    init_state, train_step = supervised(loss_fn, optim.adam(2e-4), init_fn=init_fn)
    state = jax.jit(init_state)(jax.random.key(0))
    forward = jax.jit(lambda p, x: model.apply({"params": p}, x))
    out = []
    for batch in (1, 8):
        x = jnp.full((batch, LR_SIZE, LR_SIZE, 3), 0.5)
        r = time_fn(lambda x=x: forward(state.params, x), repeats=args.repeats)
        out.append(dict(bench=f"rrdbnet_forward_b{batch}", **r, peak_rss_gib=_rss_gib()))
    batch = {
        "lr": jnp.full((TRAIN_BATCH, lr_train, lr_train, 3), 0.5),
        "hr": jnp.zeros((TRAIN_BATCH, HR_TRAIN, HR_TRAIN, 3)),
    }
    step = jax.jit(train_step, donate_argnums=0)
    holder = {"s": state}

    def run():
        holder["s"], metrics = step(holder["s"], batch)
        return metrics

    r = time_fn(run, repeats=args.repeats)
    out.append(dict(bench=f"rrdbnet_train_step_b{TRAIN_BATCH}", **r, peak_rss_gib=_rss_gib()))
    return out


def _torch(args) -> list[dict]:
    import torch

    from benchmarks.harness import time_fn
    from tests.basicsr_ref import load

    model = load("basicsr.archs.rrdbnet_arch").RRDBNet(3, 3, scale=4, **_config(args))
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    out = []
    with torch.no_grad():
        for batch in (1, 8):
            x = torch.full((batch, 3, LR_SIZE, LR_SIZE), 0.5)
            r = time_fn(lambda x=x: model(x), repeats=args.repeats, block=False)
            out.append(dict(bench=f"rrdbnet_forward_b{batch}", **r, peak_rss_gib=_rss_gib()))
    lr_train = HR_TRAIN // 4
    lr = torch.full((TRAIN_BATCH, 3, lr_train, lr_train), 0.5)
    hr = torch.zeros(TRAIN_BATCH, 3, HR_TRAIN, HR_TRAIN)

    def step():
        loss = (model(lr) - hr).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    r = time_fn(step, repeats=args.repeats, block=False)
    out.append(dict(bench=f"rrdbnet_train_step_b{TRAIN_BATCH}", **r, peak_rss_gib=_rss_gib()))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sr")
    p.add_argument("--repeats", type=int, default=3)
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
        cmd = [sys.executable, "-m", "benchmarks.sr", "--only", fw, "--repeats", str(args.repeats)]
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
