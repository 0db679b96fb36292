"""Tests for asr/data/audio.py: formats, downmix, resampling, and errors naming file and utterance."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import speech_like

from asr.data.audio import (
    AudioError,
    AudioInfo,
    StreamResampler,
    audio_info,
    load_audio,
    resample,
    stream_audio,
    write_audio,
)


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


# ---------------------------------------------------------------------------- audio_info


def _noisy_speech(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Speech-like signal plus broadband noise (energy up to the Nyquist frequency)."""
    rng = np.random.default_rng(seed)
    wave = 0.6 * speech_like(seconds, seed=seed, sample_rate=sr)
    return (wave + 0.1 * rng.standard_normal(len(wave))).astype(np.float32)


@pytest.mark.parametrize("ext, subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS")])
def test_audio_info(tmp_path, ext, subtype):
    path = tmp_path / f"a.{ext}"
    sf.write(str(path), np.zeros((22050, 2), dtype=np.float32), 44100)
    info = audio_info(path)
    assert isinstance(info, AudioInfo)
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, 22050)
    assert info.duration == pytest.approx(0.5)
    assert info.subtype == subtype


def test_audio_info_errors_name_file_and_utt(tmp_path):
    for name, make, expect in [
        ("missing.wav", lambda p: None, "not found"),
        ("empty.wav", lambda p: p.write_bytes(b""), "empty"),
        ("dir.wav", lambda p: p.mkdir(), "not a regular file"),
        ("text.wav", lambda p: p.write_text("not audio\n" * 50), "cannot decode"),
    ]:
        path = tmp_path / name
        make(path)
        with pytest.raises(AudioError, match=expect) as e:
            audio_info(path, utt="u1")
        assert str(path) in str(e.value) and "u1" in str(e.value)


def test_dangling_symlink(tmp_path):
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "gone.wav")
    _check_error(link, "dangling symbolic link")
    with pytest.raises(AudioError) as e:
        audio_info(link)
    assert str(e.value) == f"{link}: dangling symbolic link (points to {tmp_path / 'gone.wav'})"
    with pytest.raises(AudioError, match="dangling symbolic link"):
        next(stream_audio(link))


def test_symlink_loop(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.symlink_to(b)
    b.symlink_to(a)
    _check_error(a, "symbolic link loop")


def test_symlink_to_valid_file_loads(tmp_path):
    target = tmp_path / "real.wav"
    sf.write(str(target), _sine(440.0, 0.25, 16000), 16000)
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    assert len(load_audio(link)) == 4000


# ------------------------------------------------------------------------------ truncation


def _write_and_cut(tmp_path, ext: str, keep: float = 0.5, **kw) -> tuple:
    """An 8 s stereo file and a copy of its first `keep` fraction of bytes."""
    full = tmp_path / f"full.{ext}"
    wave = speech_like(8.0, seed=1)
    try:
        sf.write(str(full), np.stack([wave, wave[::-1]], axis=1), 16000, **kw)
    except sf.LibsndfileError as e:  # pragma: no cover - depends on the libsndfile build
        pytest.skip(f"this libsndfile cannot write .{ext}: {e}")
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: int(len(data) * keep)])
    return full, cut


TRUNCATED = [
    ("wav", {"subtype": "PCM_16"}),
    ("wav", {"subtype": "FLOAT"}),
    ("wav", {"format": "RF64"}),
    ("aiff", {}),
    ("flac", {}),
    ("ogg", {}),
    ("ogg", {"subtype": "OPUS"}),
    ("mp3", {}),
]


@pytest.mark.parametrize("ext, kw", TRUNCATED, ids=[f"{e}-{'-'.join(k.values()) or 'default'}" for e, k in TRUNCATED])
@pytest.mark.parametrize("keep", [0.5, 0.995])
def test_truncated_file_is_an_error(tmp_path, ext, kw, keep):
    full, cut = _write_and_cut(tmp_path, ext, keep, **kw)
    assert len(load_audio(full)) == 8 * 16000  # the uncut file is fine
    _check_error(cut, "truncated")  # in one read (the short-file path)
    with pytest.raises(AudioError, match="truncated"):
        for _ in stream_audio(cut, block_seconds=1.0):  # block by block
            pass


@pytest.mark.parametrize("ext, kw", [("wav", {"subtype": "PCM_16"}), ("flac", {}), ("mp3", {})])
def test_truncated_file_read_anyway_on_request(tmp_path, ext, kw):
    # `on_truncated` (what `asr transcribe` passes): the samples present and one report line;
    # without it (corpus preparation, feature extraction) the file stays an error.
    full, cut = _write_and_cut(tmp_path, ext, 0.5, **kw)
    lines = []
    wave = load_audio(cut, on_truncated=lines.append)
    assert len(lines) == 1 and str(cut) in lines[0] and "truncated" in lines[0], lines
    assert 3.0 * 16000 < len(wave) < 4.5 * 16000  # about half of the 8 s
    if ext == "wav":  # the header says how much is missing
        assert "4.00 s of 8.00 s missing" in lines[0], lines[0]
        np.testing.assert_array_equal(wave, load_audio(full)[: len(wave)])
    lines.clear()
    assert sum(map(len, stream_audio(cut, block_seconds=1.0, on_truncated=lines.append))) == len(wave)
    assert len(lines) == 1
    with pytest.raises(AudioError, match="truncated"):
        load_audio(cut)


def test_ogg_cut_at_a_page_boundary_is_truncated(tmp_path):
    full, cut = _write_and_cut(tmp_path, "ogg")
    data = full.read_bytes()
    cut.write_bytes(data[: data.rfind(b"OggS")])  # drop the last (end-of-stream) page
    _check_error(cut, "end-of-stream")


def test_junk_after_the_last_ogg_page_is_not_truncation(tmp_path):
    full, cut = _write_and_cut(tmp_path, "ogg")
    cut.write_bytes(full.read_bytes() + b"\0" * 300)
    np.testing.assert_array_equal(load_audio(cut), load_audio(full))


def test_wav_with_chunk_after_data_is_not_truncation(tmp_path):
    path = tmp_path / "list.wav"
    sf.write(str(path), _sine(440.0, 0.5, 16000), 16000)
    with sf.SoundFile(str(path), "r+") as f:  # libsndfile writes a LIST chunk after 'data'
        f.title = "a title"
    assert len(load_audio(path)) == 8000


def test_ogg_header_only_is_truncated_not_undecodable(tmp_path):
    full, cut = _write_and_cut(tmp_path, "ogg", keep=0.01)
    _check_error(cut, "truncated")


# ------------------------------------------------------------------------------ streaming


@pytest.mark.parametrize("sr", [44100, 8000, 48000, 22050])
def test_stream_equals_whole_file_resampling(tmp_path, sr):
    wave = _noisy_speech(6.3, sr, seed=sr)
    path = tmp_path / "s.wav"
    sf.write(str(path), wave, sr, subtype="FLOAT")
    whole = resample(wave, sr, 16000)
    blocks = list(stream_audio(path, 16000, block_seconds=0.5))
    assert len(blocks) >= 10
    assert all(len(b) <= 0.5 * 16000 + 1 for b in blocks[:-1])  # one block at a time
    streamed = np.concatenate(blocks)
    assert streamed.dtype == np.float32 and len(streamed) == len(whole)
    assert np.abs(streamed - whole).max() < 1e-5  # float rounding only: no seams


def test_stream_resampler_any_push_sizes():
    rng = np.random.default_rng(3)
    wave = _noisy_speech(3.1, 44100, seed=4)
    r = StreamResampler(44100, 16000)
    outs, i = [], 0
    while i < len(wave):
        k = int(rng.integers(1, 3000))
        outs.append(r.push(wave[i : i + k]))
        i += k
    outs.append(r.flush())
    out = np.concatenate(outs)
    whole = resample(wave, 44100, 16000)
    assert len(out) == len(whole) and np.abs(out - whole).max() < 1e-5


def test_short_file_is_one_block_equal_to_load_audio(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(str(path), _noisy_speech(2.0, 44100), 44100, subtype="FLOAT")
    blocks = list(stream_audio(path))
    assert len(blocks) == 1
    np.testing.assert_array_equal(blocks[0], load_audio(path))


def test_load_long_file_streams_and_matches_whole(tmp_path):
    # Longer than one 30 s block: load_audio goes through stream_audio's blocks.
    wave = _noisy_speech(31.0, 8000, seed=5)
    path = tmp_path / "long.wav"
    sf.write(str(path), wave, 8000, subtype="FLOAT")
    out = load_audio(path)
    whole = resample(wave, 8000, 16000)
    assert len(out) == len(whole) == 31 * 16000
    assert np.abs(out - whole).max() < 1e-5


def test_stereo_48k_is_downmixed_and_resampled(tmp_path):
    left, right = _sine(300.0, 3.0, 48000, 0.6), _sine(2100.0, 3.0, 48000, 0.2)
    path = tmp_path / "st48.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 48000, subtype="FLOAT")
    expect = resample((left + right) / 2, 48000, 16000)
    np.testing.assert_allclose(load_audio(path), expect, atol=1e-6)
    streamed = np.concatenate(list(stream_audio(path, block_seconds=0.7)))
    np.testing.assert_allclose(streamed, expect, atol=1e-5)


def test_nan_in_a_later_block_is_reported_with_its_time(tmp_path):
    wave = _sine(440.0, 3.0, 16000)
    wave[40000] = np.nan  # 2.5 s
    path = tmp_path / "nan.wav"
    sf.write(str(path), wave, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"contains NaN or Inf samples \(first at 2\.500 s\)") as e:
        for _ in stream_audio(path, block_seconds=1.0, utt="u7"):
            pass
    assert str(path) in str(e.value) and "u7" in str(e.value)


def test_unresamplable_rate_is_a_clear_error(tmp_path):
    path = tmp_path / "odd.wav"
    sf.write(str(path), _sine(440.0, 0.1, 44101), 44101)
    _check_error(path, "cannot resample 44101 Hz to 16000 Hz")
