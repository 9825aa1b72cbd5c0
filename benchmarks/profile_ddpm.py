"""Where the DDPM train step's time goes: per-op profiles of jaxdl and diffusers/PyTorch (DIF-6).

    python -m benchmarks.profile_ddpm [--batch 32] [--steps 3] [--top 10] [--out FILE]

jaxdl: the compiled step (`benchmarks.ddpm.jax_train_step`) is traced with `jax.profiler`; every
XLA op's time (summed over the traced steps, divided by their number) is attributed to its kind
(convolution, dot, reduction, copy/transpose, elementwise, from the HLO the op runs) and to the
layer that produced it (the Flax module path in the op's metadata, forward or backward). XLA's CPU
runtime runs convolutions asynchronously, so the trace sees only their launch: `untraced` (wall
minus the traced ops) bounds their share, and `--convs` times each of the U-Net's convolution
shapes alone (forward and forward+backward, jaxdl vs PyTorch). PyTorch:
`torch.profiler` self CPU time per aten op over the same number of steps. Both print JSON lines:
`{"bench": "profile_ddpm", "framework", "group": "kind"|"layer"|"op", "name", "ms_per_step",
"share"}`, then the top ops of each side as a Markdown table (the table in docs/performance.md).
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import re
import subprocess
import sys
import tempfile
import time

_KIND_ORDER = ("convolution", "dot", "reduce-window", "reduce", "transpose", "copy")
_INSTR = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = .*?\s([\w\-]+)\(")


def _hlo_index(hlo: str) -> dict[str, tuple[str, str]]:
    """HLO instruction name -> (kind, metadata op_name), both looked up in fused computations.

    The kind is the first of `_KIND_ORDER` the instruction (or what it calls) runs; an
    instruction without metadata (a fusion) takes the op_name of its first op of that kind, else
    of its first op that has one.
    """
    comps: dict[str, list[tuple[str, str]]] = {}
    calls: dict[str, list[str]] = collections.defaultdict(list)
    instrs: dict[str, tuple[str, str, list[str]]] = {}
    current = None
    for line in hlo.splitlines():
        head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$", line)
        if head and not line.startswith(" "):
            current = head.group(1)
            comps[current] = []
            continue
        m = _INSTR.match(line)
        if not m or current is None:
            continue
        name, opcode = m.groups()
        op_name = re.search(r'op_name="([^"]*)"', line)
        op_name = op_name.group(1) if op_name else ""
        comps[current].append((opcode, op_name))
        called = re.findall(r"(?:calls|to_apply|body|condition)=%?([\w.\-]+)", line)
        calls[current] += called
        instrs[name] = (opcode, op_name, called)

    def ops(comp: str, seen=()) -> list[tuple[str, str]]:
        out = list(comps.get(comp, ()))
        for c in calls.get(comp, ()):
            if c not in seen:
                out += ops(c, (*seen, comp))
        return out

    index = {}
    for name, (opcode, op_name, called) in instrs.items():
        inner = [(opcode, op_name)] + [o for c in called for o in ops(c)]
        kind = next((k for k in _KIND_ORDER if any(o == k for o, _ in inner)), "elementwise/other")
        if not op_name:
            named = [n for o, n in inner if n and o == kind] or [n for _, n in inner if n]
            op_name = named[0] if named else ""
        index[name] = (kind, op_name)
    return index


def _layer(op_name: str) -> str:
    """'jit(f)/transpose(jvp(DDPMUNet))/down_1/res_0/conv1/conv' -> 'down_1/res_0/conv1 (bwd)'."""
    direction = "bwd" if "transpose(" in op_name else "fwd"
    parts = [p for p in op_name.split("/")[1:] if "(" not in p]
    path = "/".join(parts[:-1]) or "(top level)"
    if not op_name:
        return "(no metadata)"
    return f"{path} ({direction})"


def _jax(args) -> list[dict]:
    import jax

    from benchmarks.ddpm import jax_train_step

    _, _, init_state, step = jax_train_step()
    state = jax.jit(init_state)(jax.random.PRNGKey(0))
    batch = {"image": jax.random.uniform(jax.random.PRNGKey(2), (args.batch, 32, 32, 3), minval=-1)}
    compiled = step.lower(state, batch).compile()
    index = _hlo_index(compiled.as_text())
    state, _ = compiled(state, batch)  # warm-up
    jax.block_until_ready(state)
    with tempfile.TemporaryDirectory() as d:
        jax.profiler.start_trace(d)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            state, m = compiled(state, batch)
        jax.block_until_ready(m)
        wall = (time.perf_counter() - t0) / args.steps
        jax.profiler.stop_trace()
        (path,) = glob.glob(f"{d}/**/*.xplane.pb", recursive=True)
        data = jax.profiler.ProfileData.from_file(path)
    per_op: dict[str, float] = collections.defaultdict(float)
    for plane in data.planes:
        for line in plane.lines:
            for ev in line.events:
                stats = dict(ev.stats)
                if "hlo_op" in stats:
                    per_op[stats["hlo_op"]] += ev.duration_ns / 1e6 / args.steps
    return _groups("jaxdl", per_op, index, wall)


def _groups(fw: str, per_op: dict[str, float], index: dict, wall: float) -> list[dict]:
    total = sum(per_op.values())
    by_kind: dict[str, float] = collections.defaultdict(float)
    by_layer: dict[str, float] = collections.defaultdict(float)
    for op, ms in per_op.items():
        kind, op_name = index.get(op, (op, ""))
        by_kind[kind] += ms
        if index:
            by_layer[_layer(op_name)] += ms
    out = [dict(framework=fw, group="step", name="wall", ms_per_step=wall * 1e3, share=1.0)]
    out.append(dict(framework=fw, group="step", name="op_sum", ms_per_step=total, share=1.0))
    if index:  # XLA CPU runs convolutions asynchronously: the trace sees only their launch
        untraced = max(wall * 1e3 - total, 0.0)
        out.append(
            dict(framework=fw, group="step", name="untraced", ms_per_step=untraced, share=1.0)
        )
    for group, table in (("kind", by_kind), ("layer", by_layer), ("op", per_op)):
        for name, ms in sorted(table.items(), key=lambda kv: -kv[1]):
            if group == "op":
                name = f"{name} [{index.get(name, ('', ''))[0]}] {index.get(name, ('', ''))[1]}"
            out.append(dict(framework=fw, group=group, name=name, ms_per_step=ms, share=ms / total))
    return out


def _torch(args) -> list[dict]:
    import torch
    from diffusers import UNet2DModel

    from benchmarks.ddpm import torch_train_step
    from jaxdl.convert.diffusers_unet import DDPM_CIFAR10_CONFIG

    torch.manual_seed(0)
    model = UNet2DModel(**DDPM_CIFAR10_CONFIG).train()
    step = torch_train_step(model)
    x0 = torch.rand(args.batch, 3, 32, 32) * 2 - 1
    step(x0)  # warm-up
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step(x0)
        wall = (time.perf_counter() - t0) / args.steps
    per_op = {
        e.key: e.self_cpu_time_total / 1e3 / args.steps
        for e in prof.key_averages()
        if e.self_cpu_time_total > 0
    }
    kinds = {
        k: next(
            (
                kind
                for kind, pat in (
                    ("convolution", "conv"),
                    ("dot", "mm|matmul|linear|bmm|addmm"),
                    ("reduce", "norm|sum|mean|var"),
                    ("copy", "copy|contiguous|clone|cat|transpose|permute"),
                )
                if re.search(pat, k)
            ),
            "elementwise/other",
        )
        for k in per_op
    }
    out = _groups("torch", per_op, {}, wall)
    by_kind: dict[str, float] = collections.defaultdict(float)
    for k, ms in per_op.items():
        by_kind[kinds[k]] += ms
    total = sum(per_op.values())
    out = [r for r in out if r["group"] != "kind"]
    for name, ms in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        out.append(
            dict(framework="torch", group="kind", name=name, ms_per_step=ms, share=ms / total)
        )
    return out


# (spatial size, in channels, out channels) of the DDPM CIFAR-10 U-Net's 3x3 convolutions.
_CONVS = (
    (32, 128, 128),
    (16, 256, 256),
    (16, 512, 256),
    (8, 256, 256),
    (8, 512, 256),
    (4, 256, 256),
)


def _time_conv(batch: int, size: int, cin: int, cout: int, repeats: int) -> dict:
    """Median ms of one 3x3 'SAME' convolution alone: forward, forward+backward, both sides."""
    import jax
    import numpy as np
    import torch

    from benchmarks.harness import time_fn

    def conv(x, w):
        dn = ("NHWC", "HWIO", "NHWC")
        return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, size, size, cin), np.float32)
    w = rng.standard_normal((3, 3, cin, cout), np.float32) * 0.01
    g = rng.standard_normal((batch, size, size, cout), np.float32)
    fwd = jax.jit(conv)
    both = jax.jit(jax.grad(lambda x, w: (conv(x, w) * g).sum(), argnums=(0, 1)))
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_()
    tw = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_()
    tg = torch.from_numpy(g.transpose(0, 3, 1, 2).copy())

    def torch_fwd():
        with torch.no_grad():
            return torch.nn.functional.conv2d(tx, tw, padding=1)

    def torch_both():
        torch.nn.functional.conv2d(tx, tw, padding=1).backward(tg)

    times = dict(
        jaxdl_fwd=time_fn(lambda: fwd(x, w), repeats=repeats),
        jaxdl_fwd_bwd=time_fn(lambda: both(x, w), repeats=repeats),
        torch_fwd=time_fn(torch_fwd, repeats=repeats, block=False),
        torch_fwd_bwd=time_fn(torch_both, repeats=repeats, block=False),
    )
    return {k: v["median_s"] * 1e3 for k, v in times.items()}


def _convs(batch: int, repeats: int = 5) -> list[dict]:
    return [
        dict(
            framework="both",
            group="conv",
            name=f"conv3x3 {size}x{size} {cin}->{cout}",
            batch=batch,
            **_time_conv(batch, size, cin, cout, repeats),
        )
        for size, cin, cout in _CONVS
    ]


def _markdown(records: list[dict], top: int) -> str:
    lines = []
    for fw in ("jaxdl", "torch"):
        rows = [r for r in records if r["framework"] == fw]
        if not rows:
            continue
        wall = next(r["ms_per_step"] for r in rows if r["name"] == "wall")
        lines += [
            f"\n{fw}: {wall:.0f} ms per step (wall)\n",
            "| group | name | ms / step | share |",
        ]
        lines.append("|---|---|---|---|")
        for group in ("kind", "layer", "op"):
            for r in [r for r in rows if r["group"] == group][:top]:
                lines.append(
                    f"| {group} | {r['name'][:90]} | {r['ms_per_step']:.1f} | {r['share']:.1%} |"
                )
    convs = [r for r in records if r["group"] == "conv"]
    if convs:
        lines += ["\n| conv (alone) | jaxdl fwd | torch fwd | jaxdl fwd+bwd | torch fwd+bwd |"]
        lines.append("|---|---|---|---|---|")
        for r in convs:
            lines.append(
                f"| {r['name']} | {r['jaxdl_fwd']:.1f} | {r['torch_fwd']:.1f} | "
                f"{r['jaxdl_fwd_bwd']:.1f} | {r['torch_fwd_bwd']:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_ddpm")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--convs", action="store_true", help="also time each conv shape alone")
    p.add_argument("--out", default=None)
    p.add_argument("--only", choices=("jaxdl", "torch"), default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.only:  # child process
        for r in _jax(args) if args.only == "jaxdl" else _torch(args):
            print(json.dumps(r), flush=True)
        return
    records = []
    for fw in ("jaxdl", "torch"):
        cmd = [sys.executable, "-m", "benchmarks.profile_ddpm", "--only", fw]
        cmd += ["--batch", str(args.batch), "--steps", str(args.steps)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(f"{fw} profile failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        records += [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    if args.convs:
        records += _convs(args.batch)
    for r in records:
        line = json.dumps({"bench": "profile_ddpm", "batch": args.batch, **r})
        print(line)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")
    print(_markdown(records, args.top))


if __name__ == "__main__":
    main()
