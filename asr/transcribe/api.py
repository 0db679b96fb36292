"""The Python API: load a model directory and transcribe files or waveforms of any length.

    import asr
    model = asr.load_model("models/en")           # decoder: the directory's decoder.yaml, else greedy
    [t] = model.transcribe("a.flac")                  # Transcript: text, words (start, end, confidence), score
    ts = model.transcribe([wave_48k, "b.wav"], sample_rate=48000, decoder="greedy", timestamps=False)
    words = model.align(wave_16k, "the known text")  # forced alignment of a given transcript
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from asr.data.audio import AudioError
from asr.decoding.base import DecoderConfig
from asr.transcribe.bundled import bundled_model_dir
from asr.transcribe.pipeline import Pipeline
from asr.transcribe.recognizer import Recognizer, load_recognizer
from asr.transcribe.sources import AudioSource, TranscribeFailure, TranscribeOptions
from asr.transcribe.transcript import Transcript


class Transcriber(Recognizer):
    """A Recognizer with `transcribe`: what `asr.load_model` returns."""

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
                if isinstance(result, TranscribeFailure):
                    raise AudioError(result.message)
                out.append(result)
            return out
        finally:
            self.decoder_cfg, self._decoder = saved


def load_model(
    model_dir: str | Path | None = None, device: str | None = "auto", decoder: DecoderConfig | None = None
) -> Transcriber:
    """Load a model directory (see asr.transcribe.recognizer.load_recognizer) for transcription;
    None: the repository's default model, models/en (asr.transcribe.bundled)."""
    if model_dir is None:
        model_dir = bundled_model_dir()
    return load_recognizer(model_dir, device, decoder, cls=Transcriber)
