"""Split a long waveform into chunks short enough to decode, cutting inside silences.

`split_on_silence(wave, sample_rate)` returns sample ranges [start, end) that cover the
wave in order, contiguously, each at most `max_seconds` long. It works on frame log
energies (numpy, vectorised): an hour of 16 kHz audio takes a fraction of a second.

How a frame is called silent (`silence_threshold_db`): relative to the signal itself, so
that it works whatever the recording level. The noise floor is a low percentile of the
frame energies and the speech level a high one; a frame is silent when its energy is
below min(floor + 10 dB, speech level - 35 dB), or below -80 dBFS whatever the signal
(digital silence). The min() keeps speech out: in a recording with few pauses the low
percentile is quiet speech, and 10 dB above it would be speech too; in stationary
noise (music, babble) the floor is the level itself and nothing is silent.

How a chunk is cut: the next cut lies between `min_seconds` and `max_seconds` after the
chunk start (and leaves at least `min_seconds` for the rest, where it can). Among the
silent runs of at least `min_silence_ms` that overlap that window, the longest overlap
wins (ties: the latest), and the cut goes in its middle. With no such run, the cut is
forced at the quietest point of the window (energy smoothed over 50 ms; ties: the latest).
"""

from __future__ import annotations

import math

import numpy as np

ABSOLUTE_SILENCE_DB = -80.0  # frames quieter than this (dBFS, mean square) are silent
FLOOR_PERCENTILE = 10.0  # the noise floor: this percentile of the frame energies
SPEECH_PERCENTILE = 99.0  # the speech level (robust to a few clicks)
FLOOR_MARGIN_DB = 10.0  # silent: below floor + this...
SPEECH_DROP_DB = 35.0  # ...and below speech level - this
FORCED_SMOOTH_MS = 50.0  # energy smoothing for forced cuts


def frame_energies_db(wave: np.ndarray, sample_rate: int, frame_ms: float = 10.0) -> np.ndarray:
    """Log energy (dBFS of the mean square) of consecutive non-overlapping frames [F].

    Frames are `frame_ms` long (rounded to samples); the last one may be shorter.
    """
    wave = np.asarray(wave)
    hop = max(1, int(round(sample_rate * frame_ms / 1000.0)))
    n = len(wave)
    full = n // hop
    energy = np.empty(full + (1 if n % hop else 0), dtype=np.float64)
    if full:
        frames = wave[: full * hop].reshape(full, hop)
        energy[:full] = np.einsum("ij,ij->i", frames, frames)  # no copy of the wave
        energy[:full] /= hop
    if n % hop:
        rest = np.asarray(wave[full * hop :], dtype=np.float64)
        energy[full] = float(np.dot(rest, rest)) / len(rest)
    return 10.0 * np.log10(energy + 1e-12)


def silence_threshold_db(energy_db: np.ndarray) -> float:
    """The energy (dB) below which a frame is silent, from the frame energies [F]."""
    if len(energy_db) == 0:
        return ABSOLUTE_SILENCE_DB
    floor, speech = np.percentile(energy_db, [FLOOR_PERCENTILE, SPEECH_PERCENTILE])
    return float(max(min(floor + FLOOR_MARGIN_DB, speech - SPEECH_DROP_DB), ABSOLUTE_SILENCE_DB))


def silent_runs(silent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) frame indices of the runs of True in `silent` [F]."""
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def split_on_silence(
    wave: np.ndarray,
    sample_rate: int,
    max_seconds: float = 20.0,
    min_seconds: float = 1.0,
    frame_ms: float = 10.0,
    min_silence_ms: float = 200.0,
) -> list[tuple[int, int]]:
    """Sample ranges [start, end) that cover `wave` [S], cut inside silences.

    wave: mono samples (any float dtype; e.g. the 16 kHz output of `load_audio`).
    sample_rate: samples per second of `wave`.
    max_seconds: no chunk is longer than this (a hard limit).
    min_seconds: a cut is never closer than this to the previous one; only the last chunk
        can be shorter (when the whole wave or its end is).
    frame_ms: analysis frame length (energy is computed per frame; cuts are placed to
        about one frame).
    min_silence_ms: a silent run must last this long to be a cut point; without one in
        the window, the cut is forced at the quietest point instead.

    The ranges are in order and contiguous: the first starts at 0, each starts where the
    previous ends, the last ends at len(wave). A wave no longer than `max_seconds` is one
    chunk; an empty wave gives no chunks. See the module docstring for the details.
    """
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise ValueError(f"wave must be mono [S], got shape {wave.shape}")
    if wave.dtype.kind != "f":  # integer PCM: squares would overflow
        wave = wave.astype(np.float32)
    n = len(wave)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not 0 <= min_seconds < max_seconds:
        raise ValueError(f"need 0 <= min_seconds < max_seconds, got {min_seconds}, {max_seconds}")
    if frame_ms <= 0:
        raise ValueError(f"frame_ms must be positive, got {frame_ms}")
    max_len = int(math.floor(max_seconds * sample_rate))
    if max_len < 1:
        raise ValueError(f"max_seconds={max_seconds} is shorter than one sample")
    min_len = int(math.ceil(min_seconds * sample_rate))
    if n == 0:
        return []
    if n <= max_len:
        return [(0, n)]

    hop = max(1, int(round(sample_rate * frame_ms / 1000.0)))
    energy = frame_energies_db(wave, sample_rate, frame_ms)
    silent = energy < silence_threshold_db(energy)
    run_start, run_end = silent_runs(silent)
    min_run = max(1, int(math.ceil(min_silence_ms / frame_ms - 1e-9)))
    keep = run_end - run_start >= min_run
    run_start, run_end = run_start[keep], run_end[keep]
    # Forced cuts: quietest point of the energy smoothed over a few frames.
    width = max(1, int(round(FORCED_SMOOTH_MS / frame_ms)))
    smooth = np.convolve(energy, np.ones(width) / width, mode="same") if width > 1 else energy

    cuts = [0]
    start = 0
    while n - start > max_len:
        lo = start + min(max(min_len, 1), max_len)  # cut in [lo, hi] (sample indices)
        hi = start + max_len
        if n - min_len >= lo:  # leave at least min_len for the rest, where possible
            hi = min(hi, n - min_len)
        # Whole frames inside [lo, hi]: frame f covers [f * hop, (f + 1) * hop).
        f_lo = -(-lo // hop)
        f_hi = hi // hop  # exclusive
        cut = None
        if f_hi > f_lo and len(run_start):
            i0 = np.searchsorted(run_end, f_lo, side="right")
            i1 = np.searchsorted(run_start, f_hi, side="left")
            if i1 > i0:
                s = np.maximum(run_start[i0:i1], f_lo)
                e = np.minimum(run_end[i0:i1], f_hi)
                overlap = e - s
                best = len(overlap) - 1 - int(np.argmax(overlap[::-1]))  # longest, latest
                cut = (int(s[best]) + int(e[best])) * hop // 2
        if cut is None:
            if f_hi > f_lo:
                window = smooth[f_lo:f_hi]
                f = f_lo + len(window) - 1 - int(np.argmin(window[::-1]))  # quietest, latest
                cut = f * hop + hop // 2
            else:  # window narrower than a frame
                cut = hi
        cut = min(max(cut, lo), hi)
        cuts.append(cut)
        start = cut
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:]))


def segment_at_pauses(
    wave: np.ndarray,
    sample_rate: int,
    min_pause_ms: float = 300.0,
    max_seconds: float = 20.0,
    min_seconds: float = 0.5,
    frame_ms: float = 10.0,
) -> list[tuple[int, int]]:
    """Sample ranges [start, end) covering `wave` [S], cut in the middle of every pause.

    A pause is a silent run (as in split_on_silence) of at least `min_pause_ms`. A piece
    shorter than `min_seconds` joins the next one (the last joins the previous) while the
    two fit in `max_seconds`; a piece longer than `max_seconds` is cut by split_on_silence.
    min_pause_ms <= 0 means split_on_silence alone.

    Why: the acoustic model learnt from single sentences; decoding a 20 s stretch that holds
    several sentences and the pauses between them raised the word error rate by a tenth
    (benchmarks/long_audio.py), while each piece between pauses is decoded like a sentence.
    """
    wave = np.asarray(wave)
    n = len(wave)
    if n == 0:
        return []
    if min_pause_ms <= 0:
        return split_on_silence(wave, sample_rate, max_seconds=max_seconds, frame_ms=frame_ms)
    hop = max(1, int(round(sample_rate * frame_ms / 1000.0)))
    energy = frame_energies_db(wave.astype(np.float32, copy=False), sample_rate, frame_ms)
    run_start, run_end = silent_runs(energy < silence_threshold_db(energy))
    keep = run_end - run_start >= max(1, int(math.ceil(min_pause_ms / frame_ms - 1e-9)))
    cuts = [0] + [min(n, int(s + e) * hop // 2) for s, e in zip(run_start[keep], run_end[keep])] + [n]
    cuts = sorted(set(cuts))
    pieces = [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    min_len, max_len = int(min_seconds * sample_rate), int(max_seconds * sample_rate)
    merged: list[tuple[int, int]] = []
    for a, b in pieces:
        if merged and (merged[-1][1] - merged[-1][0] < min_len) and b - merged[-1][0] <= max_len:
            merged[-1] = (merged[-1][0], b)  # the previous piece was too short: grow it
        else:
            merged.append((a, b))
    if len(merged) > 1 and merged[-1][1] - merged[-1][0] < min_len and merged[-1][1] - merged[-2][0] <= max_len:
        merged[-2:] = [(merged[-2][0], merged[-1][1])]
    out: list[tuple[int, int]] = []
    for a, b in merged:
        if b - a > max_len:
            out.extend((a + s, a + e) for s, e in split_on_silence(wave[a:b], sample_rate, max_seconds=max_seconds,
                                                                   frame_ms=frame_ms))
        else:
            out.append((a, b))
    return out
