"""Audio loading: any format soundfile reads, downmixed to mono and resampled.

Samples are float32 in [-1, 1]; lengths are in samples unless a name says seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF


class AudioError(RuntimeError):
    """An audio file could not be used; the message names the file (and utterance)."""


def _where(path: str | Path, utt: str | None) -> str:
    return f"utt '{utt}': {path}" if utt else str(path)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono waveform [S] from `orig_sr` to `target_sr` (band-limited sinc)."""
    if orig_sr == target_sr:
        return wave
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), orig_sr, target_sr)
    return out.numpy()


def load_audio(path: str | Path, target_sr: int = 16000, utt: str | None = None) -> np.ndarray:
    """Read `path` and return mono float32 samples [S] at `target_sr`.

    Raises AudioError naming the file (and `utt`, when given) if the file is missing,
    is not a regular file, cannot be decoded, is empty, or holds NaN/Inf samples.
    """
    p = Path(path)
    where = _where(path, utt)
    if not p.exists():
        raise AudioError(f"{where}: file not found")
    if not p.is_file():
        raise AudioError(f"{where}: not a regular file")
    if p.stat().st_size == 0:
        raise AudioError(f"{where}: file is empty (0 bytes)")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioError(f"{where}: cannot decode audio ({msg})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{where}: audio has no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{where}: audio contains NaN or Inf samples")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(np.ascontiguousarray(wave, dtype=np.float32), sr, target_sr)


def write_audio(path: str | Path, wave: np.ndarray, sample_rate: int) -> None:
    """Write mono float samples [S] as 16-bit PCM; the format follows the extension."""
    sf.write(str(path), np.clip(wave, -1.0, 1.0), sample_rate, subtype="PCM_16")
