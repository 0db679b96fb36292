"""Tests for asr/data/perturb.py (perturbed copies of a data dir) and its use in make_features.

Each step's effect is measured on the waveform: length and pitch (speed), decay time (room),
band limit (channel), SNR (noise) and level (gain).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from asr.data import augment as A
from asr.data.datadir import DataDirError, read_datadir, read_table
from asr.data.feature_store import make_features
from asr.data.features import FbankConfig
from asr.data.perturb import (
    PERTURB_FILE,
    PerturbConfig,
    copy_specs,
    parse_spec,
    perturb_data_dir,
    perturb_wave,
    read_perturbations,
)
from asr.data.segments import Segment, SegmentedDataDir, read_any_datadir, write_any_datadir

SR = 16000
CFG = FbankConfig()


def _tone(hz: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def _peak_hz(wave: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / SR)[np.argmax(spec)])


def _band_share_db(wave: np.ndarray, lo_hz: float, hi_hz: float = SR / 2) -> float:
    power = np.abs(np.fft.rfft(wave.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / SR)
    return float(10 * np.log10(power[(freqs >= lo_hz) & (freqs <= hi_hz)].sum() / power.sum() + 1e-30))


def _broadband(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """White noise at 0.1 RMS: the same energy in every band up to 8 kHz."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def _feats(data_dir: Path) -> dict[str, np.ndarray]:
    return {u: np.asarray(m) for u, m in kaldiio.load_scp(str(data_dir / "feats.scp")).items()}


THREE_WAY = dict(speeds=[0.9, 1.0, 1.1], channel_copies=1, conditions=["noise"])


# ---------------------------------------------------------------- specs and their errors


def test_parse_spec_steps_in_order():
    assert parse_spec("speed=0.9,room=0.6,channel=mulaw,noise=pink@12,gain=-6") == [
        ("speed", "0.9"), ("room", "0.6"), ("channel", "mulaw"), ("noise", "pink@12"), ("gain", "-6")]


@pytest.mark.parametrize("spec", ["tempo=0.9", "speed", "speed=", "speed=0.9,", "speed:0.9", "=0.9", ""])
def test_parse_spec_errors_name_where(spec):
    with pytest.raises(DataDirError) as e:
        parse_spec(spec, "data/train/utt2perturb: utt 'u1'")
    assert str(e.value).startswith("data/train/utt2perturb: utt 'u1': bad perturbation step")


def test_read_perturbations_names_the_file_and_the_utterance(tmp_path):
    (tmp_path / PERTURB_FILE).write_text("aug1-b noise=white@10,volume=3\nsp0.9-a speed=0.9\n")
    with pytest.raises(DataDirError) as e:
        read_perturbations(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / PERTURB_FILE) in msg and "utt 'aug1-b'" in msg and "'volume=3'" in msg
    assert read_perturbations(tmp_path / "elsewhere") == {}  # no file: nothing to perturb
    (tmp_path / PERTURB_FILE).write_text("sp0.9-a speed=0.9\n")
    assert read_perturbations(tmp_path) == {"sp0.9-a": "speed=0.9"}


@pytest.mark.parametrize("spec, detail", [
    ("speed=fast", "step speed=fast"),
    ("room=big", "step room=big"),
    ("noise=purple@10", "noise colour 'purple'"),
    ("noise=pink", "step noise=pink"),  # no SNR
    ("gain=loud", "step gain=loud"),
    ("speed=0.9;gain=-6", "step speed=0.9;gain=-6"),  # a wrong separator: one step with a bad value
])
def test_bad_step_values_name_the_utterance(spec, detail):
    with pytest.raises(DataDirError) as e:
        perturb_wave(_tone(440, 0.5), SR, spec, "spk1-007")
    assert "utt 'spk1-007'" in str(e.value) and PERTURB_FILE in str(e.value) and detail in str(e.value)


def test_unknown_channel_names_the_utterance():
    with pytest.raises(Exception) as e:
        perturb_wave(_tone(440, 0.5), SR, "channel=carrier-pigeon", "spk1-007")
    assert "spk1-007" in str(e.value) and "carrier-pigeon" in str(e.value)


@pytest.mark.parametrize("kwargs, match", [
    (dict(speeds=[0.9, 0.9, 1.0]), "perturb.speeds"),
    (dict(speeds=[0.3, 1.0]), "perturb.speeds"),
    (dict(speeds=[]), "perturb.speeds"),
    (dict(channel_copies=1, conditions=["room", "wind"]), r"unknown \['wind'\]"),
    (dict(channel_copies=1, conditions=[]), "needs at least one"),
])
def test_config_errors(tmp_path, data_dir, kwargs, match):
    with pytest.raises(DataDirError, match=match):
        perturb_data_dir(data_dir, tmp_path / "out", PerturbConfig(**kwargs))
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- perturbed data dirs


def test_perturbed_data_dir_ids_speakers_texts_and_specs(tmp_path, data_dir):
    src = read_datadir(data_dir)
    n = perturb_data_dir(data_dir, tmp_path / "train", PerturbConfig(**THREE_WAY))
    out = read_datadir(tmp_path / "train")  # a valid data dir (spk2utt agrees with utt2spk)
    assert n == len(out.utts) == 4 * len(src.utts)
    prefixes = ("", "sp0.9-", "sp1.1-", "aug1-")
    assert sorted(out.utts) == sorted(p + u for p in prefixes for u in src.utts)
    for utt in src.utts:
        for p in prefixes:
            assert out.text[p + utt] == src.text[utt]
            assert out.utt2spk[p + utt] == p + src.utt2spk[utt]
            assert out.wav_scp[p + utt] == src.wav_scp[utt]  # copies read the original audio
    assert sorted(out.spk2utt) == sorted(p + s for p in prefixes for s in src.spk2utt)

    specs = read_table(tmp_path / "train" / PERTURB_FILE)
    assert sorted(specs) == sorted(p + u for p in prefixes[1:] for u in src.utts)  # the copies only
    for utt in src.utts:
        assert specs[f"sp0.9-{utt}"] == "speed=0.9" and specs[f"sp1.1-{utt}"] == "speed=1.1"
        m = re.fullmatch(r"noise=(white|pink|brown)@(\d+\.\d)", specs[f"aug1-{utt}"])
        assert m and 5.0 <= float(m[2]) <= 20.0, specs[f"aug1-{utt}"]
    assert read_perturbations(tmp_path / "train") == specs


def test_default_config_copies_nothing(tmp_path, data_dir):
    cfg = PerturbConfig()
    assert not cfg.enabled and PerturbConfig(**THREE_WAY).enabled
    assert perturb_data_dir(data_dir, tmp_path / "train", cfg) == 4
    assert read_datadir(tmp_path / "train").text == read_datadir(data_dir).text
    assert not (tmp_path / "train" / PERTURB_FILE).exists()


def test_a_perturbed_dir_is_not_perturbed_again(tmp_path, data_dir):
    perturb_data_dir(data_dir, tmp_path / "train", PerturbConfig(speeds=[0.9, 1.0]))
    with pytest.raises(DataDirError, match="already perturbed; perturb the original") as e:
        perturb_data_dir(tmp_path / "train", tmp_path / "train2", PerturbConfig(speeds=[0.9, 1.0]))
    assert str(tmp_path / "train" / PERTURB_FILE) in str(e.value)


def test_rewriting_with_fewer_copies_drops_the_old_specs(tmp_path, data_dir):
    perturb_data_dir(data_dir, tmp_path / "train", PerturbConfig(**THREE_WAY))
    perturb_data_dir(data_dir, tmp_path / "train", PerturbConfig())
    assert not (tmp_path / "train" / PERTURB_FILE).exists()
    assert len(read_datadir(tmp_path / "train").utts) == 4


def test_segmented_dir_copies_keep_their_segments(tmp_path, data_dir):
    src = read_datadir(data_dir)
    seg = SegmentedDataDir()
    rec = src.utts[0]
    seg.wav_scp[rec] = src.wav_scp[rec]
    for i, (start, end) in enumerate([(0.0, 0.2), (0.2, -1.0)]):
        seg.segments[f"cut-{i}"] = Segment(rec, start, end)
        seg.text[f"cut-{i}"], seg.utt2spk[f"cut-{i}"] = f"word {'ab'[i]}", "cutter"
    write_any_datadir(tmp_path / "seg", seg)
    perturb_data_dir(tmp_path / "seg", tmp_path / "out", PerturbConfig(speeds=[0.9, 1.0]))
    out = read_any_datadir(tmp_path / "out", check_audio=False)
    assert isinstance(out, SegmentedDataDir)
    assert out.utts == ["cut-0", "cut-1", "sp0.9-cut-0", "sp0.9-cut-1"]
    assert out.segments["sp0.9-cut-1"] == seg.segments["cut-1"] and out.wav_scp == seg.wav_scp
    assert read_table(tmp_path / "out" / PERTURB_FILE) == {"sp0.9-cut-0": "speed=0.9", "sp0.9-cut-1": "speed=0.9"}


# ---------------------------------------------------------------- determinism


def test_drawn_specs_are_the_same_in_every_run(tmp_path, data_dir):
    perturb_data_dir(data_dir, tmp_path / "a", PerturbConfig(**THREE_WAY))
    perturb_data_dir(data_dir, tmp_path / "b", PerturbConfig(**THREE_WAY))
    perturb_data_dir(data_dir, tmp_path / "c", PerturbConfig(**THREE_WAY, seed=1))
    a, b, c = (read_table(tmp_path / d / PERTURB_FILE) for d in "abc")
    assert a == b
    assert sorted(a) == sorted(c) and a != c  # another seed draws other conditions
    # and drawing does not depend on which other utterances are in the set
    utts = read_datadir(data_dir).utts
    alone = copy_specs(utts[:1], PerturbConfig(**THREE_WAY))
    assert alone[f"aug1-{utts[0]}"][2] == a[f"aug1-{utts[0]}"]


def test_perturb_wave_is_bit_identical_for_one_utterance_and_differs_for_another():
    wave = _tone(300, 1.0) + _broadband(1.0) * 0.2
    for spec in ("noise=pink@10", "room=0.5", "speed=0.9,room=0.3,noise=white@15,gain=-3"):
        a = perturb_wave(wave, SR, spec, "aug1-u1")
        b = perturb_wave(wave, SR, spec, "aug1-u1")
        c = perturb_wave(wave, SR, spec, "aug1-u2")
        assert a.dtype == np.float32 and a.tobytes() == b.tobytes(), spec
        assert len(c) == len(a) and not np.allclose(a, c), spec
        assert not np.allclose(perturb_wave(wave, SR, spec, "aug1-u1", seed=1), a), spec


# ---------------------------------------------------------------- the effect of each step


def test_speed_0_9_is_longer_and_lower():
    wave = _tone(1000)
    out = perturb_wave(wave, SR, "speed=0.9", "sp0.9-u")
    assert abs(len(out) - len(wave) / 0.9) <= 1
    assert abs(_peak_hz(out) - 900) < 3
    fast = perturb_wave(wave, SR, "speed=1.1", "sp1.1-u")
    assert abs(len(fast) - len(wave) / 1.1) <= 1 and abs(_peak_hz(fast) - 1100) < 3


@pytest.mark.parametrize("rt60", [0.3, 0.6])
def test_room_adds_a_decay_tail_of_the_asked_rt60(rt60):
    impulse = np.zeros(2 * SR, dtype=np.float32)
    impulse[0] = 1.0
    for utt in ("aug1-a", "aug1-b", "aug1-c"):
        out = perturb_wave(impulse, SR, f"room={rt60}", utt)
        assert len(out) == len(impulse)
        # the dry impulse ends at sample 0; the reverberant one rings on, 60 dB down after about rt60
        env = np.abs(out) / np.abs(out).max()
        last_loud = np.nonzero(env > 1e-2)[0].max() / SR  # -40 dB: about 2/3 of rt60
        assert 0.3 * rt60 < last_loud < 1.2 * rt60, (utt, last_loud)
        measured = A.schroeder_rt60(out, SR)
        assert abs(measured - rt60) <= 0.03 + 0.1 * rt60, (utt, measured)


def test_room_on_speech_fills_the_pause_after_it():
    burst = np.concatenate([_tone(500, 0.5), np.zeros(SR // 2, dtype=np.float32)])
    out = perturb_wave(burst, SR, "room=0.6", "aug1-u")
    pause = slice(SR // 2 + 800, SR // 2 + 4000)  # 50 to 250 ms after the tone stops
    assert np.sqrt(np.mean(burst[pause] ** 2)) == 0.0
    assert np.sqrt(np.mean(out[pause] ** 2)) > 0.01 * np.sqrt(np.mean(out[: SR // 2] ** 2))


@pytest.mark.parametrize("law", ["mulaw", "alaw"])
def test_telephone_channel_removes_energy_above_4khz(law):
    wave = _broadband()
    assert _band_share_db(wave, 4000) > -4
    out = perturb_wave(wave, SR, f"channel={law}", "aug1-u")
    assert len(out) == len(wave)
    assert _band_share_db(out, 4000) < -40


@pytest.mark.parametrize("colour", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr", [10.0, 0.0])
def test_noise_at_the_asked_snr(colour, snr):
    clean = (_tone(440, 2.0, 0.2) + _tone(1320, 2.0, 0.1)).astype(np.float32)  # steady: active = mean power
    out = perturb_wave(clean, SR, f"noise={colour}@{snr:g}", "aug1-u")
    noise = out.astype(np.float64) - clean
    measured = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(measured - snr) <= 1.0, measured


def test_gain_minus_6_db_halves_the_amplitude():
    wave = _tone(440)
    out = perturb_wave(wave, SR, "gain=-6", "aug1-u")
    np.testing.assert_allclose(out, wave * 0.5, atol=0.003)
    assert abs(np.abs(out).max() / np.abs(wave).max() - 0.5) < 0.01
    both = perturb_wave(wave, SR, "speed=0.9,gain=-6", "sp0.9-u")  # steps compose, in order
    assert abs(len(both) - len(wave) / 0.9) <= 1 and abs(np.abs(both).max() - 0.15) < 0.005


# ---------------------------------------------------------------- make_features


def test_make_features_perturbs_the_listed_copies_only(tmp_path, data_dir):
    plain = tmp_path / "plain"
    shutil.copytree(data_dir, plain)
    make_features(plain, CFG, nj=1)
    train = tmp_path / "train"
    perturb_data_dir(data_dir, train, PerturbConfig(**THREE_WAY))
    make_features(train, CFG, nj=1)
    ref, got = _feats(plain), _feats(train)
    frames = {u: int(n) for u, n in read_table(train / "utt2num_frames").items()}
    assert sorted(got) == sorted(frames) == read_datadir(train).utts
    for utt, f in ref.items():
        np.testing.assert_array_equal(got[utt], f)  # not listed in utt2perturb: unchanged
        n = f.shape[0]
        slow, fast, aug = got[f"sp0.9-{utt}"], got[f"sp1.1-{utt}"], got[f"aug1-{utt}"]
        assert abs(slow.shape[0] - n / 0.9) <= 3 and abs(fast.shape[0] - n / 1.1) <= 3, (utt, n, slow.shape)
        assert frames[f"sp0.9-{utt}"] == slow.shape[0]
        m = min(n, slow.shape[0])
        assert np.abs(slow[:m] - f[:m]).mean() > 0.1
        assert aug.shape == f.shape and np.abs(aug - f).mean() > 0.1  # noise copy: same length, other features


def test_make_features_perturbs_in_parallel_jobs_too(tmp_path, data_dir):
    one, two = tmp_path / "one", tmp_path / "two"
    for d in (one, two):
        perturb_data_dir(data_dir, d, PerturbConfig(speeds=[0.9, 1.0], channel_copies=1, conditions=["noise"]))
    make_features(one, CFG, nj=1)
    make_features(two, CFG, nj=2, chunk_size=5)  # 12 utterances: 3 chunks in 2 worker processes
    a, b = _feats(one), _feats(two)
    assert sorted(a) == sorted(b) and len(a) == 12
    for utt in a:
        np.testing.assert_array_equal(a[utt], b[utt])
