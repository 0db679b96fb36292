"""What the transcription pipeline takes and gives besides transcripts: its options, one AudioSource per
input, one TranscribeFailure per failure. No torch here: `asr --help` reads the option defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class TranscribeOptions:
    timestamps: bool = True  # word start/end/confidence by forced alignment
    batch_size: int = 32  # chunks per model batch
    max_batch_frames: int = 100_000  # padded feature frames per model batch (~17 min of audio)
    max_chunk_seconds: float = 20.0  # longest piece the model sees at once
    window_seconds: float = 300.0  # a long file is read and split this much at a time
    pool_seconds: float = 600.0  # audio gathered (across files) before sorting into batches
    pause_seconds: float = 0.3  # cut the audio at every pause this long (0 = only where max_chunk_seconds needs)


@dataclass
class AudioSource:
    """One input: a file, or a waveform in memory."""

    id: str
    source: str  # what messages and the text format call it: the path as given, or "<array N>"
    path: Path | None = None
    wave: np.ndarray | None = None  # [S] or [S, C] samples, with sample_rate
    sample_rate: int = 16000
    command: str | None = None  # a wav.scp pipe: a shell command whose output is an audio file

    @classmethod
    def from_path(cls, path: str | Path, id: str | None = None) -> "AudioSource":
        p = Path(path)
        return cls(id or utt_id_for(p), str(path), path=p)

    @classmethod
    def from_array(cls, wave: np.ndarray, sample_rate: int, id: str) -> "AudioSource":
        return cls(id, f"<array {id}>", wave=np.asarray(wave), sample_rate=int(sample_rate))


@dataclass
class TranscribeFailure:
    """An input that could not be transcribed (a record in the results, not an exception)."""

    id: str
    source: str
    message: str  # one line naming the input and the reason


def utt_id_for(path: Path) -> str:
    """A Kaldi-safe id from a file name: its stem with whitespace replaced by '_'."""
    return "_".join(path.stem.split()) or "_"
