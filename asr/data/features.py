"""Kaldi-compatible log-mel filterbank features and global CMVN.

Shapes: a waveform is [S] float32 samples in [-1, 1]; features are [T, D] with
T = 1 + (S - frame_length) // frame_shift (Kaldi's snip_edges=True) and D = num_mel_bins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi

from asr.fileio import atomic_write_text

log = logging.getLogger(__name__)

# Kaldi reads 16-bit PCM as integers; we scale float samples the same way so our
# log energies (and the energy floor for digital silence) match Kaldi's.
INT16_SCALE = 32768.0


@dataclass
class FbankConfig:
    sample_rate: int = 16000  # Hz; audio is resampled to this before analysis
    num_mel_bins: int = 80  # mel filterbank channels (feature dimension D)
    frame_length_ms: float = 25.0  # analysis window length
    frame_shift_ms: float = 10.0  # hop between frames
    dither: float = 0.0  # Kaldi dither amount; 0 makes features deterministic
    low_freq: float = 20.0  # Hz, lowest mel bin edge
    high_freq: float = 0.0  # Hz; <= 0 means Nyquist + high_freq (Kaldi convention)


def compute_fbank(wave: np.ndarray | torch.Tensor, cfg: FbankConfig = FbankConfig()) -> torch.Tensor:
    """Log-mel filterbank of a mono waveform [S] at cfg.sample_rate -> [T, num_mel_bins] float32.

    Uses Kaldi's defaults (povey window, pre-emphasis 0.97, DC removal, snip_edges) through
    torchaudio.compliance.kaldi.fbank. A waveform shorter than one window gives T = 0.
    """
    x = torch.as_tensor(wave, dtype=torch.float32).reshape(1, -1) * INT16_SCALE
    window = int(cfg.sample_rate * cfg.frame_length_ms / 1000)
    if x.shape[1] < window:
        return torch.zeros(0, cfg.num_mel_bins)
    return kaldi.fbank(
        x,
        sample_frequency=cfg.sample_rate,
        num_mel_bins=cfg.num_mel_bins,
        frame_length=cfg.frame_length_ms,
        frame_shift=cfg.frame_shift_ms,
        dither=cfg.dither,
        low_freq=cfg.low_freq,
        high_freq=cfg.high_freq,
        energy_floor=0.0,
    )


@dataclass
class CmvnStats:
    """Accumulated statistics for global mean/variance normalisation over D dims."""

    sum: np.ndarray  # [D] float64
    sum_sq: np.ndarray  # [D] float64
    count: int  # frames

    @classmethod
    def zeros(cls, dim: int) -> "CmvnStats":
        return cls(np.zeros(dim), np.zeros(dim), 0)

    def accumulate(self, feats: np.ndarray | torch.Tensor) -> None:
        """Add features [T, D]."""
        f = np.asarray(feats, dtype=np.float64)
        self.sum += f.sum(axis=0)
        self.sum_sq += (f * f).sum(axis=0)
        self.count += f.shape[0]

    def mean_istd(self, floor: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
        """Return (mean [D], 1/std [D]) as float32."""
        if self.count == 0:
            raise ValueError("CMVN statistics are empty: no frames were accumulated")
        mean = self.sum / self.count
        var = np.maximum(self.sum_sq / self.count - mean * mean, floor)
        return mean.astype(np.float32), (1.0 / np.sqrt(var)).astype(np.float32)

    def to_kaldi_matrix(self) -> np.ndarray:
        """Kaldi's global CMVN stats layout: [2, D+1]; row 0 = sums + count, row 1 = sums of squares."""
        mat = np.zeros((2, self.sum.shape[0] + 1))
        mat[0, :-1], mat[0, -1] = self.sum, self.count
        mat[1, :-1] = self.sum_sq
        return mat

    @classmethod
    def from_kaldi_matrix(cls, mat: np.ndarray) -> "CmvnStats":
        return cls(mat[0, :-1].astype(np.float64), mat[1, :-1].astype(np.float64), int(round(mat[0, -1])))


def write_cmvn(path: str | Path, stats: CmvnStats) -> None:
    """Write stats as a Kaldi matrix text file (readable by `copy-matrix` and kaldiio)."""
    mat = stats.to_kaldi_matrix()
    rows = ["  " + " ".join(repr(float(v)) for v in row) for row in mat]
    atomic_write_text(path, " [\n" + "\n".join(rows) + " ]\n")


def read_cmvn(path: str | Path) -> CmvnStats:
    """Read stats written by `write_cmvn` (Kaldi text matrix)."""
    text = Path(path).read_text().replace("[", " ").replace("]", " ")
    rows = [list(map(float, line.split())) for line in text.splitlines() if line.strip()]
    if len(rows) != 2 or len(rows[0]) != len(rows[1]):
        raise ValueError(f"{path}: not a 2-row CMVN stats matrix")
    return CmvnStats.from_kaldi_matrix(np.array(rows))
