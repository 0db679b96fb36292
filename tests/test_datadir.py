"""Tests for asr/data/datadir.py: round trip, and validation errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr.data.datadir import (
    DataDir,
    DataDirError,
    read_datadir,
    read_table,
    spk2utt_from_utt2spk,
    write_datadir,
    write_table,
)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def test_read_fixture_data_dir(data_dir):
    data = read_datadir(data_dir)
    assert data.utts == ["spk1-001", "spk1-002", "spk2-001", "spk2-002"]
    assert data.text["spk2-001"] == "good morning"
    assert data.spk2utt == {"spk1": ["spk1-001", "spk1-002"], "spk2": ["spk2-001", "spk2-002"]}


def test_write_read_round_trip(tmp_path, data_dir):
    original = read_datadir(data_dir)
    # Insert in reverse order: the writer must sort.
    reordered = DataDir(
        wav_scp=dict(reversed(list(original.wav_scp.items()))),
        text=dict(reversed(list(original.text.items()))),
        utt2spk=dict(reversed(list(original.utt2spk.items()))),
    )
    out = tmp_path / "copy"
    write_datadir(out, reordered)
    again = read_datadir(out)
    assert again == original
    assert list(again.wav_scp) == sorted(original.wav_scp)
    assert _lines(out / "spk2utt") == ["spk1 spk1-001 spk1-002", "spk2 spk2-001 spk2-002"]
    assert not list(out.glob("*.tmp"))


def test_empty_transcript_round_trips(tmp_path, data_dir):
    data = read_datadir(data_dir)
    data.text["spk1-002"] = ""
    write_datadir(tmp_path / "out", data)
    assert "spk1-002" in _lines(tmp_path / "out" / "text")
    assert read_datadir(tmp_path / "out").text["spk1-002"] == ""


def test_write_table_keeps_multiword_values(tmp_path):
    write_table(tmp_path / "t", {"b": "x  y", "a": "one two three"})
    assert _lines(tmp_path / "t") == ["a one two three", "b x  y"]
    assert read_table(tmp_path / "t") == {"a": "one two three", "b": "x  y"}


def test_spk2utt_from_utt2spk_sorts_utterances():
    assert spk2utt_from_utt2spk({"u3": "s1", "u1": "s1", "u2": "s2"}) == {"s1": ["u1", "u3"], "s2": ["u2"]}


def test_unsorted_keys_name_file_and_line(data_dir):
    path = data_dir / "utt2spk"
    lines = _lines(path)
    lines[1], lines[2] = lines[2], lines[1]  # spk2-001 now before spk1-002
    _write_lines(path, lines)
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    msg = str(e.value)
    assert f"{path} line 3" in msg
    assert "spk1-002" in msg and "order" in msg


def test_unsorted_uses_c_locale_order(tmp_path):
    # In C locale upper case sorts before lower case; "B" after "a" is out of order.
    _write_lines(tmp_path / "t", ["A x", "B x", "a x"])
    assert list(read_table(tmp_path / "t")) == ["A", "B", "a"]
    _write_lines(tmp_path / "u", ["a x", "B x"])
    with pytest.raises(DataDirError, match="line 2"):
        read_table(tmp_path / "u")


def test_duplicate_key_names_file_and_line(data_dir):
    path = data_dir / "text"
    lines = _lines(path)
    lines.insert(2, "spk1-002 again")
    _write_lines(path, lines)
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    msg = str(e.value)
    assert f"{path} line 3" in msg and "duplicate" in msg and "spk1-002" in msg


def test_missing_audio_file_names_line_utt_and_path(data_dir):
    path = data_dir / "wav.scp"
    lines = _lines(path)
    lines[2] = "spk2-001 /nonexistent/dir/x.wav"
    _write_lines(path, lines)
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    msg = str(e.value)
    assert f"{path} line 3" in msg and "spk2-001" in msg and "/nonexistent/dir/x.wav" in msg
    # The same dir passes when audio is not checked.
    assert read_datadir(data_dir, check_audio=False).wav_scp["spk2-001"] == "/nonexistent/dir/x.wav"


def test_piped_wav_scp_is_refused(data_dir):
    path = data_dir / "wav.scp"
    lines = _lines(path)
    lines[1] = "spk1-002 sox a.wav -t wav - |"
    _write_lines(path, lines)
    with pytest.raises(DataDirError, match=r"line 2.*spk1-002.*pipe"):
        read_datadir(data_dir)


def test_utt_without_speaker_names_wav_scp_line(data_dir):
    path = data_dir / "utt2spk"
    _write_lines(path, [ln for ln in _lines(path) if not ln.startswith("spk2-001")])
    (data_dir / "spk2utt").unlink()
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    msg = str(e.value)
    assert f"{data_dir / 'wav.scp'} line 3" in msg and "spk2-001" in msg and "utt2spk" in msg


def test_speaker_for_unknown_utt_names_utt2spk_line(data_dir):
    path = data_dir / "utt2spk"
    _write_lines(path, _lines(path) + ["spk3-001 spk3"])
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    assert f"{path} line 5" in str(e.value) and "spk3-001" in str(e.value)


def test_text_for_unknown_utt_names_text_line(data_dir):
    path = data_dir / "text"
    lines = _lines(path)
    lines.insert(1, "spk1-0015 who is this")
    _write_lines(path, lines)
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    msg = str(e.value)
    assert f"{path} line 2" in msg and "spk1-0015" in msg and "wav.scp" in msg


def test_missing_transcript_names_wav_scp_line(data_dir):
    path = data_dir / "text"
    _write_lines(path, [ln for ln in _lines(path) if not ln.startswith("spk2-002")])
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    assert f"{data_dir / 'wav.scp'} line 4" in str(e.value) and "spk2-002" in str(e.value)


def test_spk2utt_mismatch_names_spk2utt_line(data_dir):
    path = data_dir / "spk2utt"
    _write_lines(path, ["spk1 spk1-001 spk1-002", "spk2 spk2-001"])  # spk2-002 forgotten
    with pytest.raises(DataDirError) as e:
        read_datadir(data_dir)
    msg = str(e.value)
    assert f"{path} line 2" in msg and "spk2" in msg


def test_spk2utt_missing_speaker_is_reported(data_dir):
    path = data_dir / "spk2utt"
    _write_lines(path, ["spk1 spk1-001 spk1-002"])
    with pytest.raises(DataDirError, match=r"spk2utt.*spk2"):
        read_datadir(data_dir)


def test_missing_table_names_the_file(data_dir):
    (data_dir / "utt2spk").unlink()
    with pytest.raises(DataDirError, match=r"utt2spk: file not found"):
        read_datadir(data_dir)


def test_not_a_directory(tmp_path):
    with pytest.raises(DataDirError, match="not a directory"):
        read_datadir(tmp_path / "nope")


def test_empty_line_and_missing_value_name_line(tmp_path):
    _write_lines(tmp_path / "a", ["u1 x", "", "u3 y"])
    with pytest.raises(DataDirError, match=r"a line 2: empty line"):
        read_table(tmp_path / "a")
    _write_lines(tmp_path / "b", ["u1 x", "u2"])
    with pytest.raises(DataDirError, match=r"b line 2: utt 'u2': no value"):
        read_table(tmp_path / "b")
    assert read_table(tmp_path / "b", allow_empty_value=True) == {"u1": "x", "u2": ""}


def test_invalid_utf8_names_file(tmp_path):
    (tmp_path / "text").write_bytes(b"u1 caf\xe9\n")
    with pytest.raises(DataDirError, match=r"text: not valid UTF-8"):
        read_table(tmp_path / "text")


def test_the_text_reader_and_the_scorer_split_alike(tmp_path):
    """LM tuning reads references with read_table, scoring with read_transcripts: a no-break space or
    U+3000 is part of a key or word for both (Kaldi and sclite split on ASCII whitespace only)."""
    from asr.data.datadir import read_table
    from asr.scoring.files import read_transcripts, split_words

    text = tmp_path / "text"
    text.write_text("a\u00a0b x\u3000y  z\t\nc \u00a0lead\n", encoding="utf-8")
    table = read_table(text, check_sorted=False)
    assert table == {"a\u00a0b": "x\u3000y  z", "c": "\u00a0lead"}
    assert {u: " ".join(split_words(t)) for u, t in table.items()} == read_transcripts(text)
