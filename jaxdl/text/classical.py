"""Classical text features with scikit-learn and gensim (SPEC: SEQ-9).

Texts come in segmented, one string of space-separated words each (`TextCleaner(with_space=True)`).
Features: bag of words, TF-IDF and hashing over word 1-2-grams, and 32-topic LDA document-topic
proportions (scikit-learn `LatentDirichletAllocation`, batch, 10 iterations, random_state 402),
each scored with Ridge regression on {0, 1} labels (AUC of the scores, accuracy at > 0.5) as in
the competition notebook; gensim LDA with its mean u_mass topic coherence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FEATURES = ("bow", "tfidf", "hashing", "lda")


def make_features(
    kind: str,
    *,
    ngram_range: tuple[int, int] = (1, 2),
    stop_words: Sequence[str] | None = None,
    topics: int = 32,
    seed: int = 402,
) -> Any:
    """An unfitted scikit-learn transformer `texts -> (N, F)` features. Words are the texts'
    space-separated tokens (no lowercasing, no token pattern); `stop_words` are dropped before
    the n-grams are formed (not for "lda", whose texts the cleaner already filtered)."""
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction import text
    from sklearn.pipeline import make_pipeline

    words = dict(tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=ngram_range)
    stop = sorted(stop_words) if stop_words else None
    if kind == "bow":
        return text.CountVectorizer(stop_words=stop, **words)
    if kind == "tfidf":
        return text.TfidfVectorizer(stop_words=stop, **words)
    if kind == "hashing":
        return text.HashingVectorizer(stop_words=stop, **words)
    if kind == "lda":
        lda = LatentDirichletAllocation(
            n_components=topics, learning_method="batch", max_iter=10, random_state=seed
        )
        return make_pipeline(text.CountVectorizer(**words), lda)
    raise ValueError(f"unknown feature kind {kind!r}; choose from {FEATURES}")


def ridge_scores(
    features: Any, labels: Any, alpha: float, *, valid_fraction: float = 0.1, seed: int = 0
) -> dict[str, float]:
    """Ridge(alpha) on {0, 1} labels over a seeded random `valid_fraction` hold-out: AUC of the
    raw scores and accuracy of score > 0.5, on the train and valid rows."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    x_tr, x_va, y_tr, y_va = train_test_split(
        features, np.asarray(labels), test_size=valid_fraction, random_state=seed
    )
    clf = Ridge(alpha=alpha).fit(x_tr, y_tr)
    out = {}
    for name, x, y in (("train", x_tr, y_tr), ("valid", x_va, y_va)):
        s = clf.predict(x)
        out[f"{name}_auc"] = float(roc_auc_score(y, s))
        out[f"{name}_acc"] = float(accuracy_score(y, s > 0.5))
    return out


def gensim_lda_coherence(
    token_lists: Sequence[Sequence[str]],
    *,
    topics: int = 100,
    no_below: int = 20,
    no_above: float = 0.5,
    chunksize: int = 2000,
    passes: int = 20,
    iterations: int = 400,
    seed: int = 0,
) -> float:
    """Mean u_mass coherence (Mimno et al. 2011) of a gensim LdaModel's topics: dictionary
    filtered to words in >= `no_below` documents and <= `no_above` of them, alpha and eta
    learned ("auto"), the notebook's 100 topics, 20 passes, 400 iterations."""
    try:
        from gensim import corpora
        from gensim.models import LdaModel
    except ImportError as e:
        raise ImportError('gensim LDA needs gensim: pip install "jaxdl[text]"') from e
    docs = [list(t) for t in token_lists]
    dictionary = corpora.Dictionary(docs)
    dictionary.filter_extremes(no_below=no_below, no_above=no_above)
    bow = [dictionary.doc2bow(d) for d in docs]
    model = LdaModel(
        corpus=bow,
        id2word=dictionary,
        num_topics=topics,
        chunksize=chunksize,
        passes=passes,
        iterations=iterations,
        alpha="auto",
        eta="auto",
        eval_every=None,
        random_state=seed,
    )
    top = model.top_topics(bow, coherence="u_mass", topn=20)
    return float(np.mean([c for _, c in top]))
