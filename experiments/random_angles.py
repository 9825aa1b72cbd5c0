"""Angles between random vectors in n dimensions (SPEC BAS-11): Monte-Carlo histograms of the
angle between pairs of independent Gaussian vectors against the closed-form density
p(θ) ∝ sin^{n−2} θ, with the Kolmogorov–Smirnov test and the sample mean and variance against
π/2 and ψ₁(n/2)/2 (≈ 1/n). Writes `angles.png` and `results.json` (seconds on a CPU):
    python -m experiments.random_angles --workdir workdirs/random_angles
`--preset quick` draws 5,000 angles per n instead of 20,000.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxdl import cli, stats

PRESETS = ("quick",)


def get_config(preset: str | None = None) -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dims = (2, 3, 10, 1000)  # n, one panel each
    c.num_samples = 20_000  # angles per n (n = 1000: 2 x 80 MB of float32 vectors)
    c.bins = 60
    if preset == "quick":
        c.num_samples = 5_000
    elif preset is not None:
        raise cli.ConfigError(f"unknown preset {preset!r}; choose from {PRESETS}")
    return c


def measure(key: jax.Array, n: int, num: int) -> tuple[np.ndarray, dict]:
    """Sampled angles and their summary against the closed forms (KS test with `angle_cdf`)."""
    from scipy.stats import kstest

    theta = np.asarray(stats.sample_angles(key, n, num), np.float64)
    with jax.enable_x64(True):  # float64 CDF: betainc's float32 error grows with n
        ks = kstest(theta, lambda t: np.asarray(stats.angle_cdf(jnp.asarray(t), n)))
    var = float(stats.angle_variance(n))
    return theta, dict(
        n=n,
        samples=num,
        mean=float(theta.mean()),
        mean_closed_form=stats.angle_mean(n),
        variance=float(theta.var()),
        variance_closed_form=var,
        one_over_n=1 / n,
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(ks.pvalue),
    )


def plot(samples: dict, bins: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(samples), figsize=(3.4 * len(samples), 3))
    for ax, (n, (theta, row)) in zip(np.atleast_1d(axes), samples.items(), strict=True):
        sd = math.sqrt(row["variance_closed_form"])
        lo, hi = max(0.0, math.pi / 2 - 5 * sd), min(math.pi, math.pi / 2 + 5 * sd)
        ax.hist(theta, bins=bins, range=(lo, hi), density=True, alpha=0.5, label="Monte Carlo")
        grid = np.linspace(lo, hi, 400)
        pdf = np.asarray(stats.angle_pdf(jnp.asarray(grid, jnp.float32), n))
        ax.plot(grid, pdf, "k", label="p(θ) ∝ sin^(n−2) θ")
        ax.set(title=f"n = {n}  (KS p = {row['ks_pvalue']:.2f})", xlabel="θ (rad)")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    config, args = cli.parse(argv, get_config, name="random_angles", presets=PRESETS)
    if any(not isinstance(n, int) or n < 2 for n in config.dims) or config.num_samples < 1:
        raise cli.ConfigError("dims must be ints >= 2 and num_samples >= 1")
    keys = jax.random.split(jax.random.PRNGKey(config.seed), len(config.dims))
    samples = {n: measure(k, n, config.num_samples) for n, k in zip(config.dims, keys, strict=True)}
    rows = [row for _, row in samples.values()]
    os.makedirs(args.workdir, exist_ok=True)
    plot(samples, config.bins, os.path.join(args.workdir, "angles.png"))
    cli.write_results(args.workdir, rows, echo=False)
    for r in rows:
        print(
            f"n={r['n']}: mean {r['mean']:.4f} (π/2 = {r['mean_closed_form']:.4f}), var "
            f"{r['variance']:.5f} (ψ₁(n/2)/2 = {r['variance_closed_form']:.5f}, 1/n = "
            f"{r['one_over_n']:.5f}), KS p = {r['ks_pvalue']:.3f}"
        )
    return rows


if __name__ == "__main__":
    cli.run(main)
