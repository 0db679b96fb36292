"""Tests for data_prep/common.py (bad-item accounting, text, splits, combining) and asr/data/segments.py,
including features of a segmented data dir (asr/data/feature_store.py)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asr.data.datadir import DataDirError, read_table
from asr.data.feature_store import cut_segment, make_features
from asr.data.features import FbankConfig
from asr.data.segments import (
    Segment,
    SegmentedDataDir,
    read_any_datadir,
    read_segmented_datadir,
    write_any_datadir,
)
from data_prep.common import (
    EMPTY_TRANSCRIPT,
    ID_COLLISION,
    MISSING_AUDIO,
    UNREADABLE,
    PrepError,
    PrepReport,
    RejectedText,
    Utterance,
    normalise_text,
    write_prepared_dir,
)
from data_prep.sets import SetSpec, assemble_sets, hash_split
from data_prep.download import verify_checksum


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("He said, \u201cHello there!\u201d", "he said hello there"),
        ("It\u2019s a well-known fact.", "it's a well known fact"),
        ("The caf\u00e9 opened at noon.", "the caf\u00e9 opened at noon"),
        ("'Quoted' words -- and/or dashes\u2014too", "quoted words and or dashes too"),
        ("CHAPTER ONE MISSUS RACHEL LYNDE", "chapter one missus rachel lynde"),
        ("  spaced \t out  ", "spaced out"),
        ("\u00dcber Stra\u00dfe", "\u00fcber stra\u00dfe"),
    ],
)
def test_normalise_text(raw, expected):
    assert normalise_text(raw) == expected


@pytest.mark.parametrize("raw, reason", [("Room 101", "digits"), ("\u00bd cup", "digits"), ("?!...", "nothing is left")])
def test_normalise_text_rejects_with_reason(raw, reason):
    with pytest.raises(RejectedText, match=reason):
        normalise_text(raw)


def _wav(path, seconds=0.3, sr=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), 0.1 * np.sin(np.arange(int(seconds * sr)) / 7.0), sr, subtype="PCM_16")
    return str(path)


def test_write_prepared_dir_drops_and_logs_bad_items(tmp_path):
    good = [Utterance(f"s1-{i}", "s1", _wav(tmp_path / f"a{i}.wav"), f"text {i}") for i in range(6)]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk")
    bad = [
        Utterance("s1-0", "s1", _wav(tmp_path / "dup.wav"), "again"),  # id collision
        Utterance("s2-0", "s2", str(tmp_path / "missing.wav"), "x"),
        Utterance("s2-1", "s2", str(broken), "x"),
        Utterance("s2-2", "s2", _wav(tmp_path / "e.wav"), "  "),
    ]
    report = PrepReport("train", source="fixture")
    write_prepared_dir(tmp_path / "out", good + bad, report, max_bad_fraction=0.5)
    assert report.kept == 6 and report.total == 10
    assert report.bad_counts() == {ID_COLLISION: 1, MISSING_AUDIO: 1, UNREADABLE: 1, EMPTY_TRANSCRIPT: 1}
    data = read_any_datadir(tmp_path / "out")
    assert data.utts == [f"s1-{i}" for i in range(6)]
    log = (tmp_path / "out" / "prepare.log").read_text()
    assert "# kept 6 of 10 utterances; bad 4 (40.0%, limit 50.0%)" in log
    assert f"{UNREADABLE}\t{broken}\ts2-1\tcannot decode audio" in log
    assert f"{ID_COLLISION}\t{tmp_path / 'dup.wav'}\ts1-0\tutterance id 's1-0' is already used by {tmp_path / 'a0.wav'}" in log


def test_too_many_bad_items_stop_with_a_clear_error(tmp_path):
    utts = [Utterance("s1-a", "s1", _wav(tmp_path / "a.wav"), "fine"), Utterance("s1-b", "s1", str(tmp_path / "no.wav"), "x")]
    with pytest.raises(PrepError) as e:
        write_prepared_dir(tmp_path / "out", utts, PrepReport("dev"), max_bad_fraction=0.1)
    msg = str(e.value)
    assert "50.0% bad, more than max_bad_fraction=0.1" in msg and str(tmp_path / "no.wav") in msg
    assert "prepare.log" in msg and "--max-bad-fraction" in msg
    assert (tmp_path / "out" / "prepare.log").is_file() and not (tmp_path / "out" / "wav.scp").exists()


def test_no_usable_utterance_is_an_error_even_with_a_lenient_limit(tmp_path):
    with pytest.raises(PrepError, match="no usable utterances"):
        write_prepared_dir(tmp_path / "out", [Utterance("a", "a", str(tmp_path / "x.wav"), "x")], PrepReport("t"), 1.0)


def test_hash_split_is_stable_and_fills_small_sets():
    keys = [f"utt{i}" for i in range(200)]
    split = hash_split(keys, 0.1, 0.1)
    assert {split[k] for k in keys} == {"train", "dev", "test"}
    assert 8 <= sum(v == "dev" for v in split.values()) <= 35
    grown = hash_split(keys + [f"new{i}" for i in range(50)], 0.1, 0.1)
    assert all(grown[k] == split[k] for k in keys)  # adding data never moves an utterance
    small = hash_split(["a", "b", "c"], 0.1, 0.1)
    assert sorted(small.values()) == ["dev", "test", "train"]


def _segmented_dir(tmp_path):
    rec = tmp_path / "rec.wav"
    sf.write(str(rec), np.random.default_rng(0).uniform(-0.3, 0.3, 32000).astype(np.float32), 16000, subtype="PCM_16")
    data = SegmentedDataDir(
        wav_scp={"rec1": str(rec)},
        text={"spk-a": "one", "spk-b": "two"},
        utt2spk={"spk-a": "spk", "spk-b": "spk"},
        segments={"spk-a": Segment("rec1", 0.0, 0.5), "spk-b": Segment("rec1", 1.25, -1)},
    )
    write_any_datadir(tmp_path / "d", data)
    return tmp_path / "d"


def test_segments_round_trip_and_features_cut_each_utterance(tmp_path):
    d = _segmented_dir(tmp_path)
    assert (d / "segments").read_text() == "spk-a rec1 0 0.5\nspk-b rec1 1.25 -1\n"
    data = read_segmented_datadir(d)
    assert data.utts == ["spk-a", "spk-b"] and data.segments["spk-b"].end == -1
    make_features(d, FbankConfig(num_mel_bins=40))
    frames = {u: int(n) for u, n in read_table(d / "utt2num_frames").items()}
    # 25 ms windows every 10 ms (snip_edges): 0.5 s -> 48 frames, 0.75 s -> 73 frames
    assert frames == {"spk-a": 48, "spk-b": 73}


@pytest.mark.parametrize(
    "segments, message",
    [
        ("spk-a rec9 0 0.5\nspk-b rec1 1 2\n", "recording 'rec9' is not in"),
        ("spk-a rec1 0.5 0.5\nspk-b rec1 1 2\n", "end 0.5 is not after start 0.5"),
        ("spk-a rec1 zero 1\nspk-b rec1 1 2\n", "must be seconds"),
        ("spk-b rec1 1 2\n", "utt 'spk-a' is not in"),
    ],
)
def test_segments_errors_name_file_and_line(tmp_path, segments, message):
    d = _segmented_dir(tmp_path)
    (d / "segments").write_text(segments)
    with pytest.raises(DataDirError, match=message) as e:
        read_segmented_datadir(d)
    assert str(d) in str(e.value)


def test_cut_segment_past_the_end_names_utterance():
    with pytest.raises(Exception, match="utt 'u1'.*after the end"):
        cut_segment(np.zeros(16000, dtype=np.float32), 16000, 0.5, 2.0, "u1", "/x.wav")


def test_assemble_sets_combines_parts_and_keeps_segments(tmp_path):
    seg = _segmented_dir(tmp_path)
    whole = tmp_path / "w"
    write_prepared_dir(whole, [Utterance("z-1", "z", _wav(tmp_path / "z1.wav"), "zed")], PrepReport("w"))
    (tmp_path / "local").mkdir()
    seg.rename(tmp_path / "local" / "a")
    whole.rename(tmp_path / "local" / "b")
    assemble_sets(tmp_path / "local", tmp_path / "data", [SetSpec("train", ["a", "b"]), SetSpec("dev", ["b"])])
    train = read_any_datadir(tmp_path / "data" / "train")
    assert train.utts == ["spk-a", "spk-b", "z-1"] and train.segments["z-1"] == Segment("z-1", 0.0, -1)
    assert read_any_datadir(tmp_path / "data" / "dev").utts == ["z-1"]
    with pytest.raises(PrepError, match="prepared part.*'nope'"):
        assemble_sets(tmp_path / "local", tmp_path / "data", [SetSpec("test", ["nope"])])


def test_verify_checksum_names_the_file(tmp_path):
    f = tmp_path / "archive.tar.gz"
    f.write_bytes(b"abc")
    verify_checksum(f, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    with pytest.raises(PrepError, match=f"{f}: sha256 is ba78.*delete it and download again"):
        verify_checksum(f, "0" * 64)
