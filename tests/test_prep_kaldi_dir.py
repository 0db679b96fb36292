"""Tests for data_prep/kaldi_dir.py: an existing Kaldi data dir, validated, sorted and repaired."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
    with pytest.raises(PrepError, match=r"no usable utterances.*piped command 'sox a.wav b.wav -t wav - \|' is not one input"):
        prepare_kaldi_dir(d, tmp_path / "out")
    (d / "text").unlink()
    with pytest.raises(PrepError, match="no text; a data dir needs wav.scp and text"):
        prepare_kaldi_dir(d, tmp_path / "out")
