"""Picture of one degradation draw: the HR image, then every intermediate image. SPEC: RES-4."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxdl.data.degradations.config import DegradationConfig
from jaxdl.data.degradations.pipeline import degrade


def degradation_steps(
    hr: np.ndarray, config: DegradationConfig, seed: int
) -> list[tuple[str, np.ndarray]]:
    """[(description, HWC float32 [0, 1] image)]: the HR image (sharpened when `config.usm`), each
    step of the draw of `seed`, and the final rounded LR image."""
    steps: list[tuple[str, np.ndarray]] = []
    out = degrade(hr, config, seed, steps=steps)
    head = [("HR", out["hr"])] if config.usm else []  # steps[0] is the (sharpened) HR
    return head + steps + [("LR", out["lr"])]


def save_degradation_examples(
    path: str | Path, hr: np.ndarray, config: DegradationConfig, seed: int, columns: int = 5
) -> Path:
    """Write `degradation_steps` as a titled PNG grid (every image shown at the same display
    size, pixels kept sharp, its own size in the title); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = degradation_steps(hr, config, seed)
    rows = -(-len(steps) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.9 * rows), dpi=120)
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (title, img) in zip(np.ravel(axes), steps, strict=False):
        ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
        ax.set_title(f"{title}\n{img.shape[0]}×{img.shape[1]}", fontsize=7)
    fig.suptitle(f"Real-ESRGAN degradation, seed {seed}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
