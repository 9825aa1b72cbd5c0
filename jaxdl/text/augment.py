"""Text augmentation on token lists (SPEC: SEQ-8).

Every operation is `op(tokens, rng, ...) -> tokens` with a `numpy.random.Generator`, so the same
seed gives the same output; bind the keyword arguments with `functools.partial`. EDA (Wei & Zou
2019): synonym replacement, random insertion, random swap, random deletion, with synonyms from
word-vector neighbours trained on the corpus (`word_neighbours`, gensim Word2Vec); UDA's
low-TF-IDF replacement (Xie et al. 2020); blank, unigram and character noise; sentence
shuffling; same-label instance crossover (Luque 2019). wordMixup / sentMixup (Guo et al. 2019)
are batch transforms in `jaxdl.text.mixup`.

Extension points, not shipped (they need models we cannot bundle): back-translation (UDA) and
conditional-LM generation (Anaby-Tavor et al. 2020, Kumar et al. 2020). Either is a function
`(texts, labels) -> (texts, labels)` run before tokenization, e.g. a translation model to a pivot
language and back, or a label-prefixed fine-tuned LM prompted with the label and a text's first
three words; its output joins the training set like any other augmented copy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

Tokens = list[str]
Op = Callable[[Sequence[str], np.random.Generator], Tokens]
SENTENCE_ENDS = ("。", "！", "？", "!", "?", "；", ";")


def word_neighbours(
    token_lists: Sequence[Sequence[str]],
    *,
    topn: int = 3,
    dim: int = 64,
    window: int = 5,
    min_count: int = 5,
    epochs: int = 5,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Each word's `topn` nearest neighbours (cosine) in Word2Vec vectors trained on the corpus
    (gensim, one worker so the vectors are reproducible). Words seen fewer than `min_count`
    times get no entry."""
    try:
        from gensim.models import Word2Vec
    except ImportError as e:
        raise ImportError('word-vector synonyms need gensim: pip install "jaxdl[text]"') from e
    model = Word2Vec(
        [list(t) for t in token_lists],
        vector_size=dim,
        window=window,
        min_count=min_count,
        epochs=epochs,
        seed=seed,
        workers=1,
    )
    kv = model.wv
    return {w: [n for n, _ in kv.most_similar(w, topn=topn)] for w in kv.index_to_key}


def _count(n: int | None, p: float, length: int) -> int:
    return n if n is not None else max(1, int(round(p * length)))


def synonym_replacement(
    tokens, rng, *, synonyms: Mapping[str, Sequence[str]], n=None, p=0.1, protected=frozenset()
) -> Tokens:
    """EDA SR: replace `n` (default max(1, p·len)) distinct words that have synonyms, each with
    one of its synonyms drawn uniformly."""
    out = list(tokens)
    idx = [i for i, w in enumerate(out) if synonyms.get(w) and w not in protected]
    for i in rng.permutation(idx)[: _count(n, p, len(out))]:
        choices = synonyms[out[i]]
        out[i] = choices[rng.integers(len(choices))]
    return out


def random_insertion(tokens, rng, *, synonyms: Mapping[str, Sequence[str]], n=None, p=0.1):
    """EDA RI: `n` times, insert a synonym of a random word that has one at a random position."""
    out = list(tokens)
    for _ in range(_count(n, p, len(out))):
        idx = [i for i, w in enumerate(out) if synonyms.get(w)]
        if not idx:
            break
        choices = synonyms[out[idx[rng.integers(len(idx))]]]
        out.insert(int(rng.integers(len(out) + 1)), choices[rng.integers(len(choices))])
    return out


def random_swap(tokens, rng, *, n=None, p=0.1) -> Tokens:
    """EDA RS: `n` times, swap two positions drawn uniformly."""
    out = list(tokens)
    if len(out) < 2:
        return out
    for _ in range(_count(n, p, len(out))):
        i, j = rng.choice(len(out), 2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(tokens, rng, *, p=0.1) -> Tokens:
    """EDA RD: delete each word with probability `p`; one random word survives if none would."""
    out = [w for w, u in zip(tokens, rng.random(len(tokens)), strict=True) if u >= p]
    if not out and tokens:
        out = [tokens[rng.integers(len(tokens))]]
    return out


def eda(tokens, rng, *, synonyms: Mapping[str, Sequence[str]], alpha=0.1) -> Tokens:
    """One of the four EDA operations, drawn uniformly, at strength `alpha`."""
    k = rng.integers(4)
    if k == 0:
        return synonym_replacement(tokens, rng, synonyms=synonyms, p=alpha)
    if k == 1:
        return random_insertion(tokens, rng, synonyms=synonyms, p=alpha)
    if k == 2:
        return random_swap(tokens, rng, p=alpha)
    return random_deletion(tokens, rng, p=alpha)


class TfidfStats:
    """Corpus statistics for UDA's TF-IDF replacement: idf(w) = log(N / df(w)) over the corpus's
    documents, and the vocabulary with sampling weights max idf - idf (uninformative words)."""

    def __init__(self, token_lists: Sequence[Sequence[str]]):
        df = Counter(w for t in token_lists for w in set(t))
        n = len(token_lists)
        self.idf = {w: math.log(n / c) for w, c in df.items()}
        self.vocab = sorted(self.idf)
        weights = np.array([max(self.idf.values()) - self.idf[w] for w in self.vocab])
        self.weights = weights / weights.sum() if weights.sum() > 0 else None


def tfidf_replacement(tokens, rng, *, stats: TfidfStats, p=0.1) -> Tokens:
    """UDA: replace word i with probability min(1, p·(C - s_i) / mean(C - s)), s = its TF-IDF in
    this text, C = max s; replacements are drawn from the corpus favouring low idf."""
    if not tokens:
        return []
    tf = Counter(tokens)
    s = np.array([tf[w] / len(tokens) * stats.idf.get(w, 0.0) for w in tokens])
    gap = s.max() - s
    prob = np.minimum(p * gap / gap.mean(), 1.0) if gap.mean() > 0 else np.full(len(s), p)
    out = list(tokens)
    for i in np.flatnonzero(rng.random(len(out)) < prob):
        out[i] = stats.vocab[rng.choice(len(stats.vocab), p=stats.weights)]
    return out


def blank_noise(tokens, rng, *, p=0.1, blank="_") -> Tokens:
    """Replace each word with the placeholder `blank` with probability `p` (Xie et al. 2017)."""
    return [blank if u < p else w for w, u in zip(tokens, rng.random(len(tokens)), strict=True)]


def unigram_noise(tokens, rng, *, vocab: Sequence[str], probs: Sequence[float], p=0.1):
    """Replace each word with probability `p` by one drawn from the unigram distribution."""
    out = list(tokens)
    for i in np.flatnonzero(rng.random(len(out)) < p):
        out[i] = vocab[rng.choice(len(vocab), p=probs)]
    return out


def char_noise(tokens, rng, *, p=0.1) -> Tokens:
    """Typo-like noise: each character is, with probability `p`, deleted, doubled or swapped
    with its right neighbour (one of the three, uniformly); words left empty are dropped."""
    out = []
    for w in tokens:
        chars, i, new = list(w), 0, []
        while i < len(chars):
            c = chars[i]
            if rng.random() < p:
                kind = rng.integers(3)
                if kind == 1:
                    new += [c, c]
                elif kind == 2 and i + 1 < len(chars):
                    new += [chars[i + 1], c]
                    i += 1
                elif kind == 2:
                    new.append(c)
            else:
                new.append(c)
            i += 1
        if new:
            out.append("".join(new))
    return out


def sentence_shuffle(tokens, rng, *, ends: Sequence[str] = SENTENCE_ENDS) -> Tokens:
    """Shuffle the sentences (runs of words closed by an end mark) of a text."""
    sentences, cur = [], []
    for w in tokens:
        cur.append(w)
        if w in ends:
            sentences.append(cur)
            cur = []
    if cur:
        sentences.append(cur)
    return [w for k in rng.permutation(len(sentences)) for w in sentences[k]]


def instance_crossover(tokens, rng, *, partners: Sequence[Sequence[str]]) -> Tokens:
    """Luque 2019: the first half of this text + the second half of a random partner (pass the
    texts of the same label: `crossover_ops`)."""
    other = partners[rng.integers(len(partners))]
    return list(tokens[: len(tokens) // 2]) + list(other[len(other) // 2 :])


def crossover_ops(token_lists: Sequence[Sequence[str]], labels: Sequence[int]) -> dict[int, Op]:
    """label -> crossover op whose partners are that label's texts."""
    ops = {}
    for label in sorted(set(labels)):
        partners = [t for t, y in zip(token_lists, labels, strict=True) if y == label]
        ops[label] = lambda t, rng, ps=partners: instance_crossover(t, rng, partners=ps)
    return ops


def augment_corpus(
    token_lists: Sequence[Sequence[str]],
    labels: Sequence[int],
    op: Op | Mapping[int, Op],
    *,
    copies: int = 1,
    seed: int = 0,
) -> tuple[list[Tokens], list[int]]:
    """`copies` augmented versions of every text (the originals not included), with their
    labels; `op` is one op or a label -> op mapping (crossover). Reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    out, out_labels = [], []
    for _ in range(copies):
        for t, y in zip(token_lists, labels, strict=True):
            f = op[y] if isinstance(op, Mapping) else op
            out.append(f(list(t), rng))
            out_labels.append(y)
    return out, out_labels
