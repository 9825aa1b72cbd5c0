"""N-way K-shot classification episodes (Vinyals et al. 2016; MAML's Omniglot / MiniImagenet
protocol, Finn et al. 2017 §5.2) from a labelled image set. SPEC: BAS-9.

An episode draws N classes without replacement, then K support and Q query images of each
class without replacement, and relabels the N classes 0..N−1 in a random order (so a network
cannot memorise the original class of an output). Images stay as stored (uint8, NHWC).
"""

from __future__ import annotations

import jax
import numpy as np


class EpisodeSampler:
    """Episodes from `images` (n, H, W, C) and integer `labels` (n,).

    `sample(rng, num_tasks)` -> `{"support": {"image", "label"}, "query": {"image", "label"}}`
    with images (num_tasks, ways·shots or ways·queries, H, W, C) and int32 labels in
    [0, ways), ordered class by class (support: shots of episode class 0, then class 1, ...).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, ways: int, shots: int, queries: int):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4 or labels.shape != images.shape[:1]:
            raise ValueError(
                f"images must be (n, H, W, C) and labels (n,), got {images.shape} and "
                f"{labels.shape}"
            )
        for name, value in (("ways", ways), ("shots", shots), ("queries", queries)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.classes, counts = np.unique(labels, return_counts=True)
        if ways > len(self.classes):
            raise ValueError(f"ways={ways} but the data has only {len(self.classes)} classes")
        if shots + queries > counts.min():
            small = self.classes[counts.argmin()]
            raise ValueError(
                f"shots + queries = {shots + queries} exceeds the {counts.min()} images of "
                f"class {small}"
            )
        self.images, self.ways, self.shots, self.queries = images, ways, shots, queries
        self.members = [np.flatnonzero(labels == c) for c in self.classes]

    def sample(self, rng: np.random.Generator, num_tasks: int) -> dict[str, dict[str, np.ndarray]]:
        n, k, q = self.ways, self.shots, self.queries
        support = np.empty((num_tasks, n, k), np.int64)
        query = np.empty((num_tasks, n, q), np.int64)
        for t in range(num_tasks):
            for new, c in enumerate(rng.choice(len(self.classes), n, replace=False)):
                pick = rng.choice(self.members[c], k + q, replace=False)
                support[t, new], query[t, new] = pick[:k], pick[k:]
        labels = np.arange(n, dtype=np.int32)
        return {
            "support": {
                "image": self.images[support.reshape(num_tasks, n * k)],
                "label": np.broadcast_to(np.repeat(labels, k), (num_tasks, n * k)).copy(),
            },
            "query": {
                "image": self.images[query.reshape(num_tasks, n * q)],
                "label": np.broadcast_to(np.repeat(labels, q), (num_tasks, n * q)).copy(),
            },
        }


class EpisodeStream:
    """Endless meta-batches of `meta_batch_size` episodes of `sampler`; meta-batch i is drawn
    from `default_rng([seed, i, process_index])`, so `get_state`/`set_state` resume it exactly.
    `meta_batch_size` is global; each of P processes draws its share."""

    def __init__(self, sampler: EpisodeSampler, meta_batch_size: int, seed: int = 0):
        count = jax.process_count()
        if meta_batch_size % count:
            raise ValueError(
                f"meta_batch_size {meta_batch_size} is not divisible by {count} processes"
            )
        self.sampler, self.local, self.seed, self.index = sampler, meta_batch_size // count, seed, 0

    def __iter__(self) -> EpisodeStream:
        return self

    def __next__(self) -> dict[str, dict[str, np.ndarray]]:
        rng = np.random.default_rng([self.seed, self.index, jax.process_index()])
        self.index += 1
        return self.sampler.sample(rng, self.local)

    def get_state(self) -> dict:
        return {"index": self.index}

    def set_state(self, state: dict) -> None:
        self.index = int(state["index"])
