"""Tests for data_prep/ljspeech.py on a fixture with LJSpeech-1.1's layout."""

from __future__ import annotations

import shutil
from pathlib import Path

from asr.data.datadir import read_datadir
from data_prep.ljspeech import prepare_ljspeech

FIXTURE = Path(__file__).parent / "fixtures" / "ljspeech"


def test_normalised_column_one_speaker_and_hash_split(tmp_path):
    report = prepare_ljspeech(FIXTURE, tmp_path, dev_fraction=0.2, test_fraction=0.2)
    sets = {s: read_datadir(tmp_path / s) for s in ("train", "dev", "test")}
    text = {u: t for d in sets.values() for u, t in d.text.items()}
    assert text["LJ001-0002"] == "in fourteen sixty nine the press came to venice"  # column 3, not "1469"
    assert text["LJ001-0003"] == "yes said mister smith"
    assert sorted(text) == [f"LJ00{c}-000{i}" for c in (1, 2) for i in (1, 2, 3)]
    assert all(set(d.utt2spk.values()) == {"LJ"} and d.utts for d in sets.values())
    assert report.kept == 6 and (tmp_path / "prepare.log").is_file()
    again = tmp_path / "again"
    prepare_ljspeech(FIXTURE / "LJSpeech-1.1", again, dev_fraction=0.2, test_fraction=0.2)
    assert all(read_datadir(again / s).utts == sets[s].utts for s in sets)  # same split every time


def test_bad_lines_and_files(tmp_path):
    root = tmp_path / "LJSpeech-1.1"
    shutil.copytree(FIXTURE / "LJSpeech-1.1", root)
    with open(root / "metadata.csv", "a") as f:
        f.write("LJ009-0001|no audio|no audio\nLJ009-0002|only two fields\nLJ001-0001|again|again\n")
    shutil.copy(root / "wavs" / "LJ001-0001.wav", root / "wavs" / "LJ009-0009.wav")
    report = prepare_ljspeech(tmp_path, tmp_path / "out", max_bad_fraction=0.5)
    assert report.kept == 6
    assert report.bad_counts() == {"missing-audio": 1, "bad-entry": 1, "id-collision": 1, "no-transcript": 1}
    log = (tmp_path / "out" / "prepare.log").read_text()
    assert f"bad-entry\t{root / 'metadata.csv'}\t-\tline 8: expected '<id>|<text>|<normalised text>'" in log
    assert f"no-transcript\t{root / 'wavs' / 'LJ009-0009.wav'}\tLJ009-0009\tno line for 'LJ009-0009'" in log


def test_real_metadata_shape(tmp_path):
    # The real metadata.csv keeps abbreviations in column 3 (581 of 13,100 lines): `Mr.`, `Mrs.`,
    # `Dr.`, `Messrs.`, `Hon.`... The audio says them in full. A trailing blank line is no
    # utterance; a malformed line whose WAV exists is one bad item, not two. BOM and CRLF are read.
    root = tmp_path / "LJSpeech-1.1"
    shutil.copytree(FIXTURE / "LJSpeech-1.1", root)
    rows = [("LJ001-0001", "Mr. and Mrs. Smith saw Dr. Jones.", "Mr. and Mrs. Smith saw Dr. Jones."),
            ("LJ001-0002", "Messrs. Hay and the Hon. Mr. Gurney;", "Messrs. Hay and the Hon. Mr. Gurney;"),
            ("LJ001-0003", "Capt. Lt. Col. Gen. St. Mark's mrs. MR.", "Capt. Lt. Col. Gen. St. Mark's mrs. MR.")]
    lines = ["|".join(r) for r in rows] + ["LJ002-0001|only two fields"]
    lines += [ln for ln in (FIXTURE / "LJSpeech-1.1" / "metadata.csv").read_text().splitlines()[3:] if not ln.startswith("LJ002-0001")]
    (root / "metadata.csv").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    report = prepare_ljspeech(tmp_path, tmp_path / "out", dev_fraction=0.2, test_fraction=0.2, max_bad_fraction=0.5)
    text = {u: t for s in ("train", "dev", "test") for u, t in read_datadir(tmp_path / "out" / s).text.items()}
    assert text["LJ001-0001"] == "mister and missus smith saw doctor jones"
    assert text["LJ001-0002"] == "messieurs hay and the honorable mister gurney"
    assert text["LJ001-0003"] == "captain lieutenant colonel general saint mark's missus mister"
    assert report.bad_counts() == {"bad-entry": 1}, report.bad_counts()  # LJ002-0001: once
    assert report.kept == 5
