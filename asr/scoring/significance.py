"""How sure a WER is: bootstrap confidence intervals and a paired test between two systems.

Both resample utterances with replacement (Bisani & Ney, "Bootstrap estimates for
confidence intervals in ASR performance evaluation", ICASSP 2004; Kaldi's
compute-wer-bootci). A resample's WER is its summed errors over its summed reference
words, so long utterances weigh more, as in the WER itself. Intervals are percentile
intervals of the resampled WERs. Inputs are per-utterance counts in one fixed order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_CHUNK_CELLS = 4_000_000  # resampled utterance indices drawn at once (16 MB of int32)


@dataclass
class BootstrapCI:
    """A WER (percent) and its bootstrap interval at `level` (0.95: 2.5th to 97.5th percentile)."""

    wer: float
    low: float
    high: float
    reps: int
    level: float = 0.95


@dataclass
class PairedTest:
    """Paired bootstrap comparison of systems A and B on the same references (WERs in percent).

    diff = WER_B - WER_A with its interval; prob_b_better: share of resamples where B has
    the lower WER (Bisani & Ney's probability of improvement); p_value: two-sided, for
    "A and B have the same WER"; better: 'A', 'B', or None when p_value >= alpha.
    """

    wer_a: float
    wer_b: float
    diff: float
    diff_low: float
    diff_high: float
    prob_b_better: float
    p_value: float
    reps: int
    alpha: float
    better: str | None


def _wer(errors: np.ndarray, ref_words: np.ndarray) -> np.ndarray:
    """100 * errors / ref_words elementwise; 0 where there are no reference words (as ErrorCounts.wer)."""
    return np.divide(100.0 * errors, ref_words, out=np.zeros(np.shape(errors)), where=ref_words > 0)


def _resampled_sums(columns: list[np.ndarray], reps: int, seed: int) -> Iterator[list[np.ndarray]]:
    """Per chunk of resamples, the sums of each [U] column over U utterances drawn with replacement."""
    rng = np.random.default_rng(seed)
    n_utts = len(columns[0])
    per_chunk = max(1, _CHUNK_CELLS // max(n_utts, 1))
    for start in range(0, reps, per_chunk):
        idx = rng.integers(0, n_utts, size=(min(per_chunk, reps - start), n_utts), dtype=np.int32)
        yield [col[idx].sum(axis=1) for col in columns]


def bootstrap_wer(
    errors: np.ndarray, ref_words: np.ndarray, reps: int = 1000, seed: int = 0, level: float = 0.95
) -> BootstrapCI | None:
    """Bootstrap interval of the WER from per-utterance errors and reference words ([U] each).

    Returns None for an empty set or reps < 1. Deterministic for a given seed.
    """
    errors, ref_words = np.asarray(errors, np.int64), np.asarray(ref_words, np.int64)
    if reps < 1 or len(errors) == 0:
        return None
    wers = np.concatenate([_wer(e, r) for e, r in _resampled_sums([errors, ref_words], reps, seed)])
    low, high = np.quantile(wers, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapCI(float(_wer(errors.sum(), ref_words.sum())), float(low), float(high), reps, level)


def paired_bootstrap(
    errors_a: np.ndarray,
    errors_b: np.ndarray,
    ref_words: np.ndarray,
    reps: int = 10000,
    seed: int = 0,
    level: float = 0.95,
    alpha: float = 0.05,
) -> PairedTest:
    """Paired bootstrap test of two systems' per-utterance errors on the same utterances ([U] each).

    Each resample draws the same utterances for A and B. Raises ValueError for an empty
    set, reps < 1 or arrays of different lengths.
    """
    errors_a, errors_b = np.asarray(errors_a, np.int64), np.asarray(errors_b, np.int64)
    ref_words = np.asarray(ref_words, np.int64)
    if not len(errors_a) == len(errors_b) == len(ref_words):
        raise ValueError(f"per-utterance arrays differ in length: {len(errors_a)}, {len(errors_b)}, {len(ref_words)}")
    if len(ref_words) == 0 or reps < 1:
        raise ValueError("a paired bootstrap needs at least one utterance and one resample")
    # WER_B - WER_A of a resample has one denominator: sum(errors_b - errors_a) / sum(ref_words)
    diffs = np.concatenate([_wer(d, r) for d, r in _resampled_sums([errors_b - errors_a, ref_words], reps, seed)])
    wer_a, wer_b = float(_wer(errors_a.sum(), ref_words.sum())), float(_wer(errors_b.sum(), ref_words.sum()))
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    p_value = 1.0 if np.array_equal(errors_a, errors_b) else min(
        1.0, 2 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0)))
    )
    better = None if p_value >= alpha or wer_a == wer_b else ("B" if wer_b < wer_a else "A")
    return PairedTest(wer_a, wer_b, wer_b - wer_a, float(low), float(high), float(np.mean(diffs < 0)),
                      p_value, reps, alpha, better)
