"""Transcription of any input: long audio in chunks, any rate and channels, errors in order, the Python API."""

from __future__ import annotations

import difflib

import numpy as np
import pytest
import soundfile as sf

import asr
from asr.data.audio import AudioError
from asr.data.resample import resample
from asr.transcribe.pipeline import (
    AudioSource,
    Pipeline,
    TranscribeOptions,
)


@pytest.fixture(scope="module")
def model(digit_model_dir):
    return asr.load_model(digit_model_dir, device="cpu")


def test_long_audio_is_cut_in_silences_and_joined(model, digit_speaker):
    rng = np.random.default_rng(11)
    parts = [digit_speaker.random(rng) for _ in range(30)]
    wave = np.concatenate([p.wave for p in parts])
    truth = " ".join(p.text for p in parts)
    starts = np.cumsum([0] + [len(p.wave) / 16000 for p in parts])
    true_words = [(w, s + off, e + off) for p, off in zip(parts, starts) for w, s, e in p.words]
    # small windows and chunks: many cuts, and a window's tail carried into the next
    [t] = model.transcribe((wave, 16000), max_chunk_seconds=6.0, window_seconds=15.0)
    assert t.duration == pytest.approx(len(wave) / 16000)
    hyp, ref = t.text.split(), truth.split()
    errors = sum(a != b for a, b in zip(hyp, ref)) + abs(len(hyp) - len(ref))
    assert errors <= 0.05 * len(ref), (t.text, truth)
    starts_pred = [w.start for w in t.words]
    assert starts_pred == sorted(starts_pred)
    assert all(w.end > w.start for w in t.words)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(t.words, t.words[1:]))
    # every recognised word (matched to the truth in order) is timed within 100 ms, and they are nearly all
    matcher = difflib.SequenceMatcher(a=[w.word for w in t.words], b=[w for w, _, _ in true_words], autojunk=False)
    pairs = [(t.words[i + k], true_words[j + k]) for i, j, n in matcher.get_matching_blocks() for k in range(n)]
    assert len(pairs) >= 0.95 * len(ref)
    assert max(max(abs(w.start - s), abs(w.end - e)) for w, (_, s, e) in pairs) <= 0.1
    # the same audio in one window gives the same words
    [t2] = model.transcribe((wave, 16000), max_chunk_seconds=6.0)
    assert len(t2.text.split()) == len(ref)


def test_any_rate_and_channels(model, digit_speaker):
    s = digit_speaker.say(["four", "one", "eight"], np.random.default_rng(3))
    stereo_48k = np.stack([resample(s.wave, 16000, 48000)] * 2, axis=1)
    mono_22k = resample(s.wave, 16000, 22050)
    mono_8k = resample(s.wave, 16000, 8000)  # telephone band: read and upsampled, but 4-8 kHz are gone
    results = model.transcribe([(stereo_48k, 48000), (mono_22k, 22050), s.wave, (mono_8k, 8000)], sample_rate=16000,
                               timestamps=False)
    assert [r.text for r in results[:3]] == [s.text] * 3
    assert results[3].duration == pytest.approx(results[2].duration, abs=1e-3)
    assert all(r.words == [] for r in results)


def test_silence_and_very_short_clips_give_empty_text(model):
    rng = np.random.default_rng(0)
    results = model.transcribe([np.zeros(32000, np.float32), 1e-4 * rng.standard_normal(16000).astype(np.float32),
                                np.zeros(100, np.float32), np.zeros(1, np.float32)], sample_rate=16000)
    assert [r.text for r in results] == ["", "", "", ""]
    assert all(r.words == [] for r in results)


def test_errors_come_in_input_order_and_the_rest_go_through(model, digit_speaker, tmp_path):
    s = digit_speaker.say(["two", "six"], np.random.default_rng(8))
    good = tmp_path / "good.flac"
    sf.write(str(good), s.wave, 16000)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    sources = [AudioSource.from_path(good), AudioSource.from_path(bad), AudioSource.from_path(tmp_path / "missing.wav"),
               AudioSource.from_array(s.wave, 16000, "arr")]
    results = list(Pipeline(model, TranscribeOptions(timestamps=False)).run(sources))
    assert [type(r).__name__ for r in results] == ["Transcript", "TranscribeFailure", "TranscribeFailure", "Transcript"]
    assert results[0].text == results[3].text == "two six"
    assert "bad.wav" in results[1].message and "missing.wav" in results[2].message
    with pytest.raises(AudioError, match="bad.wav"):
        model.transcribe([good, bad])


def test_nan_waveform_is_an_error(model):
    wave = np.zeros(16000, np.float32)
    wave[100] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        model.transcribe(wave, sample_rate=16000)


def test_a_waveform_needs_its_rate(model):
    with pytest.raises(ValueError, match="sample_rate"):
        model.transcribe(np.zeros(16000, np.float32))


def test_batches_do_not_change_results(model, digit_speaker):
    rng = np.random.default_rng(21)
    spoken = [digit_speaker.random(rng) for _ in range(6)]
    one = [model.transcribe((s.wave, 16000), batch_size=1)[0] for s in spoken]
    many = model.transcribe([(s.wave, 16000) for s in spoken], batch_size=6)
    for a, b in zip(one, many):
        assert a.text == b.text
        assert [(w.start, w.end) for w in a.words] == [(w.start, w.end) for w in b.words]
        assert a.score == pytest.approx(b.score, rel=1e-4, abs=1e-3)


def test_word_times_fall_back_to_the_decoders_frames():
    from asr.data.tokens import build_token_table
    from asr.decoding.hypothesis import Hypothesis
    from asr.transcribe.timing import words_from_timesteps

    tokens = build_token_table(["ab c"])  # <blk> | a b c
    hyp = Hypothesis("ab c", [2, 3, 1, 4], -1.0, [3, 5, 8, 10])
    words = words_from_timesteps(hyp, tokens, 0.03, offset=1.0)
    assert [(w.word, w.start, w.end) for w in words] == [("ab", 1.09, 1.18), ("c", 1.3, 1.33)]


def test_a_decoder_given_to_transcribe_is_for_that_call_only(model, digit_speaker):
    s = digit_speaker.say(["nine", "one"], np.random.default_rng(9))
    before = model.decoder_cfg
    assert model.transcribe(s.wave, sample_rate=16000, decoder="beam", timestamps=False)[0].text == "nine one"
    assert model.decoder_cfg is before
