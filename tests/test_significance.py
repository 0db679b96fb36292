"""Tests for asr/scoring/significance.py: bootstrap intervals of a WER and the paired test of two systems."""

from __future__ import annotations

import numpy as np
import pytest

from asr.scoring.significance import bootstrap_wer, paired_bootstrap


def _set(n_utts: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance (errors, reference words): 10-20 words, each wrong with probability `rate`."""
    rng = np.random.default_rng(seed)
    words = rng.integers(10, 21, n_utts)
    return rng.binomial(words, rate), words


def test_interval_contains_wer_and_shrinks_with_more_utterances():
    errs, words = _set(200, 0.15, 0)
    ci = bootstrap_wer(errs, words, reps=2000, seed=1)
    assert ci.low < ci.wer < ci.high and ci.reps == 2000 and ci.level == 0.95
    assert ci.wer == pytest.approx(100 * errs.sum() / words.sum())
    # binomial standard error at 200 x 15 words is about 0.65% absolute: 95% width about 2.6
    assert 1.5 < ci.high - ci.low < 4.0
    big = bootstrap_wer(*_set(5000, 0.15, 0), reps=500, seed=1)
    assert big.high - big.low < (ci.high - ci.low) / 3
    assert bootstrap_wer(errs, words, reps=2000, seed=1) == ci  # deterministic for a seed


def test_interval_edge_cases():
    assert bootstrap_wer(np.array([], int), np.array([], int)) is None
    assert bootstrap_wer(np.array([1]), np.array([4]), reps=0) is None
    # no reference words at all: WER is 0 as in ErrorCounts.wer, never a division by zero
    ci = bootstrap_wer(np.array([2, 0]), np.array([0, 0]), reps=50)
    assert (ci.wer, ci.low, ci.high) == (0.0, 0.0, 0.0)
    same = bootstrap_wer(np.array([1, 1, 1]), np.array([10, 10, 10]), reps=50)
    assert same.low == same.high == same.wer == pytest.approx(10.0)


def test_paired_test_finds_the_better_system():
    errs_a, words = _set(500, 0.20, 0)
    rng = np.random.default_rng(5)
    errs_b = np.maximum(errs_a - rng.binomial(1, 0.5, len(errs_a)), 0)  # B fixes an error in half the utterances
    test = paired_bootstrap(errs_a, errs_b, words, reps=2000, seed=0)
    assert test.better == "B" and test.p_value < 0.01 and test.prob_b_better > 0.99
    assert test.wer_b < test.wer_a and test.diff_high < 0 and test.diff == pytest.approx(test.wer_b - test.wer_a)
    swapped = paired_bootstrap(errs_b, errs_a, words, reps=2000, seed=0)
    assert swapped.better == "A" and swapped.prob_b_better < 0.01


def test_paired_test_no_difference():
    errs, words = _set(300, 0.2, 3)
    same = paired_bootstrap(errs, errs, words, reps=500)
    assert same.p_value == 1.0 and same.better is None and same.diff == 0.0
    # two systems with independent errors at the same rate: no significant difference
    other, _ = _set(300, 0.2, 4)
    test = paired_bootstrap(errs, np.minimum(other, words), words, reps=2000)
    assert test.better is None and test.p_value > 0.05


def test_paired_test_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap(np.array([1, 2]), np.array([1]), np.array([3, 3]))
    with pytest.raises(ValueError, match="at least one utterance"):
        paired_bootstrap(np.array([], int), np.array([], int), np.array([], int))
