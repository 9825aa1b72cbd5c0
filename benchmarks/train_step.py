"""Train-step time of the MNIST CNN (batch 128), jit vs pmap backend, and grain input-pipeline
throughput vs what the step consumes.

    python -m benchmarks.train_step [--repeats 20] [--devices 1] [--out results.jsonl]

`--devices N` simulates N CPU devices (XLA host platform); the default uses the real devices.
"""

from __future__ import annotations

import argparse
import itertools
import time

import jax

from benchmarks.harness import Reporter, machine_info, time_fn
from experiments import mnist_classifier
from jaxdl._xla_flags import set_xla_flags
from jaxdl.train import make_backend


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_step")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--batch_size", type=int, default=128)
    p.add_argument("--devices", type=int, default=0)
    p.add_argument("--pipeline_batches", type=int, default=60)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    set_xla_flags(host_devices=args.devices or None)  # before jax starts its backend

    rep = Reporter(args.out)
    config = mnist_classifier.get_config("quick")
    config.train.batch_size = args.batch_size
    task = mnist_classifier.build(config)
    it = iter(task.train_data)
    batch = next(it)
    info = machine_info()

    results = {}
    for parallel in ("jit", "pmap"):
        backend = make_backend(parallel)

        state = backend.init_state(lambda: task.init_state(jax.random.PRNGKey(0)))
        step = backend.compile_step(task.train_step)
        device_batch = backend.put_batch(batch)
        holder = {"state": state}

        def run(step=step, holder=holder, device_batch=device_batch):
            holder["state"], metrics = step(holder["state"], device_batch)
            return metrics

        stats = time_fn(run, repeats=args.repeats, warmup=2)
        results[parallel] = stats["median_s"]
        rep.emit(
            f"mnist_cnn_train_step_{parallel}",
            batch_size=args.batch_size,
            compile_plus_first_s=stats.pop("first_call_s"),
            **stats,
            **info,
        )
    rep.emit("mnist_cnn_train_step_pmap_vs_jit", ratio=results["pmap"] / results["jit"])

    # Input pipeline: images/s of the grain pipeline alone, against the step's consumption.
    times = []
    it = iter(task.train_data)
    next(it)
    for _ in range(3):
        t0 = time.perf_counter()
        for b in itertools.islice(it, args.pipeline_batches):
            assert b["image"].shape[0] == args.batch_size // jax.process_count()
        times.append(time.perf_counter() - t0)
    times.sort()
    pipeline_ips = args.pipeline_batches * args.batch_size / times[1]
    step_ips = args.batch_size / results["jit"]
    rep.emit(
        "mnist_pipeline_throughput",
        images_per_s=pipeline_ips,
        step_consumes_images_per_s=step_ips,
        ratio=pipeline_ips / step_ips,
        num_workers=config.data.num_workers,
        **info,
    )
    return rep.records


if __name__ == "__main__":
    main()
