"""A spoken-digits model trained in seconds, for tests that need a model that really recognises.

espeak-ng says each digit word once per (voice, rate); utterances are 2-4 digits separated by
silences of known length, so the true start and end of every word is known to the sample.
`train_digit_model` trains a 2x96 BiLSTM-CTC on 240 such utterances (about 20 s on one CPU
thread) until it gets them right, and writes a model directory like a recipe's exp/<tag>.
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
        from asr.data.audio import resample
        from data_prep.tts_engines import Voice, synth_espeak

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


def train_digit_model(out_dir: Path, seed: int = 0, max_epochs: int = 40) -> Path:
    """Train the digits model and write out_dir/{config.yaml, tokens.txt, cmvn.stats, model.pt}."""
    from asr.data.batching import pad_features
    from asr.nn.checkpoint import save_atomic, write_model_config
    from asr.decoding.greedy import greedy_decode
    from asr.data.features import CmvnStats, FbankConfig, compute_fbank, write_cmvn
    from asr.nn.model import BiLSTMCTC, ModelConfig
    from asr.data.tokens import build_token_table, write_tokens

    rng = np.random.default_rng(seed)
    speaker = DigitSpeaker()
    data = [speaker.random(rng) for _ in range(240)]
    tokens = build_token_table(WORDS)
    feats = [compute_fbank(d.wave) for d in data]
    cmvn = CmvnStats.zeros(80)
    for f in feats:
        cmvn.accumulate(f)
    cfg = ModelConfig(hidden=96, layers=2, stack=3, dropout=0.0, vocab_size=len(tokens))
    torch.manual_seed(seed)
    model = BiLSTMCTC(cfg)
    mean, istd = cmvn.mean_istd()
    model.cmvn.mean.copy_(torch.as_tensor(mean))
    model.cmvn.istd.copy_(torch.as_tensor(istd))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    targets = [torch.tensor(tokens.encode(d.text)) for d in data]
    order = sorted(range(len(data)), key=lambda i: feats[i].shape[0])
    batches = [order[i : i + 16] for i in range(0, len(order), 16)]
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(max_epochs):
        model.train()
        for bi in torch.randperm(len(batches), generator=gen).tolist():
            b = batches[bi]
            x, lengths = pad_features([feats[i] for i in b])
            log_probs, out_lengths = model(x, lengths)
            tl = torch.tensor([len(targets[i]) for i in b])
            loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), torch.cat([targets[i] for i in b]),
                                                out_lengths, tl, zero_infinity=True, reduction="sum") / tl.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        model.eval()
        with torch.no_grad():
            x, lengths = pad_features(feats[:48])
            hyps = greedy_decode(*model(x, lengths), tokens)
        if epoch >= 8 and all(h.text == d.text for h, d in zip(hyps, data[:48])):
            break
    out_dir.mkdir(parents=True, exist_ok=True)
    write_tokens(out_dir / "tokens.txt", tokens)
    write_model_config(out_dir, cfg, FbankConfig())
    write_cmvn(out_dir / "cmvn.stats", cmvn)
    save_atomic(model.state_dict(), out_dir / "model.pt")
    return out_dir
