"""Checkpoint save/restore time with and without the per-array CRC32 checksums, on the DDPM
CIFAR-10 U-Net train state (35.7M params + EMA + Adam moments, about 572 MB).

    python -m benchmarks.checkpoint [--repeats 3] [--out results.jsonl]

Prints JSON lines: the checksum computation alone, and synchronous save + restore through
`jaxdl.train.Checkpointer` with checksums (computed on save, verified on restore) and
without (side by side in one run).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

from benchmarks.harness import Reporter, machine_info, time_fn


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    import jax
    import jax.numpy as jnp

    from jaxdl import optim
    from jaxdl.models.unet import DDPMUNet
    from jaxdl.train import checkpoint as ckpt_lib
    from jaxdl.train import checksums, supervised

    model = DDPMUNet(
        in_ch=3,
        out_ch=3,
        ch=128,
        ch_mult=(1, 2, 2, 2),
        num_res_blocks=2,
        attn_resolutions=(16,),
        dropout=0.1,
        num_groups=32,
    )  # Ho et al. CIFAR-10

    def init_fn(rng):
        return model.init(rng, jnp.zeros((1, 32, 32, 3)), jnp.zeros((1,), jnp.int32))["params"]

    init_state, _ = supervised(lambda *a: None, optim.adam(2e-4), init_fn=init_fn, ema_decay=0.9999)
    state = jax.jit(init_state)(jax.random.PRNGKey(0))
    n_bytes = sum(x.nbytes for x in jax.tree.leaves(state))
    rep = Reporter(args.out)
    info = {**machine_info(), "state_mb": round(n_bytes / 2**20, 1)}
    rep.emit(
        "checksums_only",
        **time_fn(lambda: checksums.tree_checksums(state), repeats=args.repeats, warmup=1),
        **info,
    )
    original = checksums.tree_checksums
    for with_checksums in (False, True):
        if not with_checksums:  # neither computed on save nor verified on restore
            ckpt_lib.checksums.tree_checksums = lambda tree: {}
        timing = _time_save_restore(ckpt_lib.Checkpointer, state, args.repeats)
        rep.emit("save_restore", checksums=with_checksums, **timing, **info)
        ckpt_lib.checksums.tree_checksums = original


def _time_save_restore(checkpointer, state, repeats: int) -> dict:
    """Median of synchronous save + restore of `state` into a fresh step of a temp directory."""
    directory = tempfile.mkdtemp()
    step = [0]

    def save_restore():
        step[0] += 1
        c = checkpointer(directory, async_save=False, keep=1)
        c.save(step[0], state)
        c.close()
        c = checkpointer(directory, async_save=False, keep=1)
        out = c._restore_step(step[0], None)[0]
        c.close()
        return out

    try:
        return time_fn(save_restore, repeats=repeats)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
