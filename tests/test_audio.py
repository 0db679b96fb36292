"""Tests for asr/audio.py: formats, downmix, resampling, and errors naming file and utterance."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asr.audio import AudioError, load_audio, resample, write_audio


def _sine(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(wave: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.argmax(spec) * sr / len(wave))


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_loads_formats(tmp_path, ext):
    wave = _sine(440.0, 1.0, 16000)
    path = tmp_path / f"a.{ext}"
    sf.write(str(path), wave, 16000)
    out = load_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - len(wave)) <= (0 if ext != "ogg" else 1024)
    assert abs(_peak_hz(out, 16000) - 440.0) <= 2.0
    if ext != "ogg":  # lossless: equal up to 16-bit quantisation
        np.testing.assert_allclose(out, wave, atol=1.0 / 32768 + 1e-7)


def test_stereo_is_downmixed_to_mean(tmp_path):
    left, right = _sine(300.0, 0.5, 16000, 0.6), _sine(1100.0, 0.5, 16000, 0.2)
    path = tmp_path / "st.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    out = load_audio(path)
    assert out.shape == left.shape
    np.testing.assert_allclose(out, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("sr, freq", [(8000, 1000.0), (44100, 3000.0), (22050, 523.0)])
def test_resampled_to_16k_keeps_length_and_pitch(tmp_path, sr, freq):
    seconds = 1.0
    path = tmp_path / f"r{sr}.wav"
    sf.write(str(path), _sine(freq, seconds, sr), sr, subtype="FLOAT")
    out = load_audio(path, target_sr=16000)
    assert abs(len(out) - 16000 * seconds) <= 1
    assert abs(_peak_hz(out, 16000) - freq) <= 2.0
    # Amplitude survives (mid-file, away from filter edge effects).
    assert abs(np.abs(out[2000:-2000]).max() - 0.5) < 0.02


def test_resample_same_rate_is_identity():
    wave = _sine(100.0, 0.1, 16000)
    assert resample(wave, 16000, 16000) is wave


def test_target_rate_other_than_16k(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(str(path), _sine(440.0, 0.5, 16000), 16000)
    assert len(load_audio(path, target_sr=8000)) == 4000


def test_write_audio_round_trip_clips(tmp_path):
    wave = np.array([0.0, 0.5, -0.5, 2.0, -2.0], dtype=np.float32)
    write_audio(tmp_path / "w.wav", wave, 16000)
    info = sf.info(str(tmp_path / "w.wav"))
    assert info.subtype == "PCM_16" and info.samplerate == 16000
    back, sr = sf.read(str(tmp_path / "w.wav"), dtype="float32")
    np.testing.assert_allclose(back, [0.0, 0.5, -0.5, 1.0, -1.0], atol=1.0 / 32768)


def _check_error(path, expect: str) -> None:
    with pytest.raises(AudioError) as e:
        load_audio(path, utt="spk9-042")
    msg = str(e.value)
    assert str(path) in msg and "spk9-042" in msg and expect in msg
    with pytest.raises(AudioError) as e:
        load_audio(path)
    assert str(path) in str(e.value) and "utt" not in str(e.value)


def test_missing_file(tmp_path):
    _check_error(tmp_path / "missing.wav", "not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _check_error(path, "empty")


def test_non_audio_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not audio\n" * 20)
    _check_error(path, "cannot decode")


def test_header_without_samples(tmp_path):
    path = tmp_path / "nosamples.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    _check_error(path, "no samples")


def test_nan_samples(tmp_path):
    wave = _sine(440.0, 0.1, 16000)
    wave[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), wave, 16000, subtype="FLOAT")
    _check_error(path, "NaN")


def test_inf_samples(tmp_path):
    wave = _sine(440.0, 0.1, 16000)
    wave[7] = np.inf
    path = tmp_path / "inf.wav"
    sf.write(str(path), wave, 16000, subtype="FLOAT")
    _check_error(path, "Inf")


def test_directory(tmp_path):
    path = tmp_path / "adir.wav"
    path.mkdir()
    _check_error(path, "not a regular file")
