"""A model directory loaded for decoding waveforms: model, tokens, features and one decoder.

    rec = load_recognizer("recipes/synth_en/exp/bilstm")  # an experiment (the demo's) or an export
                                                       # decoder: the directory's decoder.yaml, else greedy
    out = rec.decode_waves([wave_16k], ["a"])        # asr.decoding.loop.DecodedBatch
    words = rec.timed_words(out.hyps["best"][0], out.emission(0), wave_16k)

Loading reads config.yaml, tokens.txt and model.pt with `torch.load(weights_only=True)`:
tensors and plain containers only, never arbitrary pickled objects. Files of long audio go
through asr.transcribe.pipeline; asr.transcribe.api adds `transcribe()` on top.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from asr.data.features import FbankConfig, compute_fbank
from asr.data.resample import resample
from asr.data.tokens import TokenTable
from asr.decoding.base import Decoder, DecoderConfig
from asr.decoding.registry import build_decoder, decoder_entry
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.loop import DecodedBatch, batch_of, decode_batch
from asr.device import pick_device
from asr.nn.model import BiLSTMCTC, ModelConfig, output_frame_seconds
from asr.nn.modeldir import ModelDir
from asr.transcribe.timing import refine_with_energy, timed_words, word_timings
from asr.transcribe.transcript import Word

log = logging.getLogger(__name__)

BEST = "best"  # the name of the recognizer's decoder in DecodedBatch.hyps


@dataclass
class Recognizer:
    model: BiLSTMCTC
    tokens: TokenTable
    model_cfg: ModelConfig
    fbank_cfg: FbankConfig
    device: torch.device
    decoder_cfg: DecoderConfig = field(default_factory=DecoderConfig)  # greedy unless told otherwise
    model_dir: Path | None = None  # relative LM/lexicon paths in decoder_cfg resolve against it
    _decoder: Decoder | None = field(default=None, repr=False)

    @property
    def decoder(self) -> Decoder:
        """Built on first use (an LM decoder reads its ARPA and lexicon then, and may raise LMError)."""
        if self._decoder is None:
            self._decoder = build_decoder(self.decoder_cfg, self.tokens, self.model_dir)
        return self._decoder

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame of the model."""
        return output_frame_seconds(self.fbank_cfg.frame_shift_ms, self.model_cfg.subsampling, self.model_cfg.upsample)

    def use_decoder(self, decoder: str | DecoderConfig) -> None:
        """Switch decoders: a kind ('greedy', 'beam', 'lm' with the directory's defaults) or a DecoderConfig."""
        if isinstance(decoder, str):
            decoder = decoder_config(self.model_dir, kind=decoder) if self.model_dir else DecoderConfig(kind=decoder)
        self.decoder_cfg = decoder
        self._decoder = None

    def decode_waves(self, waves: list[np.ndarray], ids: list[str]) -> DecodedBatch:
        """Mono waveforms [S_i] at fbank_cfg.sample_rate, as one batch, through asr.decoding.loop with
        self.decoder (hypotheses under BEST); a wave shorter than one analysis window decodes to nothing."""
        batch = batch_of(ids, [compute_fbank(w, self.fbank_cfg) for w in waves])
        return decode_batch(self.model, batch, {BEST: self.decoder}, self.device)

    def timed_words(self, hyp: Hypothesis, emission: torch.Tensor, wave: np.ndarray, offset: float = 0.0) -> list[Word]:
        """Words of `hyp` with times (seconds + offset) and confidences: asr.transcribe.timing.timed_words."""
        return timed_words(hyp, emission, self.tokens, self.frame_seconds, wave, self.fbank_cfg.sample_rate, offset)

    def align(self, wave: np.ndarray, text: str, sample_rate: int | None = None) -> list[Word]:
        """Forced alignment of a known transcript: timed words of `text` in a mono waveform [S]."""
        if sample_rate is not None:
            wave = resample(np.asarray(wave, dtype=np.float32), sample_rate, self.fbank_cfg.sample_rate)
        out = decode_batch(self.model, batch_of(["align"], [compute_fbank(wave, self.fbank_cfg)]), {}, self.device)
        words = word_timings(out.emission(0), self.tokens.encode(text), self.tokens, self.frame_seconds)
        return refine_with_energy(words, wave, self.fbank_cfg.sample_rate)


def decoder_config(
    model_dir: str | Path,
    kind: str | None = None,
    lm: str | Path | None = None,
    lexicon: str | Path | None = None,
    no_lexicon: bool = False,
    **overrides,
) -> DecoderConfig:
    """The model directory's decoder.yaml (else the DecoderConfig defaults), changed by what is given.

    `lm` or `lexicon` without `kind` mean kind='lm'; `no_lexicon` decodes lexicon-free.
    `overrides` set other DecoderConfig fields (None values are ignored). Given paths are
    taken relative to the current directory; those in decoder.yaml to the model directory.
    """
    cfg = ModelDir(model_dir).read_decoder_config() or DecoderConfig()
    if kind is None and (lm or lexicon or no_lexicon):
        kind = "lm"
    if kind is not None:
        cfg = replace(cfg, kind=decoder_entry(kind).name)
    if lm:
        cfg = replace(cfg, lm=str(Path(lm).resolve()))
    if lexicon:
        cfg = replace(cfg, lexicon=str(Path(lexicon).resolve()))
    if no_lexicon:
        cfg = replace(cfg, lexicon=None)
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def load_recognizer(model_dir: str | Path, device: str | None = "auto", decoder: DecoderConfig | None = None,
                    cls: type[Recognizer] = Recognizer) -> Recognizer:
    """Load config.yaml, tokens.txt and model.pt from a model directory (weights_only).

    `decoder` None: the directory's decoder.yaml when there is one (written by the recipe's
    LM tuning stage), else greedy. Raises MissingInputError naming a missing file.
    """
    md = ModelDir(model_dir)
    model_cfg, fbank_cfg = md.read_config()
    tokens = md.read_tokens()
    dev = pick_device(device)
    model = md.build_model(dev)
    if decoder is None:
        decoder = md.read_decoder_config() or DecoderConfig()
    return cls(model, tokens, model_cfg, fbank_cfg, dev, decoder, md.path)
