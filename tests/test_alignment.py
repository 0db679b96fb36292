"""Tests for asr/scoring/alignment.py: sclite's weighted alignment and tie-breaking, batched in numpy.

The expected alignments below were produced by sclite 2.4 (`-o sgml`); tests/test_scoring.py
compares against the sclite binary itself when it is installed.
"""

from __future__ import annotations

import random

import pytest

from asr.scoring.alignment import EPS, align, edit_ops, expand


def reference_ops(ref: list[str], hyp: list[str]) -> str:
    """Plain dynamic programme with sclite's costs; back-trace prefers diagonal, insertion, deletion."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                cost[i][j] = 3 * (i + j)
                continue
            diag = cost[i - 1][j - 1] + (0 if ref[i - 1] == hyp[j - 1] else 4)
            cost[i][j] = min(diag, cost[i - 1][j] + 3, cost[i][j - 1] + 3)
    ops, i, j = [], n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (0 if ref[i - 1] == hyp[j - 1] else 4):
            ops.append("C" if ref[i - 1] == hyp[j - 1] else "S")
            i, j = i - 1, j - 1
        elif j and cost[i][j] == cost[i][j - 1] + 3:
            ops.append("I")
            j -= 1
        else:
            ops.append("D")
            i -= 1
    return "".join(reversed(ops))


# (ref, hyp, sclite's ops)
SCLITE_ALIGNMENTS = [
    ("a b", "c", "DS"),  # equal cost D+S or S+D: the error that is not a substitution goes left
    ("a", "b c", "IS"),
    ("a a", "a", "DC"),  # the first 'a' is deleted
    ("a", "a a", "IC"),
    ("a b", "b c", "DCI"),  # 6 < 8 for two substitutions
    ("a b c", "x", "DDS"),
    ("x", "a b c", "IIS"),
    ("a b", "b a", "DCI"),  # not ICD
    ("a b c", "c b a", "SCS"),
    ("a a b", "b a a", "ICCD"),
    ("b b b a a a", "a a c a b b", "DDDCCICII"),  # 3D + 3I (cost 18) beats 5S + 1C (cost 20)
    ("a b b a a b b b", "b b b b c c b c", "DCCDDCCIICI"),
    ("", "", ""),
    ("a b", "", "DD"),
    ("", "a b", "II"),
]


@pytest.mark.parametrize("ref, hyp, ops", SCLITE_ALIGNMENTS)
def test_known_sclite_alignments(ref, hyp, ops):
    assert edit_ops([ref.split()], [hyp.split()]) == [ops]
    assert reference_ops(ref.split(), hyp.split()) == ops


def test_batch_equals_plain_dp_on_random_pairs():
    # A small vocabulary makes equal-cost alternatives frequent; lengths vary so that
    # buckets of different shapes and padding are exercised.
    rng = random.Random(1234)
    refs, hyps = [], []
    for _ in range(600):
        vocab = "ab" if rng.random() < 0.5 else "abcde"
        refs.append([rng.choice(vocab) for _ in range(rng.randint(0, 12))])
        hyps.append([rng.choice(vocab) for _ in range(rng.randint(0, 12))])
    refs.append(list("ab" * 40))
    hyps.append(list("ba" * 35))
    got = edit_ops(refs, hyps)
    assert got == [reference_ops(r, h) for r, h in zip(refs, hyps)]
    # tiny buckets (one pair each) give the same answer as large ones
    assert edit_ops(refs, hyps, cell_budget=1) == got


def test_large_buckets_take_the_row_loop():
    # a bucket of >= 1024 pairs computes the running minimum row by row instead of with
    # np.minimum.accumulate; both must give the same alignments
    rng = random.Random(99)
    refs = [[rng.choice("abc") for _ in range(rng.randint(0, 7))] for _ in range(1500)]
    hyps = [[rng.choice("abc") for _ in range(rng.randint(0, 7))] for _ in range(1500)]
    got = edit_ops(refs, hyps)
    assert got == [reference_ops(r, h) for r, h in zip(refs, hyps)]
    assert got == edit_ops(refs, hyps, cell_budget=200 * 64)  # buckets of < 1024 pairs


def test_expand_and_align():
    assert expand("CSDI", ["a", "b", "c"], ["a", "x", "y"]) == [
        ("C", "a", "a"), ("S", "b", "x"), ("D", "c", EPS), ("I", EPS, "y")]
    assert align([["a", "b"]], [["c"]]) == [[("D", "a", EPS), ("S", "b", "c")]]
    assert align([], []) == []
    with pytest.raises(ValueError, match="does not cover"):
        expand("C", ["a", "b"], ["a"])
    with pytest.raises(ValueError, match="2 references but 1"):
        edit_ops([["a"], ["b"]], [["a"]])


def test_tokens_compare_exactly():
    # case folding is the caller's job (asr.scoring.wer lowercases A-Z for sclite's default)
    assert edit_ops([["Hello"]], [["hello"]]) == ["S"]
    assert edit_ops([["école"]], [["école"]]) == ["C"]
