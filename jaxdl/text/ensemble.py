"""Cross-validation, ensembling and pseudo-labels (SPEC: SEQ-7), on NumPy arrays.

Splits come from scikit-learn (`KFold`, `StratifiedKFold` and their repeated forms); predictions
are arrays: probabilities (N, C) or scores (N,) per model, stacked as (M, N, ...). Combining
averages predictions (never parameters): arithmetic, geometric or rank means with weights, hard
and soft voting; stacking fits a meta-learner on out-of-fold predictions, blending on a hold-out;
bagging draws bootstrap samples of size m (about 36.8% of rows left out of each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

AVERAGES = ("arithmetic", "geometric", "rank")


def kfold_splits(
    y: Sequence[int],
    k: int = 5,
    *,
    stratified: bool = True,
    repeats: int = 1,
    shuffle: bool = True,
    seed: int | None = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, valid indices) of k-fold cross-validation over len(y) rows, stratified by
    the labels `y` (class ratios kept per fold) or not, repeated `repeats` times with new shuffles.
    A stratified k larger than the smallest class is refused."""
    from sklearn import model_selection as ms

    y = np.asarray(y)
    if k < 2:
        raise ValueError(f"k-fold needs k >= 2, got {k}")
    if k > len(y):
        raise ValueError(f"k={k} folds for only {len(y)} rows")
    if stratified:
        classes, counts = np.unique(y, return_counts=True)
        if k > counts.min():
            smallest = classes[counts.argmin()].item()
            raise ValueError(
                f"stratified k={k} exceeds the smallest class ({smallest!r} has "
                f"{counts.min()} rows); use k <= {counts.min()} or stratified=False"
            )
    if repeats > 1:
        cls = ms.RepeatedStratifiedKFold if stratified else ms.RepeatedKFold
        splitter = cls(n_splits=k, n_repeats=repeats, random_state=seed)
    else:
        cls = ms.StratifiedKFold if stratified else ms.KFold
        splitter = cls(n_splits=k, shuffle=shuffle, random_state=seed if shuffle else None)
    return list(splitter.split(np.zeros(len(y)), y))


def out_of_fold(
    fit_predict: Callable[[np.ndarray, np.ndarray], tuple[Any, Any]],
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Runs `fit_predict(train_idx, valid_idx) -> (valid predictions, test predictions)` per fold.

    -> (out-of-fold predictions (n, ...) with each row predicted by the model that did not see
    it, test predictions of every fold model (k, N_test, ...)). Rows in no validation fold are
    NaN (a repeated split's later repeats overwrite earlier ones: pass one repeat)."""
    oof, tests = None, []
    for train_idx, valid_idx in splits:
        valid_pred, test_pred = (np.asarray(a) for a in fit_predict(train_idx, valid_idx))
        if oof is None:
            oof = np.full(
                (n, *valid_pred.shape[1:]), np.nan, np.result_type(valid_pred, np.float32)
            )
        oof[valid_idx] = valid_pred
        tests.append(test_pred)
    return oof, np.stack(tests)


def rank_weights(scores: Sequence[float]) -> np.ndarray:
    """Weights from the models' validation ranks: with M models the best gets M/S, the next
    (M-1)/S, ..., S = M(M+1)/2 (3 models: 3/6, 2/6, 1/6). Higher score = better."""
    order = np.argsort(np.argsort(-np.asarray(scores, float), kind="stable"), kind="stable")
    m = len(order)
    return (m - order) / (m * (m + 1) / 2)


def average(preds: Any, method: str = "arithmetic", weights: Sequence[float] | None = None):
    """Weighted mean over the first (model) axis of (M, N, ...) predictions.

    arithmetic: Σ w p; geometric: exp Σ w log p (probabilities renormalised over the last axis
    when it is a class axis, ndim 3); rank: Σ w rank(p)/N per column (AUC-style scores)."""
    p = np.asarray(preds, np.float64)
    w = np.full(len(p), 1 / len(p)) if weights is None else np.asarray(weights, np.float64)
    if w.shape != (len(p),):
        raise ValueError(f"expected {len(p)} weights, got shape {w.shape}")
    w = (w / w.sum()).reshape((-1,) + (1,) * (p.ndim - 1))
    if method == "arithmetic":
        return np.sum(w * p, axis=0)
    if method == "geometric":
        out = np.exp(np.sum(w * np.log(np.clip(p, 1e-12, None)), axis=0))
        return out / out.sum(-1, keepdims=True) if p.ndim == 3 else out
    if method == "rank":
        return np.sum(w * rankdata(p, axis=1) / p.shape[1], axis=0)
    raise ValueError(f"unknown averaging {method!r}; choose from {AVERAGES}")


def hard_vote(
    labels: Any, weights: Sequence[float] | None = None, *, absolute: bool = False
) -> np.ndarray:
    """Per row, the label with most (weighted) votes among (M, N) predicted labels; with
    `absolute`, only a label holding more than half the vote wins, else -1."""
    labels = np.asarray(labels)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, np.float64)
    classes = np.unique(labels)
    votes = np.stack([((labels == c) * w[:, None]).sum(0) for c in classes], -1)
    winner = classes[votes.argmax(-1)]
    if absolute:
        winner = np.where(votes.max(-1) > w.sum() / 2, winner, -1)
    return winner


def soft_vote(probs: Any, weights: Sequence[float] | None = None) -> np.ndarray:
    """argmax of the (weighted) mean class probabilities of (M, N, C) predictions."""
    return average(probs, "arithmetic", weights).argmax(-1)


def stack(oof_features: Any, y: Any, test_features: Any, meta: Any = None) -> np.ndarray:
    """Stacking: fit the meta-learner (default logistic regression) on out-of-fold predictions
    (N, F) (e.g. each base model's positive-class probability) and return its class
    probabilities for the test rows' features (N_test, F)."""
    from sklearn.linear_model import LogisticRegression

    meta = LogisticRegression(max_iter=1000) if meta is None else meta
    meta.fit(np.asarray(oof_features), np.asarray(y))
    return meta.predict_proba(np.asarray(test_features))


def blend(
    holdout_features: Any, y_holdout: Any, test_features: Any, meta: Any = None
) -> np.ndarray:
    """Blending: base models trained on the rest (e.g. 70%) predict the hold-out (30%) and the
    test rows; the meta-learner fits the hold-out predictions (`stack` on them)."""
    return stack(holdout_features, y_holdout, test_features, meta)


def holdout_split(n: int, fraction: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, hold-out indices): a random `fraction` held out (blending's 70/30)."""
    if not 0 < fraction < 1:
        raise ValueError(f"hold-out fraction must be in (0, 1), got {fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    cut = n - int(round(fraction * n))
    return np.sort(perm[:cut]), np.sort(perm[cut:])


def bootstrap(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bagging's sample: n indices drawn with replacement, and the rows never drawn (out-of-bag,
    about (1 - 1/n)^n ≈ 36.8%)."""
    idx = rng.integers(0, n, n)
    return idx, np.setdiff1d(np.arange(n), idx)


def bagging(fit_predict: Callable[[np.ndarray], Any], n: int, models: int, seed: int = 0):
    """Mean of `fit_predict(bootstrap indices) -> test predictions` over `models` bootstraps."""
    rng = np.random.default_rng(seed)
    return np.mean([np.asarray(fit_predict(bootstrap(n, rng)[0])) for _ in range(models)], 0)


def pseudo_labels(probs: Any, threshold: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(indices, labels) of the rows of (N, C) probabilities whose top class has probability
    >= threshold: the confident predictions to add to the training set (the others are unknown
    to be right, so they stay out)."""
    p = np.asarray(probs)
    if p.ndim != 2:
        raise ValueError(f"expected (N, C) probabilities, got shape {p.shape}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    idx = np.flatnonzero(p.max(-1) >= threshold)
    return idx, p[idx].argmax(-1)
