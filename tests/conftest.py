"""Shared fixtures: a tiny Kaldi data dir of synthetic audio and stored fake features.

Everything here is generated with numpy (no corpus, no network) and is small enough that
the whole test set runs in seconds on one CPU thread.
"""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

# The test machines share a couple of cores; one intra-op thread keeps tests fast and quiet.
torch.set_num_threads(1)

SAMPLE_RATE = 16000

# utt -> (speaker, seconds, transcript); ids are already in C-locale order.
UTTERANCES = {
    "spk1-001": ("spk1", 0.50, "hello world"),
    "spk1-002": ("spk1", 0.83, "a b"),
    "spk2-001": ("spk2", 1.00, "good morning"),
    "spk2-002": ("spk2", 0.62, "yes"),
}


def speech_like(seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A voiced-speech-like test signal [S] float32 in [-1, 1], never digitally silent.

    A harmonic series on a wobbling pitch (120-200 Hz), amplitude-modulated at a syllable
    rate, plus white noise so that no analysis frame is exactly zero.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = 160 + 40 * np.sin(2 * np.pi * (1.5 + rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + rng.random() * 6.28)
    wave = 0.12 * voiced * envelope + 0.02 * rng.standard_normal(n)
    return np.clip(wave, -1, 1).astype(np.float32)


def write_data_dir(root: Path) -> Path:
    """Write wavs under root/wav and a data dir root/data (wav.scp, text, utt2spk, spk2utt)."""
    wav_dir, data = root / "wav", root / "data"
    wav_dir.mkdir(parents=True)
    data.mkdir(parents=True)
    wav_lines, text_lines, spk_lines, spk2utt = [], [], [], {}
    for i, (utt, (spk, seconds, text)) in enumerate(sorted(UTTERANCES.items())):
        path = wav_dir / f"{utt}.wav"
        sf.write(str(path), speech_like(seconds, seed=i), SAMPLE_RATE, subtype="PCM_16")
        wav_lines.append(f"{utt} {path}")
        text_lines.append(f"{utt} {text}")
        spk_lines.append(f"{utt} {spk}")
        spk2utt.setdefault(spk, []).append(utt)
    (data / "wav.scp").write_text("\n".join(wav_lines) + "\n")
    (data / "text").write_text("\n".join(text_lines) + "\n")
    (data / "utt2spk").write_text("\n".join(spk_lines) + "\n")
    (data / "spk2utt").write_text("".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk2utt.items())))
    return data


def write_feature_dir(out_dir: Path, feats: dict[str, np.ndarray]) -> Path:
    """Store features {utt: [T, D]} as a Kaldi ark + feats.scp + utt2num_frames in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ark, scp = out_dir / "feats.ark", out_dir / "feats.scp"
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") as writer:
        for utt in sorted(feats):
            writer(utt, np.asarray(feats[utt], dtype=np.float32))
    (out_dir / "utt2num_frames").write_text("".join(f"{u} {feats[u].shape[0]}\n" for u in sorted(feats)))
    return out_dir


@pytest.fixture
def speech():
    """The speech_like(seconds, seed=0, sample_rate=16000) generator."""
    return speech_like


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A valid data dir of 4 short utterances (2 speakers) with absolute wav paths."""
    return write_data_dir(tmp_path)


@pytest.fixture
def make_feature_dir():
    """The write_feature_dir(out_dir, {utt: [T, D]}) helper."""
    return write_feature_dir


@pytest.fixture(scope="session")
def digit_model_dir(tmp_path_factory) -> Path:
    """A model directory of a spoken-digits model trained on espeak-ng speech (~20 s, once per session)."""
    from digits import have_espeak, train_digit_model

    if not have_espeak():
        pytest.skip("espeak-ng is not installed (tools/install_deps.sh installs it)")
    return train_digit_model(tmp_path_factory.mktemp("digits") / "model")


@pytest.fixture
def copy_digit_model(digit_model_dir):
    """copy_digit_model(dest) -> dest: a fresh experiment dir holding the digits model's inference files
    (config, tokens, CMVN, weights), for tests that decode into it without touching the shared one."""
    import shutil

    def copy(dest: Path) -> Path:
        dest.mkdir(parents=True)
        for f in ("config.yaml", "tokens.txt", "cmvn.stats", "model.pt"):
            shutil.copy(digit_model_dir / f, dest / f)
        return dest

    return copy


@pytest.fixture(scope="session")
def digit_speaker():
    """tests/digits.py's DigitSpeaker: digit strings with known word times."""
    from digits import DigitSpeaker

    return DigitSpeaker()
