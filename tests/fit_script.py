"""A tiny real training problem for the engine's process-level tests (not a test module).

    python tests/fit_script.py WORKDIR --total_steps 30 [--kill_at 15] [--parallel jit]
        [--coordinator_address 127.0.0.1:PORT --num_processes 2 --process_id 0] [--devices 1]

An MLP with dropout on scikit-learn's 8x8 digits through the grain pipeline (shuffled, with a
random flip), Adam with EMA. `--kill_at S` SIGKILLs the process right after step S (after that
step's checkpoint save was started, if any): a hard crash mid-training.
"""

import argparse
import os
import signal
import sys

import flax.linen as nn
import jax.numpy as jnp
import ml_collections
import optax


class MLP(nn.Module):
    hidden: int = 32

    @nn.compact
    def __call__(self, x, train=False):
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.Dropout(0.2, deterministic=not train)(x)
        return nn.Dense(10)(x)


def get_config(**train_overrides):
    c = ml_collections.ConfigDict(
        dict(
            seed=3,
            train=dict(
                total_steps=30,
                batch_size=16,
                log_every=5,
                eval_every=0,
                checkpoint_every=5,
                keep_checkpoints=10,
                parallel="jit",
                ema_decay=0.9,
            ),
        )
    )
    c.train.update(train_overrides)
    return c


def build(
    config,
    evaluators=(),
    loss_scale=1.0,
    process_index=None,
    process_count=None,
    init_fn=None,
    hidden=32,
):
    from jaxdl import data
    from jaxdl.train import Task, step_options, supervised

    model = MLP(hidden)
    train = data.make_pipeline(
        data.digits("train"),
        [data.RandomFlip(), data.ScaleToSymmetric()],
        global_batch_size=config.train.batch_size,
        seed=config.seed,
        process_index=process_index,
        process_count=process_count,
    )

    def loss_fn(params, batch, rng):
        logits = model.apply({"params": params}, batch["image"], train=True, rngs={"dropout": rng})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
        return loss * loss_scale, {}

    def default_init(rng):
        return model.init(rng, jnp.zeros((1, 8, 8, 1)))["params"]

    init_state, train_step = supervised(
        loss_fn, optax.adam(3e-3), init_fn=init_fn or default_init, **step_options(config.train)
    )
    return Task(init_state, train_step, train, evaluators=list(evaluators))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workdir")
    p.add_argument("--total_steps", type=int, default=30)
    p.add_argument("--kill_at", type=int, default=0)
    p.add_argument("--parallel", default="jit")
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--coordinator_address", default=None)
    p.add_argument("--num_processes", type=int, default=None)
    p.add_argument("--process_id", type=int, default=None)
    p.add_argument("--checkpoint_every", type=int, default=5)
    args = p.parse_args()

    from jaxdl._xla_flags import set_xla_flags

    set_xla_flags(host_devices=args.devices)
    from jaxdl import cli

    args.multihost = False
    cli.init_distributed(args)
    import jax

    from jaxdl.train import fit

    print(f"processes={jax.process_count()} devices={jax.device_count()}", flush=True)

    def killer(state):
        if args.kill_at and int(state.step) == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return ()

    config = get_config(
        total_steps=args.total_steps,
        parallel=args.parallel,
        checkpoint_every=args.checkpoint_every,
        eval_every=1 if args.kill_at else 0,
    )
    fit(build(config, evaluators=[killer]), config, args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
