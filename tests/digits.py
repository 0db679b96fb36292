"""A spoken-digits model trained in seconds, for tests that need a model that really recognises.

espeak-ng says each digit word once per (voice, rate); utterances are 2-4 digits separated by
silences of known length, so the true start and end of every word is known to the sample.
`train_digit_model` trains a 2x96 BiLSTM-CTC on 240 such utterances with the recipe's own stages
(features, tokens, asr.nn.train) and returns the model directory (the recipe's exp/<tag>).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

WORDS = "zero one two three four five six seven eight nine".split()
VOICES = ("en-us", "en+m3", "en+f3", "en-gb-x-rp+f5")
RATE = 16000


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


@dataclass
class Spoken:
    wave: np.ndarray  # [S] float32 at 16 kHz
    text: str
    words: list[tuple[str, float, float]]  # (word, start s, end s): where the word's samples are


class DigitSpeaker:
    """Synthesises digit strings with known word boundaries (each word trimmed to its sound)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, float], np.ndarray] = {}

    def word(self, word: str, voice: str, rate: float) -> np.ndarray:
        from asr.data.resample import resample
        from data_prep.synth.engines import Voice, synth_espeak

        key = (word, voice, rate)
        if key not in self._cache:
            a, sr = synth_espeak(word, Voice("espeak", voice), rate, 1.0)
            a = resample(a, sr, RATE)
            loud = np.nonzero(np.abs(a) > 0.02 * np.abs(a).max())[0]
            self._cache[key] = a[loud[0] : loud[-1] + 1].astype(np.float32)
        return self._cache[key]

    def say(self, words: list[str], rng: np.random.Generator, voice: str | None = None,
            gaps: tuple[float, float] = (0.15, 0.5), noise: float = 3e-4) -> Spoken:
        voice = voice or VOICES[rng.integers(len(VOICES))]
        rate = float(rng.choice([0.85, 1.0, 1.2]))
        parts = [np.zeros(int(rng.uniform(0.1, 0.4) * RATE), np.float32)]
        t = len(parts[0])
        timed = []
        for w in words:
            a = self.word(w, voice, rate)
            parts.append(a)
            timed.append((w, t / RATE, (t + len(a)) / RATE))
            t += len(a)
            gap = np.zeros(int(rng.uniform(*gaps) * RATE), np.float32)
            parts.append(gap)
            t += len(gap)
        wave = np.concatenate(parts)
        wave = wave + noise * rng.standard_normal(len(wave)).astype(np.float32)
        return Spoken(wave, " ".join(words), timed)

    def random(self, rng: np.random.Generator, n_words: int | None = None, **kw) -> Spoken:
        n = n_words or int(rng.integers(2, 5))
        return self.say([str(w) for w in rng.choice(WORDS, n)], rng, **kw)


def train_digit_model(out_dir: Path, seed: int = 0, epochs: int = 16) -> Path:
    """Train the digits model with the toolkit's own stages (features, tokens, asr.nn.train) and
    return out_dir/exp, a model directory {config.yaml, tokens.txt, cmvn.stats, model.pt}.

    The 240 utterances are written as a Kaldi data dir (out_dir/data/train, the first 48 also as
    data/dev), exactly as a recipe would hand them to stages 1, 2 and 4.
    """
    from asr.data.audio import write_audio
    from asr.data.datadir import DataDir, write_datadir
    from asr.data.features import FbankConfig
    from asr.data.specaug import SpecAugConfig
    from asr.nn.model import ModelConfig
    from asr.nn.schedule import TrainConfig
    from asr.recipe.stages import TokenConfig, features_stage, tokens_stage, train_stage

    rng = np.random.default_rng(seed)
    speaker = DigitSpeaker()
    spoken = [speaker.random(rng) for _ in range(240)]
    wav_dir, data, exp = out_dir / "wav", out_dir / "data", out_dir / "exp"
    wav_dir.mkdir(parents=True, exist_ok=True)
    sets = {"train": DataDir(), "dev": DataDir()}
    for i, s in enumerate(spoken):
        utt = f"digits-{i:03d}"
        write_audio(wav_dir / f"{utt}.wav", s.wave, RATE)
        for name in ("train", "dev") if i < 48 else ("train",):
            sets[name].wav_scp[utt] = str(wav_dir / f"{utt}.wav")
            sets[name].text[utt] = s.text
            sets[name].utt2spk[utt] = "digits"
    for name, d in sets.items():
        write_datadir(data / name, d)
    features_stage(data, ["train", "dev"], FbankConfig(), nj=1)
    tokens_stage(data, TokenConfig(unit="char"))
    torch.manual_seed(seed)
    train_cfg = TrainConfig(epochs=epochs, max_frames=2400, lr=3e-3, warmup_steps=30, final_lr_ratio=0.1,
                            seed=seed, num_procs=1, average_last=1, specaug=SpecAugConfig(enabled=False))
    train_stage(data, exp, ModelConfig(hidden=96, layers=2, stack=3, dropout=0.0), FbankConfig(), train_cfg,
                torch.device("cpu"))
    return exp
