"""Transcribe inputs of any length: read, split on silence, batch, decode, time the words.

    for result in Pipeline(recognizer, TranscribeOptions()).run([AudioSource.from_path("a.flac"), ...]):
        ...  # a Transcript, or a TranscribeFailure naming the input, in input order

Memory stays bounded whatever the file length: a file is read block by block
(`asr.data.audio.stream_audio`), gathered into windows of `window_seconds`, and each window is cut
at every pause of `pause_seconds` or more into chunks of at most `max_chunk_seconds`
(`asr.transcribe.chunking.segment_at_pauses`); the part after a window's last cut waits for the next
window. Each chunk is decoded on its own, like a training sentence, and a pause is always a
word boundary (a character model trained on continuous speech need not emit one across a
long silence). Chunks from one or many files are
pooled (up to `pool_seconds` of audio), sorted by length and run through the model in batches
of at most `batch_size` chunks and `max_batch_frames` padded feature frames. A chunk's words
are offset by its start, and a file's text is its chunks' texts joined in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from asr.data.audio import AudioError, stream_audio
from asr.data.resample import resample
from asr.decoding.hypothesis import Hypothesis
from asr.transcribe.chunking import segment_at_pauses
from asr.transcribe.recognizer import BEST, Recognizer
from asr.transcribe.sources import AudioSource, TranscribeFailure, TranscribeOptions
from asr.transcribe.transcript import Transcript, Word

log = logging.getLogger(__name__)


@dataclass
class _FileState:
    src: AudioSource
    samples: int = 0  # read so far (at the model's rate)
    chunks: int = 0  # made so far
    done_reading: bool = False
    error: str | None = None
    results: dict[int, tuple[float, Hypothesis, list[Word]]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.error is not None or (self.done_reading and len(self.results) == self.chunks)


def _run_command(src: AudioSource) -> tuple[np.ndarray, int]:
    """Run a wav.scp pipe command and decode its standard output -> (samples [S, C], rate)."""
    import io
    import subprocess

    import soundfile as sf

    proc = subprocess.run(src.command, shell=True, capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"utt '{src.id}': command failed (exit {proc.returncode}): {src.command}"
                         + (f": {err[-1]}" if err else ""))
    try:
        data, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(f"utt '{src.id}': cannot decode the output of {src.command!r} ({e})") from None
    if data.shape[0] == 0:
        raise AudioError(f"utt '{src.id}': the output of {src.command!r} has no samples")
    return data, rate


def _mono_blocks(src: AudioSource, sample_rate: int) -> Iterator[np.ndarray]:
    if src.command is not None:
        data, rate = _run_command(src)
        src = AudioSource(src.id, src.source, wave=data, sample_rate=rate)
    if src.wave is None:  # a truncated file: what it holds, and one warning line (as sox and ffmpeg do)
        yield from stream_audio(src.path, sample_rate, utt=src.id, on_truncated=log.warning)
        return
    wave = src.wave.astype(np.float32, copy=False)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if wave.ndim != 1:
        raise AudioError(f"{src.source}: expected samples [S] or [S, channels], got shape {src.wave.shape}")
    if not np.isfinite(wave).all():
        raise AudioError(f"{src.source}: audio contains NaN or Inf samples")
    yield resample(np.ascontiguousarray(wave), src.sample_rate, sample_rate)


def _chunks(src: AudioSource, sample_rate: int, opts: TranscribeOptions, state: _FileState) -> Iterator[tuple[int, np.ndarray]]:
    """(start sample, chunk [S]) of one input, in order; `state.samples` counts what was read."""
    window = int(opts.window_seconds * sample_rate)
    buf, buf_start = np.zeros(0, np.float32), 0
    for block in _mono_blocks(src, sample_rate):
        state.samples += len(block)
        buf = np.concatenate([buf, block]) if len(buf) else block
        if len(buf) >= window:
            cuts = segment_at_pauses(buf, sample_rate, opts.pause_seconds * 1000, opts.max_chunk_seconds)
            for s, e in cuts[:-1]:
                yield buf_start + s, buf[s:e]
            keep = cuts[-1][0]
            buf_start += keep
            buf = buf[keep:].copy()
    if len(buf):
        for s, e in segment_at_pauses(buf, sample_rate, opts.pause_seconds * 1000, opts.max_chunk_seconds):
            yield buf_start + s, buf[s:e]


class Pipeline:
    """Runs a Recognizer over AudioSources (see the module docstring)."""

    def __init__(self, recognizer: Recognizer, opts: TranscribeOptions | None = None) -> None:
        self.rec = recognizer
        self.opts = opts or TranscribeOptions()
        self.sample_rate = recognizer.fbank_cfg.sample_rate
        self.model_seconds = 0.0  # time spent in features + model + decoding (for reports)

    def _run_batch(self, items: list[tuple[_FileState, int, int, np.ndarray]]) -> None:
        out = self.rec.decode_waves([chunk for *_, chunk in items], [state.src.id for state, *_ in items])
        for i, (state, index, start, chunk) in enumerate(items):
            offset = start / self.sample_rate
            hyp = out.hyps[BEST][i]
            words = self.rec.timed_words(hyp, out.emission(i), chunk, offset) if self.opts.timestamps else []
            state.results[index] = (offset, hyp, words)

    def _run_pool(self, pool: list[tuple[_FileState, int, int, np.ndarray]]) -> None:
        t0 = time.perf_counter()
        pool.sort(key=lambda item: len(item[3]))
        hop = int(self.rec.fbank_cfg.sample_rate * self.rec.fbank_cfg.frame_shift_ms / 1000)
        batch: list = []
        for item in pool:
            frames = len(item[3]) // hop + 1
            if batch and (len(batch) >= self.opts.batch_size or (len(batch) + 1) * frames > self.opts.max_batch_frames):
                self._run_batch(batch)
                batch = []
            batch.append(item)
        if batch:
            self._run_batch(batch)
        pool.clear()
        self.model_seconds += time.perf_counter() - t0

    def _finish(self, state: _FileState) -> Transcript | TranscribeFailure:
        src = state.src
        if state.error is not None:
            return TranscribeFailure(src.id, src.source, state.error)
        parts = [state.results[k] for k in range(state.chunks)]
        text = " ".join(h.text for _, h, _ in parts if h.text)
        words = [w for _, _, ws in parts for w in ws]
        score = float(sum(h.score for _, h, _ in parts))
        return Transcript(src.id, src.source, " ".join(text.split()), state.samples / self.sample_rate, score, words)

    def run(self, sources: Iterable[AudioSource]) -> Iterator[Transcript | TranscribeFailure]:
        """Transcripts (or errors) in the order of `sources`."""
        pool: list[tuple[_FileState, int, int, np.ndarray]] = []
        pooled = 0
        waiting: list[_FileState] = []
        limit = int(self.opts.pool_seconds * self.sample_rate)
        for src in sources:
            state = _FileState(src)
            waiting.append(state)
            try:
                for start, chunk in _chunks(src, self.sample_rate, self.opts, state):
                    pool.append((state, state.chunks, start, chunk))
                    state.chunks += 1
                    pooled += len(chunk)
                    if pooled >= limit:
                        self._run_pool(pool)
                        pooled = 0
            except AudioError as e:
                state.error = str(e)
            state.done_reading = True
            while waiting and waiting[0].complete:
                yield self._finish(waiting.pop(0))
        self._run_pool(pool)
        for state in waiting:
            yield self._finish(state)

