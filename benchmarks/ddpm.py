"""DDPM U-Net (Ho et al. CIFAR-10, 35.7M params) on this machine: jaxdl vs diffusers/PyTorch.

    python -m benchmarks.ddpm [--batch_sizes 8,32] [--repeats 3] [--ddim] [--out FILE]

Times, side by side: train step (forward, backward, Adam) per batch size, U-Net forward at batch
32, optionally DDIM-50 sampling of 32 images; jaxdl compile time separately; achieved GFLOP/s
(XLA cost analysis FLOPs / median time); each framework runs in its own subprocess and every
record carries that process's peak RSS so far (benchmarks run in the order listed). PyTorch
runs only when torch and diffusers are installed (dev extra). SPEC: DIF-6.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


class _Records(list):
    """Records stamped with the peak RSS reached so far (this benchmark and the earlier ones)."""

    def append(self, record: dict) -> None:
        super().append({**record, "peak_rss_gib": _peak_rss_gib()})


def jax_train_step(plain_norm: bool = False):
    """The full DDPM U-Net's train step (Adam 2e-4, clip 1.0), jitted with the state donated.

    Returns `(model, init, init_state, step)`; shared with `benchmarks.profile_ddpm`.
    """
    import jax
    import jax.numpy as jnp

    from jaxdl import diffusion, optim
    from jaxdl.models.unet import DDPMUNet
    from jaxdl.train import supervised

    model = DDPMUNet(dropout=0.0, fused_norm=not plain_norm)
    schedule = diffusion.make_schedule("linear", 1000)
    init = jax.jit(
        lambda k: model.init(k, jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,), jnp.int32))["params"]
    )

    def apply(p, x, t, rng):
        return model.apply({"params": p}, x, t, train=True, rngs={"dropout": rng})

    init_state, train_step = supervised(
        diffusion.make_loss_fn(schedule, apply), optim.adam(2e-4), init_fn=init, clip_norm=1.0
    )
    return model, init, init_state, jax.jit(train_step, donate_argnums=0)


def torch_train_step(model):
    """A PyTorch train step for `model` (a diffusers UNet2DModel): Adam 2e-4, clip 1.0."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def step(x0):
        t = torch.randint(0, 1000, (x0.shape[0],))
        noise = torch.randn_like(x0)
        loss = torch.nn.functional.mse_loss(model(x0 + noise, t).sample, noise)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def _jax(args) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from benchmarks.harness import time_fn
    from jaxdl import diffusion

    model, init, init_state, step = jax_train_step(args.plain_norm)
    schedule = diffusion.make_schedule("linear", 1000)
    out = _Records()
    for b in args.batch_sizes:
        # A fresh state per batch size (the step donates it); no other copy of the params is
        # kept, as in the PyTorch run where the model holds the only one.
        holder = {"s": jax.jit(init_state)(jax.random.PRNGKey(0))}
        batch = {"image": jax.random.uniform(jax.random.PRNGKey(2), (b, 32, 32, 3), minval=-1)}
        t0 = time.perf_counter()
        compiled = step.lower(holder["s"], batch).compile()
        compile_s = time.perf_counter() - t0
        flops = compiled.cost_analysis().get("flops", 0.0)

        def run(holder=holder, batch=batch, compiled=compiled):
            holder["s"], m = compiled(holder["s"], batch)
            return m

        st = time_fn(run, repeats=args.repeats, warmup=1)
        out.append(
            dict(
                bench=f"ddpm_train_step_b{b}",
                framework="jaxdl",
                **st,
                compile_s=compile_s,
                gflops_per_s=flops / st["median_s"] / 1e9,
            )
        )
        del holder, run
    params = init(jax.random.PRNGKey(0))
    a = jax.random.normal(jax.random.PRNGKey(3), (2048, 2048))
    matmul = jax.jit(lambda m: m @ m)
    mm = time_fn(lambda: matmul(a), repeats=10)
    out.append(
        dict(
            bench="matmul_peak_2048",
            framework="jaxdl",
            **mm,
            gflops_per_s=2 * 2048**3 / mm["median_s"] / 1e9,
        )
    )
    fwd = jax.jit(lambda p, x, t: model.apply({"params": p}, x, t))
    x, t = jnp.zeros((32, 32, 32, 3)), jnp.full((32,), 500, jnp.int32)
    out.append(
        dict(
            bench="ddpm_forward_b32",
            framework="jaxdl",
            **time_fn(lambda: fwd(params, x, t), repeats=args.repeats),
        )
    )
    if args.ddim:

        def eps_fn(x, t):
            return model.apply({"params": params}, x, t)

        sample = jax.jit(lambda k: diffusion.sample_ddim(eps_fn, schedule, (32, 32, 32, 3), k))
        out.append(
            dict(
                bench="ddpm_ddim50_b32",
                framework="jaxdl",
                **time_fn(lambda: sample(jax.random.PRNGKey(0)), repeats=1),
            )
        )
    return out


def _torch(args) -> list[dict]:
    import torch
    from diffusers import DDIMScheduler, UNet2DModel

    from benchmarks.harness import time_fn
    from jaxdl.convert.diffusers_unet import DDPM_CIFAR10_CONFIG

    torch.manual_seed(0)
    model = UNet2DModel(**DDPM_CIFAR10_CONFIG)
    step = torch_train_step(model)
    out = _Records()

    for b in args.batch_sizes:
        x0 = torch.rand(b, 3, 32, 32) * 2 - 1

        def train_step(x0=x0):
            step(x0)

        model.train()
        out.append(
            dict(
                bench=f"ddpm_train_step_b{b}",
                framework="torch",
                **time_fn(train_step, repeats=args.repeats, block=False),
            )
        )
    a = torch.randn(2048, 2048)
    mm = time_fn(lambda: a @ a, repeats=10, block=False)
    out.append(
        dict(
            bench="matmul_peak_2048",
            framework="torch",
            **mm,
            gflops_per_s=2 * 2048**3 / mm["median_s"] / 1e9,
        )
    )
    model.eval()
    x, t = torch.zeros(32, 3, 32, 32), torch.full((32,), 500)
    with torch.no_grad():
        out.append(
            dict(
                bench="ddpm_forward_b32",
                framework="torch",
                **time_fn(lambda: model(x, t), repeats=args.repeats, block=False),
            )
        )
        if args.ddim:
            sched = DDIMScheduler(num_train_timesteps=1000)

            def ddim():
                sched.set_timesteps(50)
                s = torch.randn(32, 3, 32, 32)
                for tt in sched.timesteps:
                    s = sched.step(model(s, tt).sample, tt, s).prev_sample

            out.append(
                dict(
                    bench="ddpm_ddim50_b32",
                    framework="torch",
                    **time_fn(ddim, repeats=1, block=False),
                )
            )
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ddpm")
    p.add_argument("--batch_sizes", default="8,32")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ddim", action="store_true", help="also time DDIM-50 sampling (slow)")
    p.add_argument(
        "--plain_norm",
        action="store_true",
        help="jaxdl with plain flax GroupNorm instead of the fused one",
    )
    p.add_argument("--out", default=None)
    p.add_argument("--only", choices=("jaxdl", "torch"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.only:  # child process: print the records
        for r in _jax(args) if args.only == "jaxdl" else _torch(args):
            print(json.dumps(r), flush=True)
        return
    from benchmarks.harness import Reporter

    rep = Reporter(args.out)
    results: dict[tuple[str, str], dict] = {}
    for fw in ("jaxdl", "torch"):
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.ddpm",
            "--only",
            fw,
            "--batch_sizes",
            ",".join(map(str, args.batch_sizes)),
            "--repeats",
            str(args.repeats),
        ]
        cmd += ["--plain_norm"] if args.plain_norm else []
        proc = subprocess.run(
            cmd + (["--ddim"] if args.ddim else []), capture_output=True, text=True
        )
        if proc.returncode:
            print(f"{fw} benchmark failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[(r["bench"], fw)] = rep.emit(**{**r, "bench": r["bench"]})
    for (bench, fw), r in sorted(results.items()):
        ref = results.get((bench, "torch"))
        if fw == "jaxdl" and ref and not bench.startswith("matmul"):
            rep.emit(
                bench + "_ratio",
                jaxdl_over_torch=r["median_s"] / ref["median_s"],
                jaxdl_peak_rss_gib=r["peak_rss_gib"],
                torch_peak_rss_gib=ref["peak_rss_gib"],
            )


if __name__ == "__main__":
    main()
