"""Levenshtein edit distance and the token/sequence error rates built on it (PER/WER in G2P).

`error_rates` scores each hypothesis against its closest reference (words with several
pronunciations): token error rate = Σ min distance / Σ that reference's length; sequence error
rate = share of hypotheses equal to no reference (Yao & Zweig 2015's PER and WER). SPEC: SEQ-2.
"""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Fewest insertions, deletions and substitutions turning `a` into `b` (one-row DP)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diag, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (x != y))
    return row[-1]


def error_rates(hyps: Sequence[Sequence], refs: Sequence[Sequence[Sequence]]) -> dict[str, float]:
    """{"token_error_rate", "sequence_error_rate"} of hypotheses against lists of references."""
    if len(hyps) != len(refs) or not hyps:
        raise ValueError(
            f"need as many hypotheses as reference lists (>0): {len(hyps)} vs {len(refs)}"
        )
    errors = length = wrong = 0
    for hyp, options in zip(hyps, refs, strict=True):
        dist, ref = min((edit_distance(hyp, r), len(r)) for r in options)
        errors, length, wrong = errors + dist, length + ref, wrong + (dist > 0)
    return {"token_error_rate": errors / length, "sequence_error_rate": wrong / len(hyps)}
