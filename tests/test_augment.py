"""Each augmentation is checked by measuring its effect: RT60, band limit, SNR, length, pitch, peak."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from asr.data import augment as A

SR = 16000


def _speechlike(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone gliding 120-200 Hz with a syllable-rate envelope, plus broadband noise to 8 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 80 * t / seconds
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k * (f0 * k < 7800) for k in range(1, 60))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    wave = 0.1 * env * tone + 0.01 * rng.standard_normal(len(t))
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def _band_share_db(wave: np.ndarray, lo_hz: float, hi_hz: float = SR / 2) -> float:
    """Energy in [lo_hz, hi_hz] relative to the total, dB."""
    power = np.abs(np.fft.rfft(wave.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / SR)
    return float(10 * np.log10(power[(freqs >= lo_hz) & (freqs <= hi_hz)].sum() / power.sum() + 1e-30))


def _peak_hz(wave: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / SR)[np.argmax(spec)])


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_scales_length_and_pitch(factor: float) -> None:
    wave = np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    out = A.speed_perturb(wave, SR, factor)
    assert abs(len(out) - len(wave) / factor) <= 1
    assert abs(_peak_hz(out) - 440 * factor) < 3  # pitch moves with tempo (Kaldi/sox `speed`)
    assert A.speed_perturb(wave, SR, 1.0) is not wave and np.array_equal(A.speed_perturb(wave, SR, 1.0), wave)


@pytest.mark.parametrize("rt60", [0.1, 0.3, 0.6, 1.0])
def test_room_impulse_response_has_the_asked_rt60(rt60: float) -> None:
    measured = []
    for seed in range(8):  # 8 random rooms and source/microphone positions
        rir = A.room_impulse_response(rt60, SR, np.random.default_rng(seed))
        assert rir[0] == 1.0  # the direct path, at sample 0
        measured.append(A.schroeder_rt60(rir, SR))
    assert all(abs(m - rt60) <= 0.03 + 0.1 * rt60 for m in measured), measured
    assert abs(np.mean(measured) - rt60) <= 0.06 * rt60, measured


def test_rooms_are_seeded_and_reverberation_keeps_length_and_level() -> None:
    a = A.room_impulse_response(0.5, SR, np.random.default_rng(3))
    b = A.room_impulse_response(0.5, SR, np.random.default_rng(3))
    c = A.room_impulse_response(0.5, SR, np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a[: len(c)], c[: len(a)])
    dry = np.concatenate([_speechlike(1.0), np.zeros(SR, dtype=np.float32)])
    wet = A.reverberate(dry, a)
    assert len(wet) == len(dry) and wet.dtype == np.float32
    assert np.isclose(np.sqrt(np.mean(wet**2)), np.sqrt(np.mean(dry**2)), rtol=1e-3)
    # the silence after the speech now holds its reverberant tail, decaying
    tail = wet[SR:]
    assert np.sqrt(np.mean(tail[:1600] ** 2)) > 100 * np.sqrt(np.mean(tail[-1600:] ** 2)) > 0


@pytest.mark.parametrize("law", ["mulaw", "alaw"])
def test_telephone_channel_removes_energy_above_4khz(law: str) -> None:
    wave = _speechlike()
    assert _band_share_db(wave, 4000) > -20  # the input has plenty above 4 kHz
    out = A.telephone_channel(wave, SR, law=law)
    assert len(out) == len(wave) and out.dtype == np.float32
    assert _band_share_db(out, 4000) < -40
    assert _band_share_db(out, 0, 250) < -30  # the 300-3400 Hz telephone band
    # 8-bit companding: a coding error, but the signal survives (SNR against the band-limited input)
    linear = A.telephone_channel(wave, SR, law="linear")
    snr = 10 * np.log10(np.sum(linear**2) / np.sum((out - linear) ** 2))
    assert 20 < snr < 45, snr


def test_unknown_channels_are_refused_by_name() -> None:
    with pytest.raises(A.AugmentError, match="unknown channel 'ulaw'"):
        A.check_channels(["mulaw", "ulaw"])
    with pytest.raises(ValueError, match="unknown telephone law"):
        A.telephone_channel(_speechlike(0.5), SR, law="gsm")


def test_missing_codec_program_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(A.shutil, "which", lambda program: None)
    with pytest.raises(A.AugmentError, match="channel 'gsm' needs the program 'sox'.*Debian package sox"):
        A.codec_channel(_speechlike(0.5), SR, "gsm")
    with pytest.raises(A.AugmentError, match="'g722' needs the program 'ffmpeg'"):
        A.channel(_speechlike(0.5), SR, "g722")
    with pytest.raises(A.AugmentError, match="'opus' needs the program 'opusenc'.*Debian package opus-tools"):
        A.check_channels(["mulaw", "opus"])


@pytest.mark.parametrize("codec", list(A.CODECS))
def test_codec_channel_round_trip(codec: str) -> None:
    program = A.CODECS[codec][0]
    if shutil.which(program) is None:
        pytest.skip(f"program not installed: {program} (needed by codec {codec})")
    wave = _speechlike()
    out = A.codec_channel(wave, SR, codec)
    assert len(out) == len(wave) and out.dtype == np.float32
    assert not np.allclose(out, wave, atol=1e-3)  # the codec changed the signal
    # ... but kept it, time-aligned (the codec delay is removed): correlation with the input
    # band-limited to the codec's band
    top = {"gsm": 3400, "amr-nb": 3400, "g722": 7000, "mp3": 3000, "opus": 3400}[codec]
    ref = A._band_limit(wave.astype(np.float64), SR, 100, top)
    corr = abs(np.dot(out, ref)) / np.sqrt(np.dot(out, out) * np.dot(ref, ref))
    assert corr > 0.5, corr
    if A.CODECS[codec][2] == 8000:  # narrowband codecs: nothing above 4 kHz
        assert _band_share_db(out, 4000) < -40


def test_coloured_noise_spectra() -> None:
    rng = np.random.default_rng(0)
    noise = {c: A.coloured_noise(2 * SR, c, rng) for c in ("white", "pink", "brown")}
    for x in noise.values():
        assert abs(float(np.sqrt(np.mean(x**2))) - 1.0) < 1e-6

    def slope_db_per_octave(x: np.ndarray) -> float:  # 200-400 Hz against 1600-3200 Hz, per Hz
        return (_band_share_db(x, 1600, 3200) - _band_share_db(x, 200, 400) - 10 * np.log10(8)) / 3

    assert abs(slope_db_per_octave(noise["white"])) < 0.5
    assert abs(slope_db_per_octave(noise["pink"]) + 3.0) < 0.5  # 1/f: -3 dB per octave
    assert abs(slope_db_per_octave(noise["brown"]) + 6.0) < 0.5  # 1/f^2: -6 dB per octave


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
@pytest.mark.parametrize("kind", ["pink", "babble"])
def test_mix_has_the_asked_snr(snr_db: float, kind: str) -> None:
    speech = _speechlike(2.0, seed=1)
    rng = np.random.default_rng(7)
    if kind == "babble":
        pool = np.concatenate([_speechlike(1.5, seed=s) for s in range(2, 8)])
        noise = A.babble(pool, len(speech), rng, talkers=4)
    else:
        noise = A.coloured_noise(len(speech), kind, rng)
    mix = A.add_noise(speech, noise, snr_db)
    measured = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean((mix - speech).astype(np.float64) ** 2))
    assert abs(measured - snr_db) < 0.5, measured


def test_snr_on_active_speech_ignores_pauses() -> None:
    speech = np.concatenate([np.zeros(SR), _speechlike(1.0), np.zeros(SR)]).astype(np.float32)
    noise = A.coloured_noise(len(speech), "pink", np.random.default_rng(0))
    mix = A.add_noise(speech, noise, 10.0, speech_power=A.active_power(speech, SR))
    active = slice(SR, 2 * SR)
    measured = 10 * np.log10(np.mean(speech[active] ** 2.0) / np.mean((mix - speech)[active] ** 2.0))
    assert abs(measured - 10.0) < 0.5, measured


def test_babble_is_seeded_and_made_of_the_pool() -> None:
    pool = np.concatenate([_speechlike(1.0, seed=s) for s in range(5)])
    a = A.babble(pool, 8000, np.random.default_rng(1), talkers=3)
    assert np.array_equal(a, A.babble(pool, 8000, np.random.default_rng(1), talkers=3))
    assert not np.array_equal(a, A.babble(pool, 8000, np.random.default_rng(2), talkers=3))
    one = A.babble(pool, 8000, np.random.default_rng(1), talkers=1)
    start = int(np.random.default_rng(1).integers(0, len(pool), size=1)[0])
    part = np.take(pool, np.arange(start, start + 8000), mode="wrap")
    assert np.allclose(one, part / np.sqrt(np.mean(part.astype(np.float64) ** 2)), atol=1e-5)


def test_gain_and_mild_clipping_bound_the_peak() -> None:
    wave = _speechlike()
    assert np.isclose(np.abs(A.apply_gain(wave, -6.0)).max(), np.abs(wave).max() * 10 ** (-6 / 20), rtol=1e-5)
    out = A.clip_peak(wave, ceiling=0.5, drive_db=3.0)
    assert np.abs(out).max() <= 0.5 + 1e-7
    clipped = np.mean(np.abs(out) >= 0.5 - 1e-6)
    assert 0 < clipped < 0.05  # mild: a few per cent of the samples are flattened
    # unclipped samples are the input scaled by the drive
    scale = 0.5 * 10 ** (3 / 20) / np.abs(wave).max()
    keep = np.abs(out) < 0.5 - 1e-6
    assert np.allclose(out[keep], wave[keep] * scale, atol=1e-6)


# ---------------------------------------------------------------- the synthetic corpus (data_prep/synth/corpus.py)

ALL_ON = dict(noise_prob=1.0, speed_prob=1.0, speed_factors=[1.1], reverb_prob=1.0, channel_prob=1.0,
              channels=["mulaw"], babble_prob=1.0, clip_prob=1.0, peak_db_range=(-6.0, -6.0))


def test_corpus_augmentation_is_seeded_and_train_only() -> None:
    from data_prep.synth.corpus import SynthConfig, augment, utterance_rng

    wave = _speechlike(2.0)
    pool = np.concatenate([_speechlike(1.0, seed=s) for s in range(3, 8)])
    cfg = SynthConfig(**ALL_ON)
    a = augment(wave, utterance_rng(0, "train", 5), cfg, babble_pool=pool)
    b = augment(wave, utterance_rng(0, "train", 5), cfg, babble_pool=pool)
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert np.abs(a).max() <= 10 ** (-6 / 20) + 2e-3  # clipped at the peak level (+ the -70 dBFS floor)
    assert _band_share_db(a, 4200) < -25  # the telephone channel (the floor is white, full band)
    clean = augment(wave, utterance_rng(0, "train", 5), cfg, noisy=False, babble_pool=pool)
    # the same padding, no speed change: only the 1.1x speed shortens the augmented one
    assert abs((len(clean) - len(a)) - (len(wave) - round(len(wave) / 1.1))) <= 1
    # turning one augmentation off leaves the others' draws alone: same length, same padding
    c = augment(wave, utterance_rng(0, "train", 5), SynthConfig(**{**ALL_ON, "reverb_prob": 0.0}), babble_pool=pool)
    assert len(c) == len(a) and not np.array_equal(c, a)


def test_condition_sets_are_deterministic_copies_of_test(tmp_path) -> None:
    import soundfile as sf

    from asr.data.datadir import DataDir, read_datadir, write_datadir
    from data_prep.synth.conditions import CONDITION_SETS, write_condition_sets
    from data_prep.synth.corpus import SynthConfig

    test = DataDir()
    for i in range(3):
        path = tmp_path / "corpus" / "spk1" / f"spk1-test-{i:06d}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.concatenate([np.zeros(2000), _speechlike(1.5, seed=i), np.zeros(2000)]), SR, subtype="PCM_16")
        utt = path.stem
        test.wav_scp[utt], test.text[utt], test.utt2spk[utt] = str(path), f"words {i}", "spk1"
    write_datadir(tmp_path / "data" / "test", test)
    cfg = SynthConfig()
    assert list(cfg.condition_sets) == list(CONDITION_SETS) == ["test_reverb", "test_phone", "test_noise10"]
    write_condition_sets(cfg.condition_sets, cfg.seed, tmp_path / "corpus", tmp_path / "data")
    audio = {}
    for name in CONDITION_SETS:
        data = read_datadir(tmp_path / "data" / name)
        assert data.utts == test.utts and data.text == test.text and data.utt2spk == test.utt2spk
        audio[name] = {u: sf.read(p, dtype="float32")[0] for u, p in data.wav_scp.items()}
        assert all(p.startswith(str((tmp_path / "corpus" / name).resolve())) for p in data.wav_scp.values())
    for utt, src in test.wav_scp.items():
        clean = sf.read(src, dtype="float32")[0]
        phone, noisy, reverb = (audio[n][utt] for n in ("test_phone", "test_noise10", "test_reverb"))
        assert len(phone) == len(noisy) == len(reverb) == len(clean)
        assert _band_share_db(phone, 4000) < -40
        snr = 10 * np.log10(A.active_power(clean, SR) / np.mean((noisy - clean).astype(np.float64) ** 2))
        assert abs(snr - 10.0) < 0.5, snr
        assert np.corrcoef(reverb, clean)[0, 1] < 0.9  # the room changed it
    # deterministic: a deleted file is made again, identical; the others are kept
    first = read_datadir(tmp_path / "data" / "test_reverb").wav_scp[test.utts[0]]
    Path(first).unlink()
    write_condition_sets(cfg.condition_sets, cfg.seed, tmp_path / "corpus", tmp_path / "data")
    assert np.array_equal(sf.read(first, dtype="float32")[0], audio["test_reverb"][test.utts[0]])
    with pytest.raises(ValueError, match="unknown condition set 'test_snow'"):
        write_condition_sets(["test_snow"], 0, tmp_path / "corpus", tmp_path / "data")
