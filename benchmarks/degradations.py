"""Throughput of the Real-ESRGAN degradation pipeline (SPEC RES-4) on the host.

    python -m benchmarks.degradations [--sizes 256 64] [--workers 0 1 2] [--batches 16] [--out F]

Prints JSON lines: per-operation times on one GT image (USM, a 21×21 blur, resize, each noise,
JPEG); wall and CPU seconds per image of `degrade` run serially; and whole-pipeline images/s
through `jaxdl.data.make_pipeline` over random crops of the bundled photos, in the main process
(`workers=0`: grain's reader threads) and in 1 and 2 grain worker processes, after 8 warm-up
batches. GT 256² is the paper's training crop (LR 64²). Compare with the train step's
consumption: batch size × steps/s of the Real-ESRGAN step on the same machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.harness import Reporter, time_fn

_WARMUP = 8  # batches: more than the pipeline's prefetch buffers hold


def _op_times(rep: Reporter, size: int, repeats: int) -> None:
    from jaxdl.data.degradations import kernels, ops

    rng = np.random.default_rng(0)
    img = rng.random((size, size, 3), dtype=np.float32)
    k21 = kernels.gaussian_kernel(21, 2.0, 1.0, 0.5)
    cases = {
        "usm_sharpen": lambda: ops.usm_sharpen(img),
        "filter2d_21": lambda: ops.filter2d(img, k21),
        "resize_bicubic_x0.5": lambda: ops.resize(img, (size // 2, size // 2), "bicubic"),
        "gaussian_noise": lambda: ops.gaussian_noise(img.shape, 10.0, False, rng),
        "poisson_noise": lambda: ops.poisson_noise(img, 1.0, False, rng),
        "jpeg": lambda: ops.jpeg(img, 60),
    }
    for name, fn in cases.items():
        rep.emit(f"degradation_op/{name}", size=size, **time_fn(fn, repeats=repeats, block=False))


def _serial(rep: Reporter, size: int, n: int) -> None:
    """`degrade` on n crops one after another in this process: wall and CPU seconds per image
    (CPU time is the less contention-sensitive figure on a shared machine)."""
    from jaxdl.data.degradations import DegradationConfig, degrade
    from jaxdl.data.photos import PhotoCrops

    config, source = DegradationConfig(), PhotoCrops(size, length=100_000, seed=1)
    crops = [source[i]["image"] for i in range(n)]
    degrade(crops[0], config, 0)
    wall, cpu = time.perf_counter(), time.process_time()
    for i, crop in enumerate(crops):
        degrade(crop, config, i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rep.emit(
        "degradation_serial",
        gt_size=size,
        images=n,
        wall_s_per_image=round(wall / n, 4),
        cpu_s_per_image=round(cpu / n, 4),
        images_per_cpu_s=round(n / cpu, 2),
    )


def _pipeline(rep: Reporter, size: int, workers: int, batches: int, batch_size: int) -> None:
    from jaxdl.data import make_pipeline
    from jaxdl.data.degradations import DegradationConfig, RealESRGANDegradation
    from jaxdl.data.photos import PhotoCrops

    source = PhotoCrops(size, length=100_000, seed=0)
    it = iter(
        make_pipeline(
            source,
            [RealESRGANDegradation(DegradationConfig())],
            global_batch_size=batch_size,
            seed=0,
            process_index=0,
            process_count=1,
            num_workers=workers,
        )
    )
    for _ in range(_WARMUP):  # worker start-up; drains the prefetch buffers, so what is timed
        next(it)  # below is the steady-state rate of the transform, not buffered batches
    t0 = time.perf_counter()
    for _ in range(batches):
        batch = next(it)
    dt = time.perf_counter() - t0
    assert batch["lr"].shape == (batch_size, size // 4, size // 4, 3)
    rep.emit(
        "degradation_pipeline",
        gt_size=size,
        workers=workers,
        batch_size=batch_size,
        batches=batches,
        seconds=round(dt, 3),
        images_per_s=round(batches * batch_size / dt, 2),
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 64])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batches", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    rep = Reporter(args.out)
    for size in args.sizes:
        _op_times(rep, size, args.repeats)
        _serial(rep, size, args.batches * args.batch_size // 4)
        for workers in args.workers:
            _pipeline(rep, size, workers, args.batches, args.batch_size)


if __name__ == "__main__":
    main()
