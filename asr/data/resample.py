"""Band-limited resampling of whole waveforms and of streams read block by block (the same filter).

    resample(wave [S], 44100, 16000) -> [S']            torchaudio's sinc interpolation (Hann window)
    r = StreamResampler(44100, 16000); r.push(block) ... r.flush()      seamless over block edges
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio.functional as AF

# torchaudio.functional.resample defaults (used by `resample` and the streaming resampler).
_LOWPASS_FILTER_WIDTH = 6
_ROLLOFF = 0.99
# Largest sinc kernel (new x (orig + 2 * width) float32 values, after dividing both rates
# by their gcd) that we let torchaudio build: 32 M values = 128 MB. Coprime odd rates
# (e.g. 44101 -> 16000 would need 2.8 GB) are refused with a clear message instead.
_MAX_KERNEL_VALUES = 1 << 25


def _resample_plan(orig_sr: int, target_sr: int) -> tuple[int, int, int]:
    """(orig, new, width): the rates divided by their gcd, and the sinc half-width in input
    samples that torchaudio's resampler uses (output j = k * new + i only reads input
    samples [k * orig - width, k * orig + orig + width))."""
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive (got {orig_sr} -> {target_sr})")
    g = math.gcd(int(orig_sr), int(target_sr))
    orig, new = int(orig_sr) // g, int(target_sr) // g
    width = math.ceil(_LOWPASS_FILTER_WIDTH * orig / (min(orig, new) * _ROLLOFF))
    if new * (orig + 2 * width) > _MAX_KERNEL_VALUES:
        raise ValueError(
            f"cannot resample {orig_sr} Hz to {target_sr} Hz: the rates share only a factor "
            f"of {g}, and the exact resampling kernel would need "
            f"{new * (orig + 2 * width) * 4 / 2**20:.0f} MB"
        )
    return orig, new, width


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono waveform [S] from `orig_sr` to `target_sr` (band-limited sinc)."""
    if orig_sr == target_sr:
        return wave
    _resample_plan(orig_sr, target_sr)  # refuse kernels that would not fit in memory
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), orig_sr, target_sr)
    return out.numpy()


class StreamResampler:
    """Resample a mono signal given piece by piece, with the same output as `resample`
    on the whole signal (up to float rounding), holding one piece plus a little context.

    torchaudio's sinc resampler computes output sample k * new + i (rates divided by their
    gcd) from input samples [k * orig - width, k * orig + orig + width). Each call here
    resamples a segment [a, b) of the input with a, b multiples of `orig`, extended by
    `left` (a multiple of `orig`, >= width) samples before and `right` (>= width) after,
    and keeps only the outputs of [a, b): those see exactly the input samples (or, at the
    start and end of the signal, the zero padding) that whole-signal resampling sees.
    """

    def __init__(self, orig_sr: int, target_sr: int):
        self.orig_sr, self.target_sr = int(orig_sr), int(target_sr)
        self.identity = self.orig_sr == self.target_sr
        if not self.identity:
            self.orig, self.new, width = _resample_plan(self.orig_sr, self.target_sr)
            margin = 2 * width + self.orig  # generous: exactness needs only `width`
            self.left = -(-margin // self.orig) * self.orig
            self.right = margin
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # input index of _buf[0]
        self._pos = 0  # input index where the next output segment starts (multiple of orig)
        self._emitted = 0  # output samples returned so far
        self._flushed = False

    def _segment(self, end: int, final: bool) -> np.ndarray:
        """Outputs for input [self._pos, end) (end a multiple of orig unless final)."""
        lo = max(self._pos - self.left, 0)  # pos and left are multiples of orig: so is lo
        hi = self._buf_start + len(self._buf) if final else end + self.right
        chunk = self._buf[lo - self._buf_start : hi - self._buf_start]
        out = resample(chunk, self.orig_sr, self.target_sr)
        skip = (self._pos - lo) // self.orig * self.new
        if final:
            total_in = self._buf_start + len(self._buf)
            keep = -(-self.new * total_in // self.orig) - self._emitted
        else:
            keep = (end - self._pos) // self.orig * self.new
        out = np.ascontiguousarray(out[skip : skip + keep], dtype=np.float32)
        self._emitted += len(out)
        self._pos = end
        return out

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add input samples [n]; return the output samples that are now final (maybe 0)."""
        if self._flushed:
            raise RuntimeError("push() after flush()")
        samples = np.asarray(samples, dtype=np.float32)
        if self.identity:
            self._emitted += len(samples)
            return samples
        self._buf = np.concatenate([self._buf, samples]) if len(self._buf) else samples.copy()
        available = self._buf_start + len(self._buf)
        end = (available - self.right) // self.orig * self.orig
        if end <= self._pos:
            return np.zeros(0, dtype=np.float32)
        out = self._segment(end, final=False)
        drop = max(self._pos - self.left, 0) - self._buf_start
        if drop > 0:  # keep only the left context of the next segment
            self._buf = self._buf[drop:].copy()
            self._buf_start += drop
        return out

    def flush(self) -> np.ndarray:
        """Signal the end of the input; return the remaining output samples."""
        if self._flushed:
            return np.zeros(0, dtype=np.float32)
        self._flushed = True
        if self.identity or self._buf_start + len(self._buf) == 0:
            return np.zeros(0, dtype=np.float32)
        out = self._segment(self._buf_start + len(self._buf), final=True)
        self._buf = np.zeros(0, dtype=np.float32)
        return out


# ----------------------------------------------------------------------------- checks
