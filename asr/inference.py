"""Load a self-contained model directory and transcribe audio.

    rec = load_model("exp/synth_en")
    rec.transcribe_file("a.wav").text
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from asr.audio import load_audio
from asr.batching import pad_features
from asr.checkpoint import load_state, read_model_config
from asr.decode import Hypothesis, greedy_decode
from asr.device import pick_device
from asr.features import FbankConfig, compute_fbank
from asr.model import BiLSTMCTC, ModelConfig
from asr.tokens import TokenTable, read_tokens

log = logging.getLogger(__name__)


@dataclass
class Recognizer:
    model: BiLSTMCTC
    tokens: TokenTable
    model_cfg: ModelConfig
    fbank_cfg: FbankConfig
    device: torch.device

    @torch.inference_mode()
    def transcribe_waves(self, waves: list[np.ndarray]) -> list[Hypothesis]:
        """Greedy-decode mono waveforms [S_i] at fbank_cfg.sample_rate (one batch)."""
        feats = [compute_fbank(w, self.fbank_cfg) for w in waves]
        empty = [i for i, f in enumerate(feats) if f.shape[0] == 0]
        nonempty = [f if f.shape[0] > 0 else torch.zeros(1, self.fbank_cfg.num_mel_bins) for f in feats]
        x, lengths = pad_features(nonempty)
        log_probs, out_lengths = self.model(x.to(self.device), lengths.to(self.device))
        hyps = greedy_decode(log_probs.float().cpu(), out_lengths.cpu(), self.tokens)
        for i in empty:  # shorter than one analysis window: nothing to recognise
            hyps[i] = Hypothesis("", [], 0.0, [])
        return hyps

    def transcribe_file(self, path: str | Path) -> Hypothesis:
        """Read any soundfile-readable file (resampled, downmixed) and decode it."""
        return self.transcribe_waves([load_audio(path, self.fbank_cfg.sample_rate)])[0]


def load_model(model_dir: str | Path, device: str | None = "auto") -> Recognizer:
    """Load config.yaml, tokens.txt and model.pt from a model directory (weights_only)."""
    model_dir = Path(model_dir)
    model_cfg, fbank_cfg = read_model_config(model_dir)
    tokens = read_tokens(model_dir / "tokens.txt")
    weights = model_dir / "model.pt"
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: no trained weights (has training finished?)")
    dev = pick_device(device)
    model = BiLSTMCTC(model_cfg)
    model.load_state_dict(load_state(weights))
    model.to(dev).eval()
    return Recognizer(model, tokens, model_cfg, fbank_cfg, dev)
