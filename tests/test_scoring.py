"""Tests for asr/scoring/wer.py (with asr/scoring/files.py and asr/scoring/reports.py): file formats,
counts, reports, `asr score`, and parity with the sclite binary."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asr.scoring.commands import compare_files, score_files
from asr.scoring.counts import ErrorCounts
from asr.scoring.files import (
    ScoringError,
    read_ref_hyp,
    read_transcripts,
    sclite_word,
    write_text,
    write_trn,
)
from asr.scoring.normalize import Normalizer, read_mapping
from asr.scoring.reports import format_per_utt, format_summary, kaldi_wer_line
from asr.scoring.wer import align_counts, score, write_score_dir

SCLITE = Path("/usr/lib/sctk/bin/sclite")
needs_sclite = pytest.mark.skipif(
    not SCLITE.exists(),
    reason=f"sclite not installed at {SCLITE}: Debian package sctk (`make test` installs it when run as root)",
)

HYPS = {"spk1-002": "hello there", "spk1-001": "", "spk2-001": "a  b\tc"}


def run_score(*args, **kwargs) -> int:
    """`asr score` as the CLI runs it: print the summary (0), or the error on stderr (1)."""
    return _run(score_files, *args, **kwargs)


def run_compare(*args, **kwargs) -> int:
    return _run(compare_files, *args, **kwargs)


def _run(fn, *args, **kwargs) -> int:
    try:
        print(fn(*args, **kwargs))
    except ScoringError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _counts(c: ErrorCounts) -> tuple[int, ...]:
    return (c.corr, c.sub, c.dele, c.ins)


# ---------------------------------------------------------------- files


def test_text_round_trip_sorted_with_empty_transcript(tmp_path):
    write_text(tmp_path / "text", HYPS)
    assert (tmp_path / "text").read_text() == "spk1-001\nspk1-002 hello there\nspk2-001 a b c\n"
    assert read_transcripts(tmp_path / "text") == {"spk1-001": "", "spk1-002": "hello there", "spk2-001": "a b c"}


def test_trn_round_trip_sorted_with_empty_transcript(tmp_path):
    write_trn(tmp_path / "hyp.trn", HYPS)
    assert (tmp_path / "hyp.trn").read_text() == "(spk1-001)\nhello there (spk1-002)\na b c (spk2-001)\n"
    assert read_transcripts(tmp_path / "hyp.trn") == {"spk1-001": "", "spk1-002": "hello there", "spk2-001": "a b c"}


def test_write_trn_prefixes_speaker_only_when_missing(tmp_path):
    write_trn(tmp_path / "x.trn", {"spk1-001": "a", "u7": "b"}, utt2spk={"spk1-001": "spk1", "u7": "spkB"})
    assert (tmp_path / "x.trn").read_text() == "a (spk1-001)\nb (spkB-u7)\n"


def test_auto_detection(tmp_path):
    # Parentheses inside a Kaldi line, or at the end of a minority of its lines, do not make it trn.
    text = _write(tmp_path / "text", "u1 hello (laughs) there\nu2 (noise)\nu3\n")
    assert read_transcripts(text) == {"u1": "hello (laughs) there", "u2": "(noise)", "u3": ""}
    trn = _write(tmp_path / "a", ";; comment\nhello (laughs) there (spk-u1)\n\n(spk-u2)\n  x y  ( spk-u3 ) \n")
    assert read_transcripts(trn) == {"spk-u1": "hello (laughs) there", "spk-u2": "", "spk-u3": "x y"}
    assert read_transcripts(_write(tmp_path / "empty", "")) == {}
    assert read_transcripts(_write(tmp_path / "bom", "\ufeffu1 hi\n")) == {"u1": "hi"}
    # only ASCII whitespace separates words, as in sclite and Kaldi
    assert read_transcripts(_write(tmp_path / "nbsp", "u1 a\u00a0b  c\r\n")) == {"u1": "a\u00a0b c"}


def test_ctm_hypotheses(tmp_path):
    ctm = _write(tmp_path / "hyp", ";; words per utterance, out of order\n"
                 "u2 1 0.50 0.20 world 0.9\nu1 A 0.00 0.30 only\nu2 1 0.10 0.30 hello 0.8\n")
    assert read_transcripts(ctm) == {"u2": "hello world", "u1": "only"}
    assert read_transcripts(_write(tmp_path / "x.ctm", "")) == {}
    with pytest.raises(ScoringError, match=r"x\.ctm line 2: not a CTM line"):
        read_transcripts(_write(tmp_path / "x.ctm", "u1 1 0.0 0.1 a\nu1 1 zero 0.1 b\n"))


def test_stm_reference_with_ctm_hypothesis(tmp_path):
    # sclite 2.4 puts these words in these segments: a word belongs to the first segment that
    # ends after its midpoint (w3 in the gap goes to the next; c, mid-point 2.0 = the end, too),
    # words after the last segment go to it, and words in an ignored segment are dropped.
    stm = _write(tmp_path / "ref", ";; x\nf1 1 A 1.00 2.00 <o,f0,male> a b\nf1 1 A 2.00 3.00 <o> c d\n"
                 "f1 1 B 3.00 4.00 <o> IGNORE_TIME_SEGMENT_IN_SCORING\nf1 1 B 4.00 5.00 e\n")
    ctm = _write(tmp_path / "hyp", "f1 1 0.10 0.20 w1\nf1 1 1.50 0.80 w2\nf1 1 1.90 0.20 c\nf1 1 2.50 0.20 d\n"
                 "f1 1 3.50 0.20 zz\nf1 1 4.50 0.20 e\nf1 1 5.90 0.40 w6\n")
    refs, hyps, spk = read_ref_hyp(stm, ctm)
    assert refs == {"A-f1-1-0000100-0000200": "a b", "A-f1-1-0000200-0000300": "c d", "B-f1-1-0000400-0000500": "e"}
    assert list(hyps.values()) == ["w1 w2", "c d", "e w6"] and set(spk.values()) == {"A", "B"}
    assert read_transcripts(stm) == refs
    assert score(refs, hyps, utt2spk=spk).per_spk["B"] == ErrorCounts(corr=1, ins=1, utts=1, utts_wrong=1)
    with pytest.raises(ScoringError, match="file 'f9' channel '1'"):
        read_ref_hyp(stm, _write(tmp_path / "extra", "f9 1 0.1 0.1 x\n"))
    assert read_ref_hyp(stm, tmp_path / "extra", ignore_extra=True)[1]["A-f1-1-0000100-0000200"] == ""
    with pytest.raises(ScoringError, match="must be a CTM file"):
        read_ref_hyp(stm, _write(tmp_path / "text", "u1 a b\n"))
    with pytest.raises(ScoringError, match=r"x\.stm line 2: not an STM line"):
        read_transcripts(_write(tmp_path / "x.stm", "f1 1 A 1.0 2.0 a\nf1 1 A 2.0\n"))
    with pytest.raises(ScoringError, match=r"x\.stm line 1: segment ends"):
        read_transcripts(_write(tmp_path / "x.stm", "f1 1 A 3.0 2.0 a\n"))


@pytest.mark.parametrize(
    "content, line, what",
    [
        ("u1 a\nu2 b\nu1 c\n", 3, "duplicate utterance id 'u1'"),
        ("a (s-1)\nb (s-2)\na (s-1)\n", 3, "duplicate utterance id 's-1'"),
        ("a (s-1)\n\nb c\n", 3, "no '(utt-id)'"),
        ("a (s-1)\nb ()\n", 2, "bad utterance id"),
        ("a (s-1)\nb (s 2)\n", 2, "bad utterance id"),
        (b"u1 ok\nu2 caf\xe9\n", 2, "not valid UTF-8"),
        ("u1 ok\n u2 starts with a space\n", 2, "starts with whitespace"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, content, line, what):
    path = _write(tmp_path / "hyp", content)
    with pytest.raises(ScoringError) as e:
        read_transcripts(path)
    assert f"{path} line {line}:" in str(e.value) and what in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ScoringError, match="nope"):
        read_transcripts(tmp_path / "nope")


# ---------------------------------------------------------------- counts


def test_error_counts_sum_and_zero_reference():
    a = align_counts("a b c d", "a x c d e")
    assert (a.corr, a.sub, a.dele, a.ins, a.ref_words, a.hyp_words, a.errors) == (3, 1, 0, 1, 4, 5, 2)
    assert a.wer == 50.0
    empty_ref = align_counts("", "q r")
    assert (empty_ref.ins, empty_ref.ref_words, empty_ref.wer) == (2, 0, 0.0)
    assert align_counts("", "").wer == 0.0 and align_counts("", "").utts_wrong == 0
    empty_hyp = align_counts("x y", "")
    assert (empty_hyp.dele, empty_hyp.wer) == (2, 100.0)
    total = sum([a, empty_ref, empty_hyp], ErrorCounts())
    assert (total.corr, total.sub, total.dele, total.ins, total.utts, total.utts_wrong) == (3, 1, 2, 3, 3, 3)
    assert ErrorCounts().wer == 0.0 and ErrorCounts().ser == 0.0


def test_sclite_weights_not_minimum_edit_distance():
    # 3 deletions + 3 insertions cost 18 with sclite's weights; 5 substitutions would cost 20
    assert _counts(align_counts("b b b a a a", "a a c a b b")) == (3, 0, 3, 3)


def test_case_folding_is_sclites():
    assert align_counts("Hello World", "hello WORLD").errors == 0
    assert align_counts("Hello World", "hello WORLD", case_sensitive=True).sub == 2
    # sclite folds A-Z only: É and é differ, as do ß and SS
    assert align_counts("École Straße", "école STRASSE").sub == 2
    assert align_counts("a\u00a0b", "a b").ref_words == 1  # a no-break space does not split words


def test_cer_counts_non_space_characters():
    c = align_counts("hello world", "helo word", char_level=True)
    assert (c.ref_words, c.corr, c.dele, c.sub, c.ins) == (10, 8, 2, 0, 0)
    assert kaldi_wer_line(c, "CER") == "%CER 20.00 [ 2 / 10, 0 ins, 2 del, 0 sub ]"
    # A moved word boundary is a word error but not a character error.
    assert align_counts("ab cd", "a bcd", char_level=True).errors == 0
    assert align_counts("ab cd", "a bcd").errors == 2
    assert align_counts("café", "CAFE", char_level=True).sub == 1  # code points, not UTF-8 bytes


def test_kaldi_wer_line_exact():
    counts = ErrorCounts(corr=884, sub=93, dele=20, ins=10)
    assert kaldi_wer_line(counts) == "%WER 12.34 [ 123 / 997, 10 ins, 20 del, 93 sub ]"
    assert kaldi_wer_line(ErrorCounts(ins=3)) == "%WER 0.00 [ 3 / 0, 3 ins, 0 del, 0 sub ]"


# ---------------------------------------------------------------- normalisation


def test_normalizer():
    norm = Normalizer()
    assert norm("Hello, World!  It's   \"fine\" -- well-known 'quote' rock’n’roll É") == \
        "hello world it's fine well known quote rock'n'roll é"
    mapping = {("colour",): ("color",), ("uh",): (), ("all", "right"): ("alright",)}
    assert Normalizer(mapping)("Uh, the colour is all right. All") == "the color is alright all"


def test_read_mapping(tmp_path):
    path = _write(tmp_path / "map", "# comment\nColour color\nuh\nall right\talright\n\n")
    assert read_mapping(path) == {("colour",): ("color",), ("uh",): (), ("all", "right"): ("alright",)}
    with pytest.raises(ScoringError, match=rf"{path} line 2: 'a' is mapped twice"):
        read_mapping(_write(path, "a b\nA, c\n"))
    with pytest.raises(ScoringError, match=rf"{path} line 1: nothing to map"):
        read_mapping(_write(path, "...\tx\n"))


def test_normalisation_applies_to_both_sides_and_shows_in_reports(tmp_path):
    refs, hyps = {"s-1": "Hello, world! Colour"}, {"s-1": "hello world color."}
    assert score(refs, hyps).total.errors == 3
    norm = Normalizer({("colour",): ("color",)}, "my.map")
    res = write_score_dir(tmp_path, refs, hyps, normalizer=norm)
    assert res.words.total.errors == 0 and "my.map (1 entries)" in res.words.normalization
    for name in ("sum", "rsum", "pra", "dtl"):
        assert "Normalisation: lowercase, punctuation removed" in (tmp_path / name).read_text()
    assert json.loads((tmp_path / "score.json").read_text())["normalization"] == res.words.normalization
    assert (tmp_path / "ref.trn").read_text() == "hello world color (s-1)\n"  # sclite re-scores what we scored


# ---------------------------------------------------------------- sets

REFS = {"s1-a": "a b c d", "s1-b": "x y", "s2-a": "", "s2-b": "the cat sat", "s3-a": "hello"}
HYPS_SET = {"s1-a": "a x c d e", "s1-b": "", "s2-a": "q", "s2-b": "the cat sat"}


def test_score_missing_hyp_counts_as_deletions_and_speakers_sum_to_total():
    report = score(REFS, HYPS_SET)
    assert report.missing == ["s3-a"] and report.extra == []
    assert report.per_utt["s3-a"] == ErrorCounts(dele=1, utts=1, utts_wrong=1)
    assert list(report.per_spk) == ["s1", "s2", "s3"]
    assert sum(report.per_spk.values(), ErrorCounts()) == report.total
    assert sum(report.per_utt.values(), ErrorCounts()) == report.total
    assert kaldi_wer_line(report.total) == "%WER 60.00 [ 6 / 10, 2 ins, 3 del, 1 sub ]"
    by_spk = score(REFS, HYPS_SET, utt2spk={u: "A" if u != "s2-b" else "B" for u in REFS})
    assert list(by_spk.per_spk) == ["A", "B"] and by_spk.total == report.total


def test_speaker_is_sclites_rm_speaker():
    report = score({"ab_1-x": "a", "ab-2": "b", "cd": "c"}, {"ab_1-x": "a", "ab-2": "b", "cd": "c"})
    assert list(report.per_spk) == ["ab", "cd"] and report.per_spk["ab"].utts == 2


def test_score_extra_hyp_raises_unless_ignored():
    hyps = HYPS_SET | {"s9-zzz": "oops"}
    with pytest.raises(ScoringError, match="'s9-zzz' has no reference"):
        score(REFS, hyps)
    report = score(REFS, hyps, ignore_extra=True)
    assert report.extra == ["s9-zzz"] and report.total == score(REFS, HYPS_SET).total


def test_score_utt2spk_missing_utterance():
    with pytest.raises(ScoringError, match="'s3-a' has no speaker"):
        score(REFS, HYPS_SET, utt2spk={u: "x" for u in REFS if u != "s3-a"})


def test_sclite_alternations_are_refused():
    with pytest.raises(ScoringError, match="utterance 'u1' has an sclite alternation"):
        score({"u1": "{ a / b } c"}, {"u1": "a c"})
    assert score({"u1": "{a} / b"}, {"u1": "{a} / b"}).total.errors == 0  # braces alone are words


def test_empty_files_score_zero_words(tmp_path, capsys):
    res = write_score_dir(tmp_path / "out", {}, {})
    assert res.words.total == ErrorCounts() and res.words_ci is None
    assert (tmp_path / "out" / "wer").read_text() == "%WER 0.00 [ 0 / 0, 0 ins, 0 del, 0 sub ]\n"
    ref, hyp = _write(tmp_path / "ref", ""), _write(tmp_path / "hyp", "")
    assert run_score(ref, hyp, out_dir=tmp_path / "o2") == 0
    assert capsys.readouterr().out.startswith("%WER 0.00 [ 0 / 0,")
    # references without a single word: insertions, WER 0 by convention, no division by zero
    res = write_score_dir(tmp_path / "o3", {"a-1": "", "a-2": ""}, {"a-1": "x", "a-2": ""})
    assert res.words.total.ins == 1 and res.words.total.wer == 0.0 and res.words_ci.high == 0.0
    assert "1*" in (tmp_path / "o3" / "sum").read_text()


def test_per_utt_is_kaldi_format():
    lines = format_per_utt(score({"u1": "a bb c"}, {"u1": "a x c dd"}))
    assert lines == ["u1 ref  a bb c ***", "u1 hyp  a x  c dd", "u1 op   C S  C I", "u1 #csid 2 1 1 0"]


def test_reports(tmp_path):
    refs = {"s1-001": "b b b a a a", "s1-002": "a b c d", "s2_003": "Hello World", "s3-004": ""}
    hyps = {"s1-001": "a a c a b b", "s1-002": "a x c d e", "s2_003": "hello world", "s3-004": "foo"}
    res = write_score_dir(tmp_path, refs, hyps, names=("ref.txt", "hyp.txt"))
    pra = (tmp_path / "pra").read_text()
    # the same lines as sclite's pra for these pairs
    assert "id: (s1-001)\nScores: (#C #S #D #I) 3 0 3 3\nREF:  B B B a a * a * *\nHYP:  * * * a a C a B B\n" in pra
    assert "REF:  a B c d *\nHYP:  a X c d E\nEval:   S     I" in pra
    assert "REF:  hello world\nHYP:  hello world\n" in pra and "REF:  ***\nHYP:  FOO\nEval: I" in pra
    assert "Reference:     ref.txt" in pra and "case-insensitive" in pra
    dtl = (tmp_path / "dtl").read_text()
    assert "   1:    1  ->  b ==> x" in dtl
    assert re.search(r"INSERTIONS +Total +\(4\)\n.*\n\n   1:    2  ->  b\n   2:    1  ->  c\n", dtl)
    assert "DELETIONS" in dtl and "   1:    3  ->  b\n" in dtl
    assert _sum_table((tmp_path / "rsum").read_text()) == {
        "s1": (2, 10, 6, 1, 3, 4, 8, 2), "s2": (1, 2, 2, 0, 0, 0, 0, 0), "s3": (1, 0, 0, 0, 0, 1, 1, 1),
        "Sum": (4, 12, 8, 1, 3, 5, 9, 3)}
    summ = (tmp_path / "sum").read_text()  # percentages, as sclite's for the same files
    assert "| s1      |     2    10 |  60.0  10.0  30.0  40.0  80.0 100.0 |" in summ
    assert "| Sum/Avg |     4    12 |  66.7   8.3  25.0  41.7  75.0  75.0 |" in summ
    assert "|   Mean  |   1.3   4.0 | 80.0+  5.0+ 15.0+ 20.0+ 40.0+  66.7 |" in summ
    data = json.loads((tmp_path / "score.json").read_text())
    assert data["words"]["total"] == {"utts": 4, "ref": 12, "hyp": 14, "corr": 8, "sub": 1, "del": 3, "ins": 5,
                                      "err": 9, "utts_wrong": 3, "wer": 75.0, "ser": 75.0}
    assert data["words"]["per_spk"]["s3"]["ins"] == 1 and data["words"]["per_utt"]["s2_003"]["spk"] == "s2"
    assert data["chars"]["total"]["ref"] == res.chars.total.ref_words == 20
    ci = data["words"]["bootstrap_ci"]
    assert ci["low"] <= 75.0 <= ci["high"] and ci["reps"] == 1000
    case = write_score_dir(tmp_path / "cs", refs, hyps, case_sensitive=True)
    assert case.words.per_spk["s2"].sub == 2
    assert "REF:  Hello World\nHYP:  hello world" in (tmp_path / "cs" / "pra").read_text()


def test_write_score_dir_and_run_score(tmp_path, capsys):
    res = write_score_dir(tmp_path / "score", REFS, HYPS_SET)
    out = tmp_path / "score"
    assert (out / "wer").read_text() == kaldi_wer_line(res.words.total) + "\n"
    assert (out / "cer").read_text().startswith("%CER ")
    assert read_transcripts(out / "hyp.trn") == {u: HYPS_SET.get(u, "") for u in REFS}  # missing hyp written empty
    assert read_transcripts(out / "ref.trn") == REFS
    assert "s3-a #csid 0 0 0 1" in (out / "per_utt").read_text().splitlines()
    per_spk = (out / "per_spk").read_text().splitlines()
    assert per_spk[0].split()[:3] == ["SPKR", "METRIC", "#Utt"] and len(per_spk) == 1 + 2 * 4

    ref, hyp = _write(tmp_path / "text", "".join(f"{u} {t}\n" for u, t in REFS.items())), tmp_path / "hyp.trn"
    write_trn(hyp, HYPS_SET)
    assert run_score(ref, hyp) == 0
    out_lines = capsys.readouterr().out.splitlines()
    assert out_lines[0] == "%WER 60.00 [ 6 / 10, 2 ins, 3 del, 1 sub ]"
    assert out_lines[1].startswith("%WER 95% CI [ ") and "1000 resamples" in out_lines[1]
    assert "Sum/Avg WER: 5 utts, 10 ref, Corr 6 Sub 1 Del 3 Ins 2 Err 6 S.Err 4" in out_lines
    assert run_score(ref, hyp, out_dir=tmp_path / "s2", char_level=True, bootstrap=0) == 0
    out = capsys.readouterr().out
    assert "%CER" in out and "CI" not in out and (tmp_path / "s2" / "per_spk").exists()
    write_trn(hyp, HYPS_SET | {"s9-zzz": "oops"})
    assert run_score(ref, hyp) == 1
    assert "'s9-zzz'" in capsys.readouterr().err
    assert run_score(ref, hyp, ignore_extra=True) == 0
    assert "1 hyps without reference ignored" in capsys.readouterr().out
    utt2spk = _write(tmp_path / "utt2spk", "".join(f"{u} X\n" for u in REFS))
    assert run_score(ref, hyp, out_dir=tmp_path / "s3", ignore_extra=True, utt2spk_path=utt2spk) == 0
    capsys.readouterr()
    assert [line.split()[0] for line in (tmp_path / "s3" / "per_spk").read_text().splitlines()[1:3]] == ["X", "Sum"]
    assert format_summary(score(REFS, HYPS_SET)).startswith("%WER")
    mapping = _write(tmp_path / "map", "hello\n")  # delete 'hello': s3-a becomes empty, no deletion left
    assert run_score(ref, hyp, ignore_extra=True, mapping_path=mapping) == 0
    assert capsys.readouterr().out.startswith("%WER 55.56 [ 5 / 9,")


def test_run_compare(tmp_path, capsys):
    refs = {f"s{i % 4}-{i:03d}": "the cat sat on the mat today" for i in range(60)}
    good = {u: t.replace("today", "to day") if i % 6 == 0 else t for i, (u, t) in enumerate(refs.items())}
    bad = {u: t.replace("cat", "hat").replace("mat", "") for u, t in refs.items()}
    ref, a, b = (_write(tmp_path / n, "".join(f"{u} {t}\n" for u, t in d.items()))
                 for n, d in (("ref", refs), ("a", bad), ("b", good)))
    assert run_compare(ref, a, b, bootstrap=2000) == 0
    out = capsys.readouterr().out
    assert "A: %WER 28.57 [ 120 / 420, 0 ins, 60 del, 60 sub ]" in out
    assert re.search(r"B \(.*/b\) is better, significant at the 5% level", out) and "p < 0.0005" in out
    assert run_compare(ref, b, b, bootstrap=100) == 0
    assert "p = 1.0000: no significant difference" in capsys.readouterr().out
    assert run_compare(_write(tmp_path / "empty", ""), a, b, ignore_extra=True) == 1
    assert "no utterances" in capsys.readouterr().err


# ---------------------------------------------------------------- parity with sclite

# Hand-made pairs: empty sides, repetitions, reorderings, apostrophes, case, non-ASCII,
# punctuation, trn-looking tokens, and pairs where sclite's weights beat the edit distance.
PAIRS = [
    ("a b c d", "a x c d e"), ("x y", ""), ("", "q"), ("", ""), ("go", "go"),
    ("a a a a b", "b a a a a"), ("the cat sat on the mat", "the cat sat on mat"),
    ("she sells sea shells", "he sells see shells by"), ("one two three four five", "one too three for five six"),
    ("a b", "c d"), ("a a b", "b c c"), ("it is what it is", "it is it is"),
    ("b b b a a a", "a a c a b b"), ("a b b a a b b b", "b b b b c c b c"),
    ("Hello World", "hello world"), ("UPPER lower MiXeD", "upper LOWER mixed"), ("word", "WORD"),
    ("ok OK Ok oK", "ok ok ok ok"), ("A B C", "a b c"),
    ("don't stop believing", "dont stop believin'"), ("it's the dog's bone", "its the dogs bone"),
    ("rock 'n' roll", "rock n roll"), ("O'Brien said no", "o'brien said know"), ("Mr. Smith's car", "mister smith's car"),
    ("the the the the", "the the"), ("the", "the the the the"), ("a b a b a b", "b a b a b a"),
    ("New York New York", "new york"), ("a b c a b c a b c", "a b c a b c"), ("x y z x y z", "z y x z y x"),
    ("École über naïve", "école Über naive"), ("日本語 の テスト", "日本 の テスト"), ("café au lait", "cafe au lait"),
    ("well-known fact", "well known fact"), ("(uh) hello there", "hello there"), ("hello", "(uh) hello"),
    ("<unk> is here", "it is here"), ("%hesitation yes", "yes"), ("a.b, c!", "a.b c"),
    ("numbers 1 2 3", "numbers one two three"), ("x", "a b c d e f g"), ("a b c d e f g", "x"),
    ("a b c", "c b a"), ("a b c d", "d c b a"), ("aa bb cc", "aa cc bb"),
    ("to be or not to be", "to bee or knot to be"), ("i scream", "ice cream"),
    ("recognize speech", "wreck a nice beach"), ("a", "a a"), ("a a", "a"), ("a b", "c"), ("a", "b c"),
    ("a b", "b a"), ("hello world", "helloworld"), ("ab cd", "a bcd"), ("yes", ""), ("", "yes no"),
    ("a\u00a0b c", "a b c"),
    ("the quick brown fox jumps over the lazy dog", "the quick brown fox jumped over a lazy dog"),
    (" ".join(f"w{i % 7}" for i in range(60)), " ".join(f"w{(i * 3) % 7}" for i in range(55))),
]
SPEAKERS = ["spka", "spkb", "c", "dd"]


def _sum_table(text: str) -> dict[str, tuple[int, ...]]:
    """{speaker or 'Sum': (# Snt, # Wrd, Corr, Sub, Del, Ins, Err, S.Err)} from an rsum table (sclite's or ours)."""
    table = {}
    for line in text.splitlines():  # | spk1 |    4     11 |    6      2      3      0      5      3 |[ NCE |]
        cells = [c.strip() for c in line.split("|")]
        if len(cells) >= 5 and cells[1] and cells[1] not in ("SPKR", "Mean", "S.D.", "Median"):
            nums = (cells[2] + " " + cells[3]).split()
            if all(x.isdigit() for x in nums):
                table[cells[1]] = tuple(int(x) for x in nums)
    return table


_STEP = re.compile(r'([CSDI]),(?:"(.*?)")?,(?:"(.*?)")?(?=:[CSDI],|$)')


def _sclite(tmp_path: Path, *options: str) -> tuple[dict, dict]:
    """Run sclite on tmp_path/{ref,hyp}.trn: (rsum table, {utt: [(op, ref, hyp)]} from its sgml)."""
    cmd = [str(SCLITE), "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm", *options]
    rsum = subprocess.run(cmd + ["-o", "rsum", "stdout"], cwd=tmp_path, capture_output=True, check=True,
                          timeout=120).stdout.decode("utf-8")
    sgml = subprocess.run(cmd + ["-o", "sgml", "stdout"], cwd=tmp_path, capture_output=True, check=True,
                          timeout=120).stdout.decode("utf-8")
    steps, utt = {}, None
    for line in sgml.splitlines():
        if line.startswith("<PATH "):
            utt = re.search(r'id="\((.*?)\)"', line).group(1)
            steps[utt] = []
        elif utt is not None and not line.startswith("<"):
            steps[utt] = [(m.group(1), m.group(2) or "", m.group(3) or "") for m in _STEP.finditer(line)]
    return _sum_table(rsum), steps


def _assert_same_as_sclite(tmp_path: Path, pairs: list[tuple[str, str]], case_sensitive: bool, char_level: bool):
    """Score with write_score_dir and with sclite; every count per utterance, per speaker and in total agrees."""
    refs, hyps = {}, {}
    for i, (r, h) in enumerate(pairs):
        utt = f"{SPEAKERS[i % len(SPEAKERS)]}{'-_'[i % 2]}{i:04d}"
        refs[utt], hyps[utt] = r, h
    res = write_score_dir(tmp_path, refs, hyps, case_sensitive=case_sensitive, bootstrap=0)
    report = res.chars if char_level else res.words
    options = (["-s"] if case_sensitive else []) + (["-c", "-e", "utf-8"] if char_level else [])
    theirs, steps = _sclite(tmp_path, *options)
    ours = {s: (c.utts, c.ref_words, c.corr, c.sub, c.dele, c.ins, c.errors, c.utts_wrong)
            for s, c in [*report.per_spk.items(), ("Sum", report.total)]}
    assert theirs == ours
    if not char_level:
        assert _sum_table((tmp_path / "rsum").read_text()) == ours  # our rsum report shows the same numbers
    eps = {"***": ""}
    for utt in refs:  # the same alignment: which words are wrong and where errors sit
        mine = [(op, eps.get(r, r), eps.get(h, h)) for op, r, h in report.alignments[utt]]
        # sclite's sgml writes a word as read, with its tags (`word;tag1;tag2`) and escapes
        assert mine == [(op, sclite_word(r), sclite_word(h)) for op, r, h in steps[utt]], utt


@needs_sclite
@pytest.mark.parametrize("case_sensitive", [False, True], ids=["default", "case-sensitive"])
def test_parity_with_sclite_on_hand_made_pairs(tmp_path, case_sensitive):
    assert len(PAIRS) >= 50
    _assert_same_as_sclite(tmp_path, PAIRS, case_sensitive, char_level=False)


@needs_sclite
def test_parity_with_sclite_characters(tmp_path):
    _assert_same_as_sclite(tmp_path, PAIRS, case_sensitive=False, char_level=True)


@needs_sclite
def test_counts_match_sclite_where_weights_matter(tmp_path):
    _assert_same_as_sclite(tmp_path, [("b b b a a a", "a a c a b b"), ("a b b a a b b b", "b b b b c c b c")],
                           case_sensitive=True, char_level=False)


@needs_sclite
@pytest.mark.parametrize("case_sensitive", [False, True], ids=["default", "case-sensitive"])
def test_parity_with_sclite_on_random_pairs(tmp_path, case_sensitive):
    # A small vocabulary with case variants: equal-cost alignments are frequent, so this
    # checks sclite's tie-breaking (which error sits where), not only the totals.
    rng = random.Random(20240601)
    vocab = ["a", "b", "c", "A", "B", "ab", "don't", "dont"]
    pairs = []
    for _ in range(300):
        words = vocab[: rng.choice([2, 3, 8])]
        pairs.append((" ".join(rng.choices(words, k=rng.randint(0, 10))),
                      " ".join(rng.choices(words, k=rng.randint(0, 10)))))
    _assert_same_as_sclite(tmp_path, pairs, case_sensitive, char_level=False)


# sclite's reader: `word;tag1;tag2` is `word`, a backslash escapes (and goes), a trailing `*` goes
SCLITE_WORD_PAIRS = [
    ("yes! no? maybe;", "yes no maybe"), ("maybe;tag1;tag2 x", "maybe x"), ("may\\;be", "may;be"),
    ("may\\;be", "may\\;be"), ("maybe* no", "maybe no*"), ("* ** a", "* * a"), ("a\\b", "ab"),
    ("yes ;; no", "yes no"), ("a;b c", "a c"), ("ab;cd", "ab"), ("MAYBE;", "maybe"),
]


def test_sclite_word_rules():
    # the case: sclite counts `maybe;` correct against `maybe`
    assert _counts(score({"s-1": "yes! no? maybe;"}, {"s-1": "yes no maybe"}).total) == (1, 2, 0, 0)
    assert _counts(align_counts("maybe* may\\;be x;y", "maybe may\\;be x")) == (3, 0, 0, 0)
    assert _counts(align_counts("may\\;be", "may;be")) == (0, 1, 0, 0)  # `may;be` is `may`
    res = score({f"s-{i}": r for i, (r, _) in enumerate(SCLITE_WORD_PAIRS)},
                {f"s-{i}": h for i, (_, h) in enumerate(SCLITE_WORD_PAIRS)})
    assert [res.ops[f"s-{i}"] for i in range(len(SCLITE_WORD_PAIRS))] == [
        "SSC", "CC", "S", "C", "CC", "CCC", "C", "CDC", "CC", "C", "C"]
    # the rule comes before --normalize; char-level counts see the words as read
    assert score({"u": "may;be x"}, {"u": "may x"}, normalizer=Normalizer()).total.errors == 0
    assert score({"u": "ab;cd"}, {"u": "ab"}, char_level=True).total.errors == 0


@needs_sclite
@pytest.mark.parametrize("char_level", [False, True], ids=["words", "chars"])
def test_sclite_word_rules_match_sclite(tmp_path, char_level):
    _assert_same_as_sclite(tmp_path, SCLITE_WORD_PAIRS, case_sensitive=False, char_level=char_level)


# ---------------------------------------------------------------- the `asr score` command


def test_cli_options(tmp_path, capsys):
    from asr.cli import main

    ref = _write(tmp_path / "ref", "s1-a Hello, World\ns1-b colour me\n")
    hyp = _write(tmp_path / "hyp", "hello world (s1-a)\ncolor me (s1-b)\n")
    assert main(["score", str(ref), str(hyp), "--bootstrap", "0"]) == 0
    assert capsys.readouterr().out.startswith("%WER 50.00 [ 2 / 4, 0 ins, 0 del, 2 sub ]")
    assert main(["score", str(ref), str(hyp), "--case-sensitive"]) == 0
    assert capsys.readouterr().out.startswith("%WER 75.00 [ 3 / 4,")
    mapping = _write(tmp_path / "map", "colour color\n")
    assert main(["score", str(ref), str(hyp), "--map", str(mapping), "--out-dir", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("%WER 0.00 [ 0 / 4,") and "word mapping" in out and (tmp_path / "o" / "dtl").exists()
    assert main(["score", str(ref), str(hyp), "--normalize", "--cer"]) == 0
    assert capsys.readouterr().out.startswith("%CER 5.56 [ 1 / 18, 0 ins, 1 del, 0 sub ]")  # colour/color
    utt2spk = _write(tmp_path / "utt2spk", "s1-a A\ns1-b B\n")
    assert main(["score", str(ref), str(hyp), "--utt2spk", str(utt2spk), "--out-dir", str(tmp_path / "u")]) == 0
    assert list(json.loads((tmp_path / "u" / "score.json").read_text())["words"]["per_spk"]) == ["A", "B"]
    capsys.readouterr()
    assert main(["score", str(ref), "--compare", str(hyp), str(ref), "--bootstrap", "200", "--seed", "3"]) == 0
    assert "Paired bootstrap (200 resamples" in capsys.readouterr().out
    assert main(["score", str(ref)]) == 2 and "either HYP or --compare" in capsys.readouterr().err
    assert main(["score", str(ref), "--compare", str(hyp), str(ref), "--out-dir", "x"]) == 2
    bad = _write(tmp_path / "bad", b"s1-a caf\xe9\n")
    assert main(["score", str(ref), str(bad)]) == 1
    assert f"{bad} line 1: not valid UTF-8" in capsys.readouterr().err


def _conversation(seed: int) -> tuple[str, str]:
    """An STM reference and a CTM hypothesis of two recordings (one with two channels):
    gaps, an overlap, an ignored segment, words in gaps, before the first and after the last segment."""
    rng = random.Random(seed)
    vocab = ["yes", "no", "okay", "right", "well", "so", "the", "a", "uh"]
    stm, ctm = [";; made up"], []
    for file, channel in (("f1", "1"), ("f2", "A"), ("f2", "B")):
        t = rng.uniform(0.2, 1.0)
        for k in range(12):
            start, end = t, t + rng.uniform(0.8, 3.0)
            spk = rng.choice(["spk1", "spk2", "spk3"])
            words = rng.choices(vocab, k=rng.randint(0, 6))
            text = "ignore_time_segment_in_scoring" if k == 5 else " ".join(words)
            stm.append(f"{file} {channel} {spk} {start:.2f} {end:.2f} <o,f0,male> {text}")
            for w in words if rng.random() < 0.9 else []:
                if rng.random() < 0.85:
                    at = rng.uniform(start - 0.6, end + 0.6)
                    ctm.append((file, channel, max(at, 0.0), rng.choice([w, w, w, rng.choice(vocab)])))
            t = end - 0.5 if k == 7 else end + rng.choice([0.0, 0.3, 1.2])  # segment 8 overlaps segment 7
    ctm.sort()
    return "\n".join(stm) + "\n", "".join(f"{f} {c} {s:.2f} 0.20 {w} 0.9\n" for f, c, s, w in ctm)


@needs_sclite
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parity_with_sclite_stm_ctm(tmp_path, seed):
    stm, ctm = _conversation(seed)
    ref, hyp = _write(tmp_path / "ref.stm", stm), _write(tmp_path / "hyp.ctm", ctm)
    assert run_score(ref, hyp, out_dir=tmp_path / "out", bootstrap=0) == 0
    report = json.loads((tmp_path / "out" / "score.json").read_text())["words"]
    ours = {s: tuple(c[k] for k in ("utts", "ref", "corr", "sub", "del", "ins", "err", "utts_wrong"))
            for s, c in [*report["per_spk"].items(), ("Sum", report["total"])]}
    cmd = [str(SCLITE), "-r", "ref.stm", "stm", "-h", "hyp.ctm", "ctm", "-o", "rsum", "stdout"]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60).stdout
    assert _sum_table(out) == ours
