"""Held-out conditions of the synthetic corpus: copies of its test set in a reverberant room, over a
telephone line and in 10 dB noise, made deterministically (asr/data/augment.py does the signal work).

    write_condition_sets(["test_reverb", "test_phone", "test_noise10"], seed, corpus/, data/)
"""

from __future__ import annotations

import logging
import multiprocessing
import zlib
from pathlib import Path

import numpy as np

from asr.data.audio import load_audio, write_audio
from asr.data.augment import (
    active_power,
    add_noise,
    coloured_noise,
    reverberate,
    room_impulse_response,
    telephone_channel,
)
from asr.data.datadir import DataDir, read_datadir, write_datadir
from asr.fileio import atomic_output

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# Held-out conditions, each a copy of the test set (apply_condition). Fixed here, not in
# SynthConfig, so that every configuration is scored on the same conditions.
CONDITION_SETS = ("test_reverb", "test_phone", "test_noise10")

# 35 voices over 5 engines (the fast ones; RHVoice, ~15x real time per call, only two).
# espeak variants are paired with language files (never `en-gb+X`, which drops the
# variant); tests check that each variant changes the audio. The mb-* voices are MBROLA
# diphone databases read through espeak-ng; festival reads the same databases (*_mbrola)
# with its own front end and intonation.


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # nj processes already fill the cores; the resampler is 10x slower with 2


def apply_condition(name: str, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One test utterance [S] under condition `name` (CONDITION_SETS); [S] with its peak <= 0.99.

    test_reverb: a random room with RT60 0.3-0.9 s. test_phone: 300-3400 Hz at 8 kHz with
    G.711 mu-law or A-law (half each), no external program. test_noise10: pink noise at
    10 dB SNR against the active speech power.
    """
    if name == "test_reverb":
        out = reverberate(wave, room_impulse_response(rng.uniform(0.3, 0.9), SAMPLE_RATE, rng))
    elif name == "test_phone":
        out = telephone_channel(wave, SAMPLE_RATE, law=("mulaw", "alaw")[int(rng.integers(2))])
    elif name == "test_noise10":
        noise = coloured_noise(len(wave), "pink", rng, SAMPLE_RATE)
        out = add_noise(wave, noise, 10.0, active_power(wave, SAMPLE_RATE))
    else:
        raise ValueError(f"unknown condition set '{name}' (known: {', '.join(CONDITION_SETS)})")
    peak = float(np.abs(out).max())
    return (out * (0.99 / peak) if peak > 0.99 else out).astype(np.float32)


def _condition_job(job: tuple[str, str, str, str, int]) -> None:
    """Write one test utterance `utt` (audio `src`) under condition `name` to `path`."""
    name, utt, src, path, seed = job
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(utt.encode())])
    wave = apply_condition(name, load_audio(src, SAMPLE_RATE, utt=utt), rng)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(Path(path)) as tmp:
        write_audio(tmp, wave, SAMPLE_RATE)


def write_condition_sets(names: list[str], seed: int, audio_dir: Path, data_root: Path, nj: int = 1) -> None:
    """Copies of data_root/test under each condition of `names`: audio in audio_dir/<name>/<spk>/,
    Kaldi data dirs data_root/<name> with the test set's utterance ids, texts and speakers.

    Each utterance's RNG is seeded by (seed, condition, utterance id): a rerun makes the
    same files, for any nj, and skips those that exist.
    """
    test = read_datadir(data_root / "test")
    unknown = [n for n in names if n not in CONDITION_SETS]
    if unknown:
        raise ValueError(f"unknown condition set '{unknown[0]}' (known: {', '.join(CONDITION_SETS)})")
    sets = {name: DataDir() for name in names}
    jobs = []
    for name, data in sets.items():
        for utt, src in test.wav_scp.items():
            path = str((audio_dir / name / test.utt2spk[utt] / f"{utt}.flac").resolve())
            if not Path(path).exists():
                jobs.append((name, utt, src, path, seed))
            data.wav_scp[utt], data.text[utt], data.utt2spk[utt] = path, test.text[utt], test.utt2spk[utt]
    with multiprocessing.Pool(max(nj, 1), initializer=_one_thread) as pool:  # one torch thread each
        for _ in pool.imap_unordered(_condition_job, jobs, chunksize=8):
            pass
    for name, data in sets.items():
        write_datadir(data_root / name, data)
        log.info("wrote %s: %d utterances (test under condition %s)", data_root / name, len(data.wav_scp), name)
