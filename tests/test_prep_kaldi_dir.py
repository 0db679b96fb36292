"""Tests for data_prep/kaldi_dir.py: an existing Kaldi data dir, validated, sorted and repaired."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.data.datadir import read_datadir
from data_prep.common import PrepError
from data_prep.kaldi_dir import prepare_kaldi_dir

FIXTURE = Path(__file__).parent / "fixtures" / "kaldi_dir"


def test_messy_dir_is_sorted_repaired_and_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(FIXTURE)  # wav.scp paths are relative, as Kaldi resolves them
    report = prepare_kaldi_dir("data/train", tmp_path / "train", max_bad_fraction=0.5)
    data = read_datadir(tmp_path / "train")
    assert data.utts == ["s1-a", "s1-b", "s2-a", "s2-b"]
    assert data.wav_scp["s1-b"] == str(FIXTURE / "audio" / "s1-b.flac")  # `flac -c -d -s audio/s1-b.flac |`
    assert data.text["s1-a"] == "hello there"  # the first of two lines wins
    assert data.spk2utt == {"s1": ["s1-a", "s1-b"], "s2": ["s2-a", "s2-b"]}
    assert (tmp_path / "train" / "spk2utt").read_text() == "s1 s1-a s1-b\ns2 s2-a s2-b\n"
    assert report.bad_counts() == {"id-collision": 1, "missing-audio": 1}
    log = (tmp_path / "train" / "prepare.log").read_text()
    assert f"missing-audio\t{FIXTURE / 'audio' / 's3-a.wav'}\ts3-a\tfile not found" in log
    assert "id-collision\tdata/train/text\ts1-a\tline 6: 's1-a' repeats line 5 (kept the first)" in log


def test_in_place_keeps_a_backup_and_derives_speakers(tmp_path):
    d = tmp_path / "d"
    shutil.copytree(FIXTURE / "data" / "train", d)
    for f in (d / "wav.scp",):
        f.write_text(f.read_text().replace("audio/", f"{FIXTURE / 'audio'}/"))
    (d / "utt2spk").unlink()
    (d / "text").write_text("s2-b thank you\ns1-a hello there\ns1-b\ns2-a see you\nzz-1 orphan line\n")
    report = prepare_kaldi_dir(d, d, max_bad_fraction=0.6)
    assert (d / ".backup" / "text").read_text().startswith("s2-b thank you")
    data = read_datadir(d)
    assert data.utts == ["s1-a", "s2-a", "s2-b"] and data.utt2spk == {u: u for u in data.utts}
    # s3-a is in wav.scp only; zz-1 in text only
    assert report.bad_counts() == {"empty-transcript": 1, "no-transcript": 1, "missing-audio": 1}


def test_piped_commands_that_are_not_one_file(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text("a-1 sox a.wav b.wav -t wav - |\n")
    (d / "text").write_text("a-1 hi\n")
    with pytest.raises(PrepError, match=r"no usable utterances.*command 'sox a.wav b.wav -t wav -' failed"):
        prepare_kaldi_dir(d, tmp_path / "out")  # a command is run, as in Kaldi: here it fails
    (d / "text").unlink()
    with pytest.raises(PrepError, match="no text; a data dir needs wav.scp and text"):
        prepare_kaldi_dir(d, tmp_path / "out")


# ---------------------------------------------------------------- issue 11: real Kaldi dirs


def _two_channel_sphere(path):
    """A 2-channel NIST SPHERE file (as Switchboard/Fisher ship): a tone left, noise right."""
    t = np.arange(16000) / 8000
    left = 0.5 * np.sin(2 * np.pi * 300 * t)
    right = 0.2 * np.random.default_rng(0).standard_normal(len(t))
    sf.write(str(path), np.stack([left, right], axis=1), 8000, format="NIST", subtype="PCM_16")
    return left, right


def test_wav_scp_commands_are_done_not_dropped(tmp_path):
    # `sph2pipe -c 1` and `-c 2` are two different channels (not one file read twice), and
    # `sox ... trim 0 2 |` is the first 2 s of the file (not the whole file).
    audio = tmp_path / "audio"
    audio.mkdir()
    left, right = _two_channel_sphere(audio / "sw02001.sph")
    long = audio / "long.flac"
    sf.write(str(long), 0.1 * np.random.default_rng(1).standard_normal(5 * 16000), 16000)
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text(
        f"sw02001-A sph2pipe -f wav -p -c 1 {audio / 'sw02001.sph'} |\n"
        f"sw02001-B sph2pipe -f wav -p -c 2 {audio / 'sw02001.sph'} |\n"
        f"long-1 sox {long} -t wav - trim 0 2 |\n"
        f"long-2 flac -c -d -s {long} |\n")
    (d / "text").write_text("sw02001-A hello\nsw02001-B hi there\nlong-1 two seconds\nlong-2 five seconds\n")
    (d / "utt2spk").write_text("sw02001-A A\nsw02001-B B\nlong-1 L\nlong-2 L\n")
    prepare_kaldi_dir(d, tmp_path / "out")
    scp = dict(line.split(" ", 1) for line in (tmp_path / "out" / "wav.scp").read_text().splitlines())
    a, b = sf.read(scp["sw02001-A"])[0], sf.read(scp["sw02001-B"])[0]
    np.testing.assert_allclose(a, left, atol=1e-4)
    np.testing.assert_allclose(b, right, atol=1e-4)
    assert sf.info(scp["long-1"]).duration == pytest.approx(2.0)
    assert Path(scp["long-2"]) == long.resolve()  # a plain decode is the file itself
    # an option not implemented is refused with a message, never dropped
    (d / "wav.scp").write_text(f"sw02001-A sph2pipe -f wav -x 3 {audio / 'sw02001.sph'} |\n")
    (d / "text").write_text("sw02001-A hello\n")
    (d / "utt2spk").write_text("sw02001-A A\n")
    with pytest.raises(PrepError, match="sph2pipe option -x 3 is not implemented"):
        prepare_kaldi_dir(d, tmp_path / "out2")


def test_tab_separated_tables_and_lower_case(tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(str(wav), np.zeros(8000, np.float32) + 0.01, 16000)
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text(f"u1\t{wav}\nu2 \t {wav}\n")
    (d / "text").write_text("u1\tHELLO World\nu2\tYES\n")
    (d / "utt2spk").write_text("u1\tspk\nu2\tspk\n")
    prepare_kaldi_dir(d, tmp_path / "out")
    assert (tmp_path / "out" / "text").read_text() == "u1 hello world\nu2 yes\n"
    assert read_datadir(tmp_path / "out").utt2spk == {"u1": "spk", "u2": "spk"}
    prepare_kaldi_dir(d, tmp_path / "kept", lowercase=False)
    assert (tmp_path / "kept" / "text").read_text() == "u1 HELLO World\nu2 YES\n"
