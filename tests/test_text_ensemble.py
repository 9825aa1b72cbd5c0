"""jaxdl.text.ensemble (SPEC SEQ-7) and jaxdl.text.multilabel (SEQ-5): the notes' two-split
example, out-of-fold bookkeeping, averaging/voting definitions, stacking vs scikit-learn's
StackingClassifier protocol, bagging's out-of-bag share, pseudo-labels, micro/macro-F1 vs
scikit-learn, per-label thresholds vs brute force."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from jaxdl.text import ensemble, multilabel


def test_the_notes_stratified_two_split_example():
    y = np.array([0, 0, 1, 1])
    splits = ensemble.kfold_splits(y, 2, shuffle=False)
    got = [(tr.tolist(), te.tolist()) for tr, te in splits]
    assert got == [([1, 3], [0, 2]), ([0, 2], [1, 3])]


def test_splits_cover_every_row_once_and_keep_ratios():
    y = np.array([0] * 30 + [1] * 10)
    for stratified in (True, False):
        splits = ensemble.kfold_splits(y, 5, stratified=stratified, seed=3)
        valid = np.concatenate([te for _, te in splits])
        assert sorted(valid) == list(range(40))
        for tr, te in splits:
            assert not set(tr) & set(te)
    for _, te in ensemble.kfold_splits(y, 5):
        assert (y[te] == 1).sum() == 2  # 10 positives over 5 folds
    rep = ensemble.kfold_splits(y, 5, repeats=3, seed=0)
    assert len(rep) == 15 and rep[0][1].tolist() != rep[5][1].tolist()


def test_k_larger_than_the_smallest_class_is_refused():
    y = np.array([0] * 10 + [1] * 3)
    with pytest.raises(ValueError, match=r"stratified k=4 exceeds the smallest class \(1 has 3"):
        ensemble.kfold_splits(y, 4)
    assert len(ensemble.kfold_splits(y, 4, stratified=False)) == 4
    with pytest.raises(ValueError, match="k >= 2"):
        ensemble.kfold_splits(y, 1)


def test_out_of_fold_predictions():
    y = np.array([0, 1] * 6)
    splits = ensemble.kfold_splits(y, 3, seed=0)

    def fit_predict(train_idx, valid_idx):  # "predicts" the index of the fold's first train row
        return np.full(len(valid_idx), train_idx[0]), np.full(2, len(train_idx))

    oof, tests = ensemble.out_of_fold(fit_predict, splits, len(y))
    for tr, te in splits:
        assert (oof[te] == tr[0]).all()
    assert tests.shape == (3, 2) and (tests == 8).all()


def test_averages_and_votes():
    p = np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.6, 0.4], [0.2, 0.8]], [[0.3, 0.7], [0.5, 0.5]]])
    np.testing.assert_allclose(ensemble.average(p), p.mean(0))
    w = ensemble.rank_weights([0.7, 0.9, 0.8])
    np.testing.assert_allclose(w, [1 / 6, 3 / 6, 2 / 6])
    np.testing.assert_allclose(ensemble.average(p, weights=w), np.tensordot(w, p, 1))
    g = np.exp(np.log(p).mean(0))
    np.testing.assert_allclose(ensemble.average(p, "geometric"), g / g.sum(-1, keepdims=True))
    s = np.array([[0.1, 0.5, 0.3], [10.0, 30.0, 20.0]])  # same order, other scale
    np.testing.assert_allclose(ensemble.average(s, "rank"), [1 / 3, 1.0, 2 / 3])
    labels = np.array([[0, 1, 2, 1], [0, 2, 2, 0], [1, 1, 0, 2]])
    assert ensemble.hard_vote(labels).tolist() == [0, 1, 2, 0]
    assert ensemble.hard_vote(labels, absolute=True).tolist() == [0, 1, 2, -1]
    assert ensemble.hard_vote(labels, weights=[1, 1, 3]).tolist() == [1, 1, 0, 2]
    assert ensemble.soft_vote(p).tolist() == [0, 1]
    with pytest.raises(ValueError, match="unknown averaging 'median'"):
        ensemble.average(p, "median")
    with pytest.raises(ValueError, match="expected 3 weights"):
        ensemble.average(p, weights=[1, 2])


def test_stacking_blending_bagging_pseudo_labels():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    feats = np.stack([y + rng.normal(0, 0.8, 200), y + rng.normal(0, 2.0, 200)], 1)
    probs = ensemble.stack(feats[:150], y[:150], feats[150:])
    ref = LogisticRegression(max_iter=1000).fit(feats[:150], y[:150]).predict_proba(feats[150:])
    np.testing.assert_allclose(probs, ref)
    tr, ho = ensemble.holdout_split(200, 0.3, seed=1)
    assert len(ho) == 60 and not set(tr) & set(ho) and len(tr) + len(ho) == 200
    np.testing.assert_allclose(
        ensemble.blend(feats[ho], y[ho], feats), ensemble.stack(feats[ho], y[ho], feats)
    )
    out = [len(ensemble.bootstrap(1000, np.random.default_rng(s))[1]) for s in range(50)]
    assert abs(np.mean(out) / 1000 - (1 - 1 / 1000) ** 1000) < 0.01  # ≈ 36.8%
    bag = ensemble.bagging(lambda idx: np.full(3, len(np.unique(idx))), 100, 4, seed=0)
    assert bag.shape == (3,) and 55 < bag[0] < 72
    p = np.array([[0.97, 0.03], [0.6, 0.4], [0.01, 0.99], [0.5, 0.5]])
    idx, lab = ensemble.pseudo_labels(p, 0.95)
    assert idx.tolist() == [0, 2] and lab.tolist() == [0, 1]
    with pytest.raises(ValueError, match="threshold must be in"):
        ensemble.pseudo_labels(p, 0.0)


def test_multilabel_f1_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.random((50, 7)) < 0.3
    pred = rng.random((50, 7)) < 0.4
    y[:, 6] = pred[:, 6] = False  # a label never present nor predicted: F1 0
    got = multilabel.multilabel_f1(y, pred)
    for avg in ("micro", "macro"):
        ref = f1_score(y, pred, average=avg, zero_division=0)
        np.testing.assert_allclose(got[avg], ref, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\(N, L\) of one shape"):
        multilabel.multilabel_f1(y, pred[:, :3])


def test_thresholds_maximise_each_labels_f1():
    rng = np.random.default_rng(1)
    y = rng.random((60, 4)) < 0.4
    s = y * rng.normal(0.6, 0.3, y.shape) + rng.normal(0.2, 0.3, y.shape)
    th = multilabel.tune_thresholds(y, s)
    for j in range(4):  # brute force over every possible cut
        best = max(f1_score(y[:, j], s[:, j] >= c, zero_division=0) for c in np.unique(s[:, j]))
        got = f1_score(y[:, j], s[:, j] >= th[j], zero_division=0)
        np.testing.assert_allclose(got, best, rtol=1e-12)
    tuned = multilabel.multilabel_f1(y, s >= th)["macro"]
    assert tuned >= multilabel.multilabel_f1(y, s >= 0.5)["macro"]
    grid = multilabel.tune_thresholds(y, s, grid=[0.1, 0.5])
    assert set(grid.tolist()) <= {0.1, 0.5}
