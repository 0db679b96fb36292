"""Tests for asr/transcribe/chunking.py: silence-based splitting of long waves into decodable chunks."""

from __future__ import annotations


import numpy as np
import pytest
from conftest import speech_like

from asr.transcribe.chunking import (
    frame_energies_db,
    silence_threshold_db,
    split_on_silence,
)

SR = 16000


def _check_invariants(chunks, n, max_seconds=20.0, sr=SR):
    """In order, contiguous, covering [0, n), none empty, none longer than max_seconds."""
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    for (s0, e0), (s1, _) in zip(chunks, chunks[1:]):
        assert e0 == s1
    assert all(e > s for s, e in chunks)
    assert all(e - s <= max_seconds * sr for s, e in chunks)
    assert all(isinstance(s, int) and isinstance(e, int) for s, e in chunks)


def _bursts(speech_seconds, pause_seconds, seed=0, noise=1e-3):
    """Speech-like bursts separated by quiet pauses; returns the wave and the pauses [s, e)."""
    rng = np.random.default_rng(seed)
    source = speech_like(max(speech_seconds) + 5.0, seed=seed)
    parts, pauses, pos = [], [], 0
    for i, seconds in enumerate(speech_seconds):
        offset = int(rng.integers(0, 5 * SR))
        burst = source[offset : offset + int(round(seconds * SR))]
        parts.append(burst)
        pos += len(burst)
        if i < len(pause_seconds):
            gap = (noise * rng.standard_normal(int(pause_seconds[i] * SR))).astype(np.float32)
            parts.append(gap)
            pauses.append((pos, pos + len(gap)))
            pos += len(gap)
    return np.concatenate(parts), pauses


def _inside_a_pause(cut, pauses):
    return any(s <= cut < e for s, e in pauses)


def test_empty_and_tiny_inputs():
    assert split_on_silence(np.zeros(0, dtype=np.float32), SR) == []
    assert split_on_silence(np.zeros(1, dtype=np.float32), SR) == [(0, 1)]
    assert split_on_silence(np.ones(5, dtype=np.float32), SR) == [(0, 5)]


def test_short_wave_is_one_chunk():
    wave = speech_like(19.5)
    assert split_on_silence(wave, SR) == [(0, len(wave))]
    exactly = np.zeros(20 * SR, dtype=np.float32)
    assert split_on_silence(exactly, SR) == [(0, 20 * SR)]


def test_pure_silence():
    wave = np.zeros(95 * SR, dtype=np.float32)
    chunks = split_on_silence(wave, SR)
    _check_invariants(chunks, len(wave))
    assert len(chunks) >= 5
    assert all(e - s >= 1.0 * SR for s, e in chunks)


def test_noise_without_silences_is_force_cut_within_max():
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(100 * SR)).astype(np.float32)
    energy = frame_energies_db(wave, SR)
    assert not (energy < silence_threshold_db(energy)).any()  # nothing is silent
    chunks = split_on_silence(wave, SR, max_seconds=15.0)
    _check_invariants(chunks, len(wave), max_seconds=15.0)
    assert len(chunks) >= 7
    assert all(e - s >= 1.0 * SR for s, e in chunks[:-1])


def test_continuous_speech_is_force_cut_at_a_quiet_point():
    wave = speech_like(70.0, seed=3)
    chunks = split_on_silence(wave, SR)
    _check_invariants(chunks, len(wave))
    energy = frame_energies_db(wave, SR)
    for s, _ in chunks[1:]:  # each forced cut is in the quieter half of the frames
        assert energy[s // 160] < np.median(energy)


def test_cuts_fall_inside_known_silences():
    speech = [6.0, 9.0, 4.0, 12.0, 7.0, 8.0, 5.0, 3.0]
    pauses = [0.5, 0.3, 1.0, 0.4, 0.25, 0.6, 0.8]
    wave, gaps = _bursts(speech, pauses)
    chunks = split_on_silence(wave, SR)
    _check_invariants(chunks, len(wave))
    assert len(chunks) >= 3  # 54 s of speech + pauses
    for s, _ in chunks[1:]:
        assert _inside_a_pause(s, gaps), (s / SR, [(a / SR, b / SR) for a, b in gaps])


def test_cut_is_near_the_middle_of_the_pause():
    wave, gaps = _bursts([15.0, 10.0], [1.0])
    chunks = split_on_silence(wave, SR)
    assert len(chunks) == 2
    (s, e), cut = gaps[0], chunks[1][0]
    assert abs(cut - (s + e) / 2) <= 0.02 * SR


def test_longest_pause_wins():
    # A short (0.3 s) pause at 5 s and a long one (1.2 s) at 12 s: the cut takes the long one.
    wave, gaps = _bursts([5.0, 7.0, 10.0], [0.3, 1.2])
    chunks = split_on_silence(wave, SR)
    assert len(chunks) == 2
    assert gaps[1][0] <= chunks[1][0] < gaps[1][1]


def test_pauses_shorter_than_min_silence_are_not_cut_points():
    # Only a 0.1 s pause (< 200 ms) inside the window: the cut is forced, at the quietest
    # point, which is that pause anyway; with min_silence_ms=50 it is a silence cut.
    wave, gaps = _bursts([10.0, 15.0], [0.1])
    for min_silence_ms in (200.0, 50.0):
        chunks = split_on_silence(wave, SR, min_silence_ms=min_silence_ms)
        _check_invariants(chunks, len(wave))
        assert _inside_a_pause(chunks[1][0], gaps)


def test_silence_outside_the_window_is_not_used():
    # The only pause is 0.5 s after the start (< min_seconds=1): never a cut point.
    wave, gaps = _bursts([0.5, 24.0], [0.4])
    chunks = split_on_silence(wave, SR)
    _check_invariants(chunks, len(wave))
    assert chunks[1][0] >= 1.0 * SR


def test_level_independent():
    wave, gaps = _bursts([8.0, 9.0, 7.0, 6.0], [0.5, 0.5, 0.5])
    a = split_on_silence(wave, SR)
    b = split_on_silence(wave * 0.01, SR)  # 40 dB quieter recording
    assert [s for s, _ in a] == pytest.approx([s for s, _ in b], abs=160)
    for s, _ in b[1:]:
        assert _inside_a_pause(s, gaps)


def test_parameters():
    wave, gaps = _bursts([4.0] * 10, [0.5] * 9)
    chunks = split_on_silence(wave, SR, max_seconds=9.0, min_seconds=2.0)
    _check_invariants(chunks, len(wave), max_seconds=9.0)
    assert all(_inside_a_pause(s, gaps) for s, _ in chunks[1:])
    other_rate = split_on_silence(wave[::2], SR // 2, max_seconds=9.0, min_seconds=2.0)
    _check_invariants(other_rate, len(wave[::2]), max_seconds=9.0, sr=SR // 2)
    with pytest.raises(ValueError):
        split_on_silence(wave, SR, max_seconds=1.0, min_seconds=2.0)
    with pytest.raises(ValueError):
        split_on_silence(wave, 0)


def test_last_chunk_not_tiny_when_avoidable():
    wave = speech_like(20.5, seed=2)  # just over max: leave >= min_seconds for the end
    chunks = split_on_silence(wave, SR)
    _check_invariants(chunks, len(wave))
    assert all(e - s >= 1.0 * SR for s, e in chunks)


def test_ten_minutes():
    rng = np.random.default_rng(7)
    speech = list(rng.uniform(2.0, 14.0, 75))
    pauses = list(rng.uniform(0.25, 1.5, 74))
    wave, gaps = _bursts(speech, pauses, seed=11)
    assert len(wave) > 10 * 60 * SR
    chunks = split_on_silence(wave, SR)
    _check_invariants(chunks, len(wave))
    assert sum(_inside_a_pause(s, gaps) for s, _ in chunks[1:]) == len(chunks) - 1


def test_integer_and_float64_input():
    wave, gaps = _bursts([12.0, 12.0], [0.5])
    as_float = split_on_silence(wave, SR)
    as_int16 = split_on_silence((wave * 32767).astype(np.int16), SR)
    as_f64 = split_on_silence(wave.astype(np.float64), SR)
    assert as_float == as_f64
    assert [s for s, _ in as_float] == pytest.approx([s for s, _ in as_int16], abs=160)
    with pytest.raises(ValueError):
        split_on_silence(np.zeros((2, 400000), dtype=np.float32), SR)


def _speech_at(spans, total, sr=16000):
    """Speech-like bursts at the given (start, end) seconds in `total` seconds of near-silence."""
    rng = np.random.default_rng(0)
    wave = 1e-4 * rng.standard_normal(int(total * sr)).astype(np.float32)
    for i, (a, b) in enumerate(spans):
        wave[int(a * sr):int(b * sr)] += speech_like(b - a, seed=i)[: int(b * sr) - int(a * sr)]
    return wave


def test_segment_at_pauses_cuts_every_long_pause_and_keeps_short_ones():
    from asr.transcribe.chunking import segment_at_pauses

    sr = 16000
    # pauses: 0.5 s (cut), 0.1 s (kept inside), 0.6 s (cut)
    wave = _speech_at([(0.2, 1.5), (2.0, 3.0), (3.1, 4.0), (4.6, 6.0)], 6.3)
    pieces = segment_at_pauses(wave, sr, min_pause_ms=300, max_seconds=20)
    cuts = [a / sr for a, _ in pieces[1:]]
    assert len(cuts) == 2
    assert 1.5 < cuts[0] < 2.0 and 4.0 < cuts[1] < 4.6
    assert pieces[0][0] == 0 and pieces[-1][1] == len(wave)
    assert all(b == c for (_, b), (c, _) in zip(pieces, pieces[1:]))


def test_segment_at_pauses_merges_short_pieces_and_respects_max():
    from asr.transcribe.chunking import segment_at_pauses

    sr = 16000
    wave = _speech_at([(0.1, 0.3), (0.8, 0.95), (1.5, 3.0)], 3.4)  # two tiny words, then a longer one
    pieces = segment_at_pauses(wave, sr, min_pause_ms=300, max_seconds=20, min_seconds=0.5)
    assert all(b - a >= 0.5 * sr for a, b in pieces[:-1])
    long = _speech_at([(0.1 + 3 * i, 2.9 + 3 * i) for i in range(20)], 60.0)
    pieces = segment_at_pauses(long, sr, min_pause_ms=0, max_seconds=10)
    assert max(b - a for a, b in pieces) <= 10 * sr and len(pieces) >= 6
    assert segment_at_pauses(np.zeros(0, np.float32), sr) == []
