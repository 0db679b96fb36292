"""Load a self-contained model directory and transcribe audio.

    import asr
    model = asr.load_model("exp/synth_en")           # decoder: the directory's decoder.yaml, else greedy
    [t] = model.transcribe("a.flac")                  # Transcript: text, words (start, end, confidence), score
    ts = model.transcribe([wave_48k, "b.wav"], sample_rate=48000, decoder="greedy", timestamps=False)
    words = model.align(wave_16k, "the known text")  # forced alignment of a given transcript

Loading reads config.yaml, tokens.txt and model.pt with `torch.load(weights_only=True)`:
tensors and plain containers only, never arbitrary pickled objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from asr.data.audio import resample
from asr.data.batching import pad_features
from asr.nn.checkpoint import load_state, read_model_config
from asr.decoding.greedy import Hypothesis
from asr.decoding.decoders import DECODER_KINDS, Decoder, DecoderConfig, DecoderError, build_decoder, read_decoder_config
from asr.device import pick_device
from asr.data.features import FbankConfig, compute_fbank
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.data.tokens import TokenTable, read_tokens
from asr.transcribe.transcript import Transcript, Word

log = logging.getLogger(__name__)


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

    @torch.inference_mode()
    def emissions(self, waves: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
        """Mono waveforms [S_i] at fbank_cfg.sample_rate, as one batch -> (log_probs [N, T, V] on
        the CPU, out_lengths [N], empty [N]); a wave shorter than one analysis window is `empty`."""
        feats = [compute_fbank(w, self.fbank_cfg) for w in waves]
        empty = [f.shape[0] == 0 for f in feats]
        x, lengths = pad_features([f if f.shape[0] else torch.zeros(1, self.fbank_cfg.num_mel_bins) for f in feats])
        log_probs, out_lengths = self.model(x.to(self.device), lengths.to(self.device))
        return log_probs.float().cpu(), out_lengths.cpu(), empty

    def transcribe_waves(self, waves: list[np.ndarray]) -> list[Hypothesis]:
        """Decode mono waveforms [S_i] at fbank_cfg.sample_rate (one batch) with self.decoder."""
        log_probs, out_lengths, empty = self.emissions(waves)
        hyps = self.decoder.decode(log_probs, out_lengths)
        return [Hypothesis("", [], 0.0, []) if e else h for h, e in zip(hyps, empty)]

    def transcribe(
        self,
        inputs,
        batch_size: int = 32,
        decoder: str | DecoderConfig | None = None,
        timestamps: bool = True,
        sample_rate: int | None = None,
        **options,
    ) -> list[Transcript]:
        """Transcribe files or waveforms of any length; one Transcript per input, in order.

        inputs: a path, a waveform [S] or [S, C] (give `sample_rate`), an (array, rate) pair,
        or a list of these. decoder: 'greedy', 'beam', 'lm' or a DecoderConfig, for this call
        only (default: the recognizer's, from decoder.yaml or load_model). timestamps: fill
        Transcript.words by forced alignment. Other keyword arguments set
        asr.transcribe.pipeline.TranscribeOptions fields (max_chunk_seconds, pause_seconds...).
        A broken input raises asr.data.audio.AudioError naming it.
        """
        from asr.data.audio import AudioError
        from asr.transcribe.pipeline import AudioSource, Pipeline, TranscribeError, TranscribeOptions

        if isinstance(inputs, (str, Path, np.ndarray, torch.Tensor)) or (
            isinstance(inputs, tuple) and len(inputs) == 2 and isinstance(inputs[1], int)
        ):
            inputs = [inputs]
        sources = []
        for i, item in enumerate(inputs):
            if isinstance(item, (str, Path)):
                sources.append(AudioSource.from_path(item))
                continue
            wave, rate = item if isinstance(item, tuple) else (item, sample_rate)
            if rate is None:
                raise ValueError(f"input {i} is a waveform: give its sample_rate (or pass (array, rate))")
            wave = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
            sources.append(AudioSource.from_array(wave, rate, id=f"array{i}"))
        opts = TranscribeOptions(timestamps=timestamps, batch_size=batch_size, **options)
        saved = (self.decoder_cfg, self._decoder)
        if decoder is not None:  # for this call only
            self.use_decoder(decoder)
        try:
            out = []
            for result in Pipeline(self, opts).run(sources):
                if isinstance(result, TranscribeError):
                    raise AudioError(result.message)
                out.append(result)
            return out
        finally:
            self.decoder_cfg, self._decoder = saved

    def use_decoder(self, decoder: str | DecoderConfig) -> None:
        """Switch decoders: a kind ('greedy', 'beam', 'lm' with the directory's defaults) or a DecoderConfig."""
        if isinstance(decoder, str):
            decoder = decoder_config(self.model_dir, kind=decoder) if self.model_dir else DecoderConfig(kind=decoder)
        self.decoder_cfg = decoder
        self._decoder = None

    def align(self, wave: np.ndarray, text: str, sample_rate: int | None = None) -> list[Word]:
        """Forced alignment of a known transcript: timed words of `text` in a mono waveform [S]."""
        from asr.decoding.decoders import model_frame_seconds
        from asr.transcribe.timing import refine_with_energy, word_timings

        if sample_rate is not None:
            wave = resample(np.asarray(wave, dtype=np.float32), sample_rate, self.fbank_cfg.sample_rate)
        log_probs, out_lengths, _ = self.emissions([wave])
        frame_s = model_frame_seconds(self.fbank_cfg.frame_shift_ms, self.model_cfg.stack)
        words = word_timings(log_probs[0, : int(out_lengths[0])], self.tokens.encode(text), self.tokens, frame_s)
        return refine_with_energy(words, wave, self.fbank_cfg.sample_rate)


def decoder_config(
    model_dir: str | Path,
    kind: str | None = None,
    lm: str | Path | None = None,
    lexicon: str | Path | None = None,
    no_lexicon: bool = False,
    **overrides,
) -> DecoderConfig:
    """The model directory's decoder.yaml (else greedy), changed by what is given.

    `lm` or `lexicon` without `kind` mean kind='lm'; `no_lexicon` decodes lexicon-free.
    `overrides` set other DecoderConfig fields (None values are ignored). Given paths are
    taken relative to the current directory; those in decoder.yaml to the model directory.
    """
    cfg = read_decoder_config(model_dir) or DecoderConfig()
    if kind is None and (lm or lexicon or no_lexicon):
        kind = "lm"
    if kind is not None:
        if kind not in DECODER_KINDS:
            raise DecoderError(f"unknown decoder {kind!r}; choose one of {', '.join(DECODER_KINDS)}")
        cfg = replace(cfg, kind=kind)
    if lm:
        cfg = replace(cfg, lm=str(Path(lm).resolve()))
    if lexicon:
        cfg = replace(cfg, lexicon=str(Path(lexicon).resolve()))
    if no_lexicon:
        cfg = replace(cfg, lexicon=None)
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def load_model(model_dir: str | Path, device: str | None = "auto", decoder: DecoderConfig | None = None) -> Recognizer:
    """Load config.yaml, tokens.txt and model.pt from a model directory (weights_only).

    `decoder` None: the directory's decoder.yaml when there is one (written by the recipe's
    LM tuning stage), else greedy.
    """
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
    if decoder is None:
        decoder = read_decoder_config(model_dir) or DecoderConfig()
    return Recognizer(model, tokens, model_cfg, fbank_cfg, dev, decoder, model_dir)
