"""Tests for asr/transcribe/formats.py: every format, subtitle cues, files and streams, and
scoring its CTM against its STM with our `asr score` and with NIST sclite."""

from __future__ import annotations

import io
import json
import re
import subprocess

import pytest
from test_scoring import SCLITE, _sum_table, needs_sclite

from asr.data.datadir import read_table
from asr.scoring.files import read_ref_hyp, read_transcripts
from asr.transcribe.formats import (
    EXTENSIONS,
    FORMATS,
    Cue,
    format_file,
    format_header,
    format_transcript,
    needs_timestamps,
    stm_lines,
    subtitle_cues,
    timestamp,
    wrap_words,
    write_transcript_file,
    write_transcripts,
)
from asr.transcribe.transcript import Transcript, Word

WORDS = [
    Word("hello", 0.21, 0.55, 0.97),
    Word("world", 0.61, 1.02, 0.91),
    Word("this", 2.0, 2.3, 0.5),  # after a pause of 0.98 s: a new cue
    Word("is", 2.35, 2.5, 1.0),
    Word("a", 2.55, 2.6, 0.8),
    Word("test", 2.7, 3.1234, 0.876),
]
T = Transcript("utt1", "in/a.wav", "hello world this is a test", duration=5.0, score=-3.2, words=WORDS)
EMPTY = Transcript("utt0", "in/b.wav", "", duration=1.5)
T_MS = Transcript(T.id, T.source, T.text, T.duration, T.score, [*WORDS[:-1], Word("test", 2.7, 3.123, 0.876)])  # in ms
UNTIMED = Transcript("utt2", "in/c.wav", "no  times\there", duration=2.25)


def _timed(*spans: tuple[str, float, float]) -> list[Word]:
    return [Word(w, s, e, 0.9) for w, s, e in spans]


# ---------------------------------------------------------------- every format


def test_formats_and_extensions():
    assert FORMATS == ("text", "jsonl", "kaldi", "ctm", "srt", "vtt")
    assert set(EXTENSIONS) == set(FORMATS) and len(set(EXTENSIONS.values())) == len(FORMATS)
    assert [f for f in FORMATS if needs_timestamps(f)] == ["jsonl", "ctm", "srt", "vtt"]
    with pytest.raises(ValueError, match="unknown output format 'csv'"):
        needs_timestamps("csv")
    with pytest.raises(ValueError, match="unknown output format"):
        format_transcript(T, "txt")


def test_text_and_kaldi():
    assert format_transcript(T, "text") == "in/a.wav\thello world this is a test\n"
    assert format_transcript(UNTIMED, "text") == "in/c.wav\tno times here\n"
    assert format_transcript(EMPTY, "text") == "in/b.wav\t\n"
    assert format_transcript(T, "kaldi") == "utt1 hello world this is a test\n"
    assert format_transcript(EMPTY, "kaldi") == "utt0\n"


def test_ctm_exact():
    assert format_transcript(T, "ctm") == (
        "utt1 1 0.210 0.340 hello 0.970\n"
        "utt1 1 0.610 0.410 world 0.910\n"
        "utt1 1 2.000 0.300 this 0.500\n"
        "utt1 1 2.350 0.150 is 1.000\n"
        "utt1 1 2.550 0.050 a 0.800\n"
        "utt1 1 2.700 0.423 test 0.876\n"
    )
    assert format_transcript(EMPTY, "ctm") == ""
    # sclite needs a file's words in order of time
    shuffled = Transcript("u", "u.wav", "b a", 1.0, words=_timed(("b", 0.5, 0.7), ("a", 0.1, 0.3)))
    assert [ln.split()[4] for ln in format_transcript(shuffled, "ctm").splitlines()] == ["a", "b"]
    with pytest.raises(ValueError, match="CTM needs word timestamps"):
        format_transcript(UNTIMED, "ctm")
    spaced = Transcript("u", "u.wav", "new york", 1.0, words=_timed(("new york", 0.1, 0.5)))
    with pytest.raises(ValueError, match="word 'new york' must be one token"):
        format_transcript(spaced, "ctm")


def test_srt_and_vtt_exact():
    assert format_file(T, "srt") == (
        "1\n00:00:00,210 --> 00:00:01,020\nhello world\n\n"
        "2\n00:00:02,000 --> 00:00:03,123\nthis is a test\n"
    )
    assert format_file(T, "vtt") == (
        "WEBVTT\n\n"
        "00:00:00.210 --> 00:00:01.020\nhello world\n\n"
        "00:00:02.000 --> 00:00:03.123\nthis is a test\n"
    )
    assert format_transcript(T, "vtt") == format_file(T, "vtt")[len("WEBVTT\n\n"):]
    assert format_header("vtt") == "WEBVTT\n\n" and all(format_header(f) == "" for f in FORMATS if f != "vtt")


def test_subtitles_without_words_and_empty():
    assert format_file(UNTIMED, "srt") == "1\n00:00:00,000 --> 00:00:02,250\nno times here\n"
    assert format_file(UNTIMED, "vtt") == "WEBVTT\n\n00:00:00.000 --> 00:00:02.250\nno times here\n"
    assert format_file(EMPTY, "srt") == ""
    assert format_file(EMPTY, "vtt") == "WEBVTT\n\n"


def test_vtt_escapes_markup():
    words = _timed(("<unk>", 0.0, 0.4), ("&", 0.5, 0.6), ("co", 0.7, 0.9))
    t = Transcript("u", "u.wav", "<unk> & co", 2.0, words=words)
    assert format_transcript(t, "vtt").splitlines()[1] == "&lt;unk&gt; &amp; co"


def test_jsonl_round_trip_with_milliseconds():
    t = Transcript("u-é", "é.wav", "café au lait", 1.23456, -7.5,
                   [Word("café", 0.1234, 0.5678, 0.25), Word("au", 0.6, 0.7, 0.5), Word("lait", 0.8, 1.0004, 0.75)])
    line = format_transcript(t, "jsonl")
    assert line.endswith("}\n") and line.count("\n") == 1 and "café" in line  # not \u00e9
    rounded = [Word("café", 0.123, 0.568, 0.25), Word("au", 0.6, 0.7, 0.5), Word("lait", 0.8, 1.0, 0.75)]
    assert Transcript.from_dict(json.loads(line)) == Transcript("u-é", "é.wav", "café au lait", 1.235, -7.5, rounded)
    assert Transcript.from_dict(json.loads(format_transcript(T, "jsonl"))) == T_MS
    assert Transcript.from_dict(json.loads(format_transcript(UNTIMED, "jsonl"))) == UNTIMED


# ---------------------------------------------------------------- cues and times


def test_timestamps_with_hours_and_rounding():
    assert timestamp(3725.5) == "01:02:05,500"
    assert timestamp(3725.5, ".") == "01:02:05.500"
    assert timestamp(1.9996) == "00:00:02,000"
    assert timestamp(0.0) == "00:00:00,000" and timestamp(-0.01) == "00:00:00,000"
    assert timestamp(360_000.25) == "100:00:00,250"
    late = Transcript("u", "u.wav", "late", 3726.0, words=_timed(("late", 3725.5, 3725.9)))
    assert "01:02:05,500 --> 01:02:05,900" in format_file(late, "srt")
    assert "01:02:05.500 --> 01:02:05.900" in format_file(late, "vtt")


def test_cues_split_at_pauses():
    words = _timed(("a", 0.0, 0.3), ("b", 0.9, 1.2), ("c", 1.799, 2.0), ("d", 2.0, 2.5))
    # 0.6 s before b (a pause: split), 0.599 s before c (not a pause)
    assert subtitle_cues(words) == [Cue(0.0, 0.3, ("a",)), Cue(0.9, 2.5, ("b c d",))]
    assert subtitle_cues(words, pause=0.5) == [Cue(0.0, 0.3, ("a",)), Cue(0.9, 1.2, ("b",)), Cue(1.799, 2.5, ("c d",))]
    assert subtitle_cues([]) == []


def test_cues_split_by_duration():
    words = _timed(*[(f"w{i}", float(i), i + 1.0) for i in range(10)])
    cues = subtitle_cues(words, max_seconds=6.0)
    assert cues == [Cue(0.0, 6.0, ("w0 w1 w2 w3 w4 w5",)), Cue(6.0, 10.0, ("w6 w7 w8 w9",))]
    assert [len(c.lines[0].split()) for c in subtitle_cues(words, max_seconds=2.5)] == [2, 2, 2, 2, 2]
    long = _timed(("long", 0.0, 9.0), ("next", 9.0, 9.5))  # a word longer than max_seconds: a cue of its own
    assert subtitle_cues(long) == [Cue(0.0, 9.0, ("long",)), Cue(9.0, 9.5, ("next",))]


def test_cues_split_by_characters():
    names = ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd", "eeeeeeeeee", "ffffffffff"]
    words = _timed(*[(n, i * 0.5, i * 0.5 + 0.5) for i, n in enumerate(names)])
    cues = subtitle_cues(words, max_chars=21, max_lines=2)
    assert cues == [
        Cue(0.0, 2.0, ("aaaaaaaaaa bbbbbbbbbb", "cccccccccc dddddddddd")),
        Cue(2.0, 3.0, ("eeeeeeeeee ffffffffff",)),
    ]
    assert [c.lines for c in subtitle_cues(words, max_chars=20, max_lines=1)] == [(n,) for n in names]
    assert [c.lines for c in subtitle_cues(words)] == [(" ".join(names[:3]), " ".join(names[3:]))]  # 42: 3 a line
    assert wrap_words(["x", "a" * 50, "y"], 42) == ["x", "a" * 50, "y"]  # an overlong word on a line of its own
    srt = format_transcript(Transcript("u", "u.wav", " ".join(names), 3.0, words=words[:4]), "srt")
    assert srt == "1\n00:00:00,000 --> 00:00:02,000\naaaaaaaaaa bbbbbbbbbb cccccccccc\ndddddddddd\n"


# ---------------------------------------------------------------- files, streams, read back


def test_kaldi_and_ctm_read_back(tmp_path):
    other = Transcript("utt3", "d.wav", "one more", 1.0, words=_timed(("one", 0.1, 0.4), ("more", 0.5, 0.8)))
    ts = [EMPTY, T, other]
    with open(tmp_path / "text", "w", encoding="utf-8") as f:
        assert write_transcripts(f, ts, "kaldi") == 3
    want = {t.id: t.text for t in ts}
    assert read_table(tmp_path / "text", allow_empty_value=True) == want
    assert read_transcripts(tmp_path / "text") == want
    with open(tmp_path / "hyp.ctm", "w", encoding="utf-8") as f:
        write_transcripts(f, ts, "ctm")
    assert read_transcripts(tmp_path / "hyp.ctm") == {"utt1": T.text, "utt3": "one more"}  # no lines for utt0


def test_streams():
    out = io.StringIO()
    assert write_transcripts(out, [T, UNTIMED, EMPTY], "text") == 3
    assert out.getvalue() == "in/a.wav\thello world this is a test\nin/c.wav\tno times here\nin/b.wav\t\n"
    out = io.StringIO()
    write_transcripts(out, (t for t in [T, EMPTY]), "jsonl")
    assert [Transcript.from_dict(json.loads(ln)) for ln in out.getvalue().splitlines()] == [T_MS, EMPTY]
    out = io.StringIO()
    assert write_transcripts(out, [T], "vtt") == 1 and out.getvalue() == format_file(T, "vtt")
    for fmt in ("srt", "vtt"):
        with pytest.raises(ValueError, match="one transcript per file"):
            write_transcripts(io.StringIO(), [T, T], fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_transcript_file(tmp_path, fmt):
    path = tmp_path / f"a{EXTENSIONS[fmt]}"
    path.write_text("old contents that are longer than the new ones " * 100)
    write_transcript_file(path, T, fmt)
    assert path.read_text(encoding="utf-8") == format_file(T, fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left


# ---------------------------------------------------------------- STM and scoring with sclite


def test_stm_lines():
    refs = {"b": ("hello  world", 2.0), "a": ("", 1.5), "c": ("<unk> there", 0.9996)}
    assert stm_lines(refs) == [
        "a 1 a 0.000 1.500", "b 1 b 0.000 2.000 hello world", "c 1 c 0.000 1.000 <o> <unk> there"
    ]
    assert stm_lines({"x": ("hi", 1.0)}, speaker="spk7") == ["x 1 spk7 0.000 1.000 hi"]
    with pytest.raises(ValueError, match="speaker 'a b'"):
        stm_lines({"x": ("hi", 1.0)}, speaker="a b")


def _utterances() -> tuple[dict[str, tuple[str, float]], list[Transcript]]:
    """3 references and hypotheses with 1 substitution, 1 insertion and 1 deletion, in order of id
    (the CTM must list files in the STM's order for sclite)."""
    refs = {
        "spk1-a": ("the cat sat on the mat", 3.0),
        "spk1-b": ("hello world", 1.5),
        "spk2-c": ("good morning everyone", 2.0),
    }
    hyps = {"spk1-a": "the cat sat in the mat", "spk1-b": "hello big world", "spk2-c": "good morning"}
    ts = []
    for utt, (_, duration) in refs.items():
        words = hyps[utt].split()
        step = duration / (len(words) + 1)
        timed = [Word(w, (i + 0.5) * step, (i + 1.2) * step, 0.9) for i, w in enumerate(words)]
        ts.append(Transcript(utt, f"{utt}.wav", hyps[utt], duration, words=timed))
    return refs, ts


def test_stm_ctm_read_back(tmp_path):
    refs, ts = _utterances()
    (tmp_path / "ref.stm").write_text("".join(ln + "\n" for ln in stm_lines(refs)))
    with open(tmp_path / "hyp.ctm", "w") as f:
        write_transcripts(f, ts, "ctm")
    r, h, spk = read_ref_hyp(tmp_path / "ref.stm", tmp_path / "hyp.ctm")
    assert sorted(r.values()) == sorted(text for text, _ in refs.values())
    assert sorted(h.values()) == sorted(t.text for t in ts) and set(spk.values()) == set(refs)


@needs_sclite
def test_sclite_and_asr_score_agree_on_stm_ctm(tmp_path, capsys):
    from asr.cli import main

    refs, ts = _utterances()
    (tmp_path / "ref.stm").write_text("".join(ln + "\n" for ln in stm_lines(refs)))
    with open(tmp_path / "hyp.ctm", "w", encoding="utf-8") as f:
        write_transcripts(f, ts, "ctm")
    # (# Snt, # Wrd, Corr, Sub, Del, Ins, Err, S.Err) per speaker (the id) and in total
    expected = {"spk1-a": (1, 6, 5, 1, 0, 0, 1, 1), "spk1-b": (1, 2, 2, 0, 0, 1, 1, 1),
                "spk2-c": (1, 3, 2, 0, 1, 0, 1, 1), "Sum": (3, 11, 9, 1, 1, 1, 3, 3)}
    # `-o rsum` is `-o sum` with counts instead of percentages
    cmd = [str(SCLITE), "-r", "ref.stm", "stm", "-h", "hyp.ctm", "ctm", "-i", "rm", "-o", "rsum", "stdout"]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60)
    assert _sum_table(run.stdout) == expected, run.stdout + run.stderr

    assert main(["score", str(tmp_path / "ref.stm"), str(tmp_path / "hyp.ctm"), "--bootstrap", "0",
                 "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    m = re.search(r"%WER ([\d.]+) \[ (\d+) / (\d+), (\d+) ins, (\d+) del, (\d+) sub \]", out)
    assert m is not None, out
    assert m.groups() == ("27.27", "3", "11", "1", "1", "1")
    report = json.loads((tmp_path / "out" / "score.json").read_text())["words"]
    ours = {s: tuple(c[k] for k in ("utts", "ref", "corr", "sub", "del", "ins", "err", "utts_wrong"))
            for s, c in [*report["per_spk"].items(), ("Sum", report["total"])]}
    assert ours == expected
