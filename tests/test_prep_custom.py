"""Tests for data_prep/custom.py: your own folder (transcripts beside the audio) or a manifest,
and how clearly it says what is wrong."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from asr.data.segments import read_any_datadir
from data_prep.common import PrepError
from data_prep.custom import main, prepare_custom

FIXTURE = Path(__file__).parent / "fixtures" / "custom"
SETS = ("train", "dev", "test")


def _all(out: Path):
    data = {s: read_any_datadir(out / s) for s in SETS}
    return data, {u: t for d in data.values() for u, t in d.text.items()}


def test_folder_speakers_ids_and_text(tmp_path):
    report = prepare_custom(FIXTURE / "folder", tmp_path)
    data, text = _all(tmp_path)
    assert sorted(text) == ["alice-0001", "alice-0002", "alice-0003", "alice-0004",
                            "bob-0001", "bob-0002", "bob-0003", "bob-take_2"]
    assert text["alice-0001"] == "the cat sat on the mat"  # "The cat sat on the mat.\n" in alice/0001.txt
    assert text["bob-take_2"] == "the dog ran home"  # bob/take 2.lab
    assert all(u.split("-")[0] == d.utt2spk[u] for d in data.values() for u in d.utts)
    assert all(d.utts for d in data.values()) and report.kept == 8 and not report.bad_items
    assert data["train"].wav_scp.get("bob-take_2", str(FIXTURE / "folder" / "bob" / "take 2.flac")).endswith("take 2.flac")


def test_csv_manifest_with_start_and_end_makes_segments(tmp_path):
    prepare_custom(FIXTURE / "manifest" / "manifest.csv", tmp_path, dev_fraction=0.2, test_fraction=0.2)
    data, text = _all(tmp_path)
    assert len(text) == 5 and text["carol-recordings-meeting1-0000300-0001330"] == "good morning everyone"
    for d in data.values():
        assert (tmp_path / "dev" / "segments").is_file()
        for utt, seg in d.segments.items():
            assert seg.recording in ("recordings-meeting1", "recordings-meeting2") and seg.end > seg.start
            assert d.wav_scp[seg.recording].endswith(("meeting1.wav", "meeting2.flac"))
            assert utt.startswith(d.utt2spk[utt] + "-")


def test_jsonl_manifest_and_split_column(tmp_path):
    man = tmp_path / "m.jsonl"
    rows = [json.loads(x) for x in (FIXTURE / "manifest" / "manifest.jsonl").read_text().splitlines()]
    for r, split in zip(rows, ["train", "train", "dev", "test"]):
        r["audio_filepath"] = str((FIXTURE / "manifest" / r["audio_filepath"]).resolve())
        r["split"], r["speaker"] = split, "alice"
    man.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    prepare_custom(man, tmp_path / "out")
    data, _ = _all(tmp_path / "out")
    assert [len(data[s].utts) for s in SETS] == [2, 1, 1] and data["dev"].utts[0].startswith("alice-")


def test_train_dev_test_subfolders_are_the_sets(tmp_path):
    for s, spk in (("train", "alice"), ("test", "bob")):
        shutil.copytree(FIXTURE / "folder" / spk, tmp_path / "c" / s / spk)
    prepare_custom(tmp_path / "c", tmp_path / "out")
    data, _ = _all(tmp_path / "out")
    assert set(data["test"].utt2spk.values()) == {"bob"}  # test/ is the test set, as given
    assert len(data["train"].utts) + len(data["dev"].utts) == 4 and data["dev"].utts  # dev is cut from train/


def test_missing_text_column_lists_the_columns(tmp_path):
    man = tmp_path / "m.csv"
    man.write_text("file,words\na.wav,hello\n")
    with pytest.raises(PrepError) as e:
        prepare_custom(man, tmp_path / "out")
    assert str(e.value) == (f"{man}: no column for the transcript; the columns are ['file', 'words']; "
                            "name one of them text or transcript or transcription or sentence or normalized_text")


def test_bad_rows_are_reported_by_line(tmp_path):
    rec = FIXTURE / "manifest" / "recordings" / "meeting1.wav"
    lines = ["path,text,speaker,start,end"]
    lines += [f"{rec},hello number {w},carol,{0.2 * i:.1f},{0.2 * i + 0.2:.1f}" for i, w in enumerate("abcdefghij")]
    lines += [
        f"{rec},too,many,fields,1,2",
        f"{rec},backwards,carol,2.0,1.0",
        f"{rec},too long,carol,1.0,99",
        f"{rec},Room 101,carol,3.0,3.2",
        f"{rec},hello,carol,soon,3.4",
        "missing.wav,hello,carol,0,1",
    ]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    report = prepare_custom(tmp_path / "m.csv", tmp_path / "out", max_bad_fraction=0.5)
    assert report.kept == 10
    log = (tmp_path / "out" / "prepare.log").read_text()
    assert f"bad-entry\t{tmp_path / 'm.csv'}\t-\tline 12: 6 fields, the header has 5 (a comma inside the text?" in log
    assert "line 13: end 1.0 is not after start 2.0" in log
    assert re.search(r"\tcarol-recordings-meeting1-0001000-0099000\t.*line 14: the segment ends at 99.0 s, after the end "
                     r"of the file \(3\.8\d\d s\)", log)
    assert "line 15: contains digits (101)" in log and "line 16: start 'soon' is not a number of seconds" in log
    assert f"missing-audio\t{tmp_path / 'missing.wav'}\t" in log


def test_folder_problems(tmp_path):
    corpus = tmp_path / "c"
    shutil.copytree(FIXTURE / "folder", corpus)
    (corpus / "alice" / "0004.txt").unlink()  # audio without transcript
    (corpus / "bob" / "0009.lab").write_text("no audio for this one\n")  # transcript without audio
    (corpus / "README.txt").write_text("my notes\n")  # ignored
    (corpus / "bob" / "0002.lab").write_text("\n")  # empty transcript
    report = prepare_custom(corpus, tmp_path / "out", max_bad_fraction=0.5)
    assert report.bad_counts() == {"no-transcript": 1, "missing-audio": 1, "rejected-text": 1}
    log = (tmp_path / "out" / "prepare.log").read_text()
    assert f"no-transcript\t{corpus / 'alice' / '0004.wav'}\talice-0004\tno 0004.txt or 0004.lab beside it" in log
    assert f"missing-audio\t{corpus / 'bob' / '0009.lab'}\t-\tno audio file named 0009.<wav|flac|mp3|ogg|...>" in log


def test_no_audio_at_all_and_cli_message(tmp_path, capsys):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("hello\n")
    (tmp_path / "c" / "a.m4a").write_bytes(b"")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "c"), str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'c'}: no audio files (.wav .flac .mp3" in err and "found: .m4a, .txt" in err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert f"{tmp_path / 'nowhere'}: no such file or folder" in capsys.readouterr().err


def test_whole_files_and_segments_mix_and_speaker_split(tmp_path):
    folder = FIXTURE / "folder"
    rows = ["audio\ttranscript\tspk\toffset\tduration"]
    rows += [f"{folder}/alice/000{i}.wav\tline {w}\talice\t\t" for i, w in zip(range(1, 5), "abcd")]
    rows += [f"{FIXTURE}/manifest/recordings/meeting1.wav\tpart {w}\t{spk}\t{0.3 + i}\t0.5"
             for i, (w, spk) in enumerate(zip("abc", ("carol", "dave", "erin")))]
    (tmp_path / "m.tsv").write_text("\n".join(rows) + "\n")
    prepare_custom(tmp_path / "m.tsv", tmp_path / "out", split_by="speaker")
    data, text = _all(tmp_path / "out")
    assert len(text) == 7 and "alice-0001" in text
    segs = {u: seg for d in data.values() for u, seg in getattr(d, "segments", {}).items()}
    assert segs["dave-recordings-meeting1-0001300-0001800"].start == 1.3
    for s, d in data.items():  # a set with a cut utterance has segments; whole files there span their file
        assert hasattr(d, "segments") == any(u.startswith(("carol", "dave", "erin")) for u in d.utts)
        assert all(seg.end == -1 for u, seg in getattr(d, "segments", {}).items() if u.startswith("alice"))
    spk_sets = {}
    for s, d in data.items():
        for spk in d.utt2spk.values():
            spk_sets.setdefault(spk, set()).add(s)
    assert all(len(v) == 1 for v in spk_sets.values())  # no speaker in two sets
