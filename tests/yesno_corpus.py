#!/usr/bin/env python3
"""A YESNO-shaped corpus: 60 files `waves_yesno/<l1>_..._<l8>.wav` (8 kHz, 16-bit mono), each
one voice saying eight words, *yes* or *no* as the labels in the name say, with pauses between
them and silence around them, as in OpenSLR 1 (which is Hebrew; here espeak-ng says English
"yes" and "no", one voice, with the speaking rate, pitch, loudness and pauses varied per word).

    .venv/bin/python tests/yesno_corpus.py DIR      # writes DIR/waves_yesno/ (about 6 MB, a few seconds)

The 60 label patterns are drawn without repetition from the 256 possible, with a fixed seed,
so every call writes the same corpus.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.data.resample import resample  # noqa: E402

SR = 8000
N_FILES = 60


def _say(word: str, speed: int, pitch: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(speed), "-p", str(pitch), "-w", str(out), word],
                       check=True, capture_output=True)
        wave, rate = sf.read(str(out), dtype="float32")
    wave = resample(wave, rate, SR)
    loud = np.nonzero(np.abs(wave) > 0.01)[0]
    return wave[max(0, loud[0] - SR // 50) : loud[-1] + SR // 50]


def write_yesno_corpus(root: str | Path, n_files: int = N_FILES, seed: int = 0) -> Path:
    """Write root/waves_yesno/*.wav (n_files, 8 words each); return root."""
    root = Path(root)
    out = root / "waves_yesno"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # a few takes of each word (rate, pitch), as one speaker's repetitions vary
    takes = {w: [_say(w, int(s), int(p)) for s, p in zip(rng.integers(140, 200, 6), rng.integers(35, 65, 6))]
             for w in ("yes", "no")}
    patterns = rng.choice(256, size=n_files, replace=False)
    for code in patterns:
        labels = [(int(code) >> (7 - k)) & 1 for k in range(8)]
        parts = [np.zeros(int(SR * rng.uniform(0.4, 1.0)), np.float32)]
        for lab in labels:
            take = takes["yes" if lab else "no"][rng.integers(6)]
            parts.append(take * rng.uniform(0.4, 0.9))
            parts.append(np.zeros(int(SR * rng.uniform(0.25, 0.7)), np.float32))
        parts.append(np.zeros(int(SR * rng.uniform(0.2, 0.8)), np.float32))
        wave = np.concatenate(parts)
        wave = wave + 0.003 * rng.standard_normal(len(wave)).astype(np.float32)  # room noise
        sf.write(str(out / ("_".join(map(str, labels)) + ".wav")), np.clip(wave, -1, 1), SR, subtype="PCM_16")
    (out / "README").write_text(f"{n_files} files of 8 words (yes/no) read by espeak-ng; YESNO-shaped test corpus\n")
    return root


if __name__ == "__main__":
    print(write_yesno_corpus(sys.argv[1] if len(sys.argv) > 1 else "yesno_corpus"))
