"""Tests for asr/decoding/greedy.py: greedy CTC collapse on hand-made log-probs."""

from __future__ import annotations

import math

import pytest
import torch

from asr.data.tokens import build_token_table
from asr.decoding.greedy import greedy_decode
from asr.decoding.hypothesis import Hypothesis

TOKENS = build_token_table(["ab"])  # <blk>=0, |=1, a=2, b=3
SYMBOL_ID = {"_": 0, "|": 1, "a": 2, "b": 3}


def _log_probs(paths: list[str], peak: float = 0.9) -> torch.Tensor:
    """One row per path string ('_' is blank); each frame puts `peak` on its symbol. -> [N, T, 4]"""
    t = max(len(p) for p in paths)
    probs = torch.full((len(paths), t, 4), (1 - peak) / 3)
    for i, path in enumerate(paths):
        for j, ch in enumerate(path.ljust(t, "_")):
            probs[i, j, SYMBOL_ID[ch]] = peak
    return probs.log()


def test_collapses_repeats_then_drops_blanks():
    [hyp] = greedy_decode(_log_probs(["aa_ab"]), torch.tensor([5]), TOKENS)
    assert hyp.text == "aab"  # a a _ a b -> (a)(_)(a)(b) -> a a b
    assert hyp.tokens == [2, 2, 3]
    assert hyp.timesteps == [0, 3, 4]
    assert hyp.score == pytest.approx(5 * math.log(0.9), abs=1e-5)


@pytest.mark.parametrize(
    "path, text, tokens, timesteps",
    [
        ("_aa__bb_", "ab", [2, 3], [1, 5]),
        ("a_a", "aa", [2, 2], [0, 2]),
        ("ab|_ba", "ab ba", [2, 3, 1, 3, 2], [0, 1, 2, 4, 5]),
        ("____", "", [], []),
        ("|a||b|", "a b", [1, 2, 1, 3, 1], [0, 1, 2, 4, 5]),
    ],
)
def test_greedy_paths(path, text, tokens, timesteps):
    [hyp] = greedy_decode(_log_probs([path]), torch.tensor([len(path)]), TOKENS)
    assert (hyp.text, hyp.tokens, hyp.timesteps) == (text, tokens, timesteps)


def test_frames_beyond_length_are_ignored_and_empty_length_gives_empty():
    hyps = greedy_decode(_log_probs(["ab_bb", "aaaaa", "bbbbb"]), torch.tensor([2, 0, 5]), TOKENS)
    assert [h.text for h in hyps] == ["ab", "", "b"]
    assert hyps[1] == Hypothesis("", [], 0.0, [])
    assert hyps[0].score == pytest.approx(2 * math.log(0.9), abs=1e-5)
