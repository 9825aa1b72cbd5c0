"""Word vocabularies and padded id arrays for token-list corpora."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

PAD, UNK = 0, 1


class Vocabulary:
    """Words seen >= `min_count` times in the corpus (at most `max_size` most frequent, ties by
    first appearance), after the reserved ids PAD = 0 and UNK = 1."""

    def __init__(self, token_lists: Sequence[Sequence[str]], *, min_count=1, max_size=None):
        counts = Counter(w for t in token_lists for w in t)
        words = [w for w, c in counts.most_common(max_size) if c >= min_count]
        self.words = ["<pad>", "<unk>", *words]
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def size(self) -> int:
        return len(self.words)

    def encode(self, token_lists: Sequence[Sequence[str]], max_len: int) -> np.ndarray:
        """(N, max_len) int32 ids: the first max_len words of each text (unknown ones UNK),
        padded with PAD; an empty text is all PAD."""
        out = np.full((len(token_lists), max_len), PAD, np.int32)
        for i, t in enumerate(token_lists):
            ids = [self.index.get(w, UNK) for w in t[:max_len]]
            out[i, : len(ids)] = ids
        return out


class TokenSource:
    """Random-access records {"tokens": (T,) int32, "label": int32 or (L,) float32} for
    `jaxdl.data.make_pipeline`."""

    def __init__(self, tokens: np.ndarray, labels: np.ndarray):
        if tokens.ndim != 2 or len(tokens) != len(labels):
            raise ValueError(
                f"expected tokens (N, T) and N labels, got {tokens.shape}, {labels.shape}"
            )
        self.tokens = tokens.astype(np.int32)
        self.labels = labels.astype(np.float32 if labels.ndim == 2 else np.int32)

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {"tokens": self.tokens[index], "label": self.labels[index]}
