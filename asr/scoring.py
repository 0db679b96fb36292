"""Scoring: WER/CER with Kaldi-style reports; Kaldi `text` and sclite `trn` files.

Files written by `write_score_dir(out_dir, ...)`:

    wer      one line, as Kaldi's compute-wer: %WER 12.34 [ 123 / 997, 10 ins, 20 del, 93 sub ]
    cer      the same for characters: %CER ...
    per_utt  word alignment per utterance, in Kaldi's score_kaldi_wer.sh format
             (`<utt> ref ...`, `<utt> hyp ...`, `<utt> op C S D I`, `<utt> #csid 3 1 0 1`; *** = nothing)
    per_spk  per-speaker table of WER and CER counts, with a Sum row
    ref.trn, hyp.trn   sclite trn files: every reference utterance appears in both
             (a missing hypothesis is written empty), so sclite gives the same totals:
             sclite -r ref.trn trn -h hyp.trn trn -i rm -s -o sum stdout

Conventions:
- Tokens are whitespace-separated words. CER counts non-whitespace characters (Unicode code
  points, no normalisation): spaces are dropped before aligning, so word-boundary errors
  only show in WER. (ESPnet2's asr.sh counts spaces as `<space>` tokens; numbers differ.)
- Scoring is case-sensitive, like Kaldi. sclite is case-insensitive unless given `-s`.
- A reference with no hypothesis is scored as all deletions (sclite silently skips it).
  A hypothesis with no reference is an error unless `ignore_extra=True`.
- The speaker of an utterance is utt2spk[utt], else the id up to its first '-'.
  sclite's `-i rm` takes the id up to the first '-' *or* '_' (and files an id with neither
  under the previous speaker), so its per-speaker table can differ; totals do not.
- Alignment is Levenshtein with equal costs (jiwer). sclite weights sub=4, ins=del=3, so
  on rare pairs it reports *more* errors than the minimum edit distance
  (ref `b b b a a a`, hyp `a a c a b b`: 5 sub here, 3 del + 3 ins in sclite).
  `score(..., aligner=...)` takes any function with the `Aligner` signature.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import jiwer

log = logging.getLogger(__name__)

_TRN_ID = re.compile(r"\(([^()]*)\)\s*$")
EPS = "***"  # stands for "no token" in alignments, as in Kaldi's per_utt and sclite's pra


class ScoringError(ValueError):
    """A transcript file or a ref/hyp pairing is wrong; the message says where."""


def _read_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ScoringError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8-sig")  # a leading byte-order mark is not part of the first id
    except UnicodeDecodeError as e:
        lineno = data[: e.start].count(b"\n") + 1
        raise ScoringError(f"{path} line {lineno}: not valid UTF-8 (byte {data[e.start]:#04x})") from None
    return text.split("\n")


def read_transcripts(path: str | Path) -> dict[str, str]:
    """Read a Kaldi `text` file (`<utt> words...`) or an sclite `trn` file (`words... (utt)`).

    The format is trn when the first non-empty line ends with `(...)`; then every line must.
    Blank lines are skipped; an utterance may have an empty transcript (`utt` or `(utt)`).
    A trn id is kept verbatim (sclite's `spk-utt` stays `spk-utt`). Words are re-joined
    with single spaces. Returns {utt: transcript} in file order.
    Raises ScoringError naming the file and 1-based line for bad ids, duplicates, bad UTF-8.
    """
    path = Path(path)
    out: dict[str, str] = {}
    is_trn: bool | None = None
    for lineno, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path} line {lineno}"
        m = _TRN_ID.search(line)
        if is_trn is None:
            is_trn = m is not None
        if is_trn:
            if m is None:
                raise ScoringError(
                    f"{where}: no '(utt-id)' at the end of the line, but the file's first line has one "
                    "(sclite trn format); fix this line or, for a Kaldi text file, the first line"
                )
            utt, words = m.group(1).strip(), line[: m.start()].split()
            if not utt or len(utt.split()) != 1:
                raise ScoringError(f"{where}: bad utterance id '({m.group(1)})': must be one non-empty token")
        else:
            utt, *words = line.split()
        if utt in out:
            raise ScoringError(f"{where}: duplicate utterance id '{utt}'")
        out[utt] = " ".join(words)
    return out


def _write_lines(path: str | Path, lines: list[str]) -> None:
    """Write lines atomically (temp file + rename), so a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    os.replace(tmp, path)


def write_text(path: str | Path, hyps: dict[str, str]) -> None:
    """Write a Kaldi text file sorted by id, words joined by one space; an empty transcript is the id alone."""
    _write_lines(path, [" ".join([u, *hyps[u].split()]) for u in sorted(hyps)])


def write_trn(path: str | Path, hyps: dict[str, str], utt2spk: dict[str, str] | None = None) -> None:
    """Write an sclite trn file, `words (id)` per line sorted by utterance id.

    The id is the utterance id, prefixed with `<spk>-` when `utt2spk` is given and the id
    does not already start with it (ESPnet writes `(spk-utt)`); sclite `-i rm` needs the
    speaker before the first '-' or '_'. Our ids are `<spk>-...`, so nothing changes for them.
    """
    lines = []
    for utt in sorted(hyps):
        spk = speaker_of(utt, utt2spk) if utt2spk is not None else None
        tid = utt if spk is None or utt.startswith(f"{spk}-") else f"{spk}-{utt}"
        lines.append(" ".join([*hyps[utt].split(), f"({tid})"]))
    _write_lines(path, lines)


def speaker_of(utt: str, utt2spk: dict[str, str] | None = None) -> str:
    """utt2spk[utt] when given, else the id up to its first '-' (the whole id if none)."""
    if utt2spk is None:
        return utt.split("-", 1)[0]
    if utt not in utt2spk:
        raise ScoringError(f"utterance '{utt}' has no speaker in utt2spk")
    return utt2spk[utt]


@dataclass
class ErrorCounts:
    """Error counts over one or more utterances; tokens are words or characters.

    `ref_words`/`hyp_words` count reference/hypothesis tokens (characters for CER).
    Counts add up with `+`, e.g. `sum(counts, ErrorCounts())`.
    """

    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    utts: int = 0
    utts_wrong: int = 0  # utterances with at least one error (for %SER)

    @property
    def ref_words(self) -> int:
        return self.corr + self.sub + self.dele

    @property
    def hyp_words(self) -> int:
        return self.corr + self.sub + self.ins

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def wer(self) -> float:
        """Error rate in percent (a CER for character counts); 0.0 when there are no reference tokens."""
        return 100.0 * self.errors / self.ref_words if self.ref_words else 0.0

    @property
    def ser(self) -> float:
        """Percent of utterances with at least one error; 0.0 with no utterances."""
        return 100.0 * self.utts_wrong / self.utts if self.utts else 0.0

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        return ErrorCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


# One alignment step: (op, ref token, hyp token), op in "CSDI"; the absent side is EPS.
Alignment = list[tuple[str, str, str]]
# Aligns many (ref tokens, hyp tokens) pairs at once; one Alignment per pair, in order.
Aligner = Callable[[list[list[str]], list[list[str]]], list[Alignment]]

_JIWER_OPS = {"equal": "C", "substitute": "S", "delete": "D", "insert": "I"}


def align_jiwer(refs: list[list[str]], hyps: list[list[str]]) -> list[Alignment]:
    """Minimum edit distance alignment (all costs 1) of token lists, in one jiwer batch call."""
    if not refs:
        return []
    out = jiwer.process_words([" ".join(r) for r in refs], [" ".join(h) for h in hyps])
    result = []
    for ref, hyp, chunks in zip(refs, hyps, out.alignments):
        steps: Alignment = []
        for c in chunks:
            op = _JIWER_OPS[c.type]
            r, h = ref[c.ref_start_idx : c.ref_end_idx], hyp[c.hyp_start_idx : c.hyp_end_idx]
            if op in "CS":
                steps += [(op, x, y) for x, y in zip(r, h)]
            else:  # a D chunk has no hyp tokens, an I chunk no ref tokens
                steps += [(op, x, EPS) for x in r] + [(op, EPS, y) for y in h]
        result.append(steps)
    return result


def tokenize(text: str, *, char_level: bool = False) -> list[str]:
    """Words split on whitespace, or (char_level) the non-whitespace characters."""
    return list("".join(text.split())) if char_level else text.split()


def counts_from_alignment(alignment: Alignment) -> ErrorCounts:
    """Count one utterance's alignment steps (utts=1)."""
    n = {op: 0 for op in "CSDI"}
    for op, _, _ in alignment:
        n[op] += 1
    wrong = int(n["S"] + n["D"] + n["I"] > 0)
    return ErrorCounts(n["C"], n["S"], n["D"], n["I"], utts=1, utts_wrong=wrong)


def align_counts(ref: str, hyp: str, *, char_level: bool = False, aligner: Aligner = align_jiwer) -> ErrorCounts:
    """Error counts of one hypothesis against one reference."""
    [alignment] = aligner([tokenize(ref, char_level=char_level)], [tokenize(hyp, char_level=char_level)])
    return counts_from_alignment(alignment)


@dataclass
class ScoreReport:
    """Scores of a set: total, per utterance and per speaker (sorted by id), plus what was unmatched."""

    char_level: bool
    total: ErrorCounts
    per_utt: dict[str, ErrorCounts]
    per_spk: dict[str, ErrorCounts]
    alignments: dict[str, Alignment] = field(repr=False)
    missing: list[str]  # references with no hypothesis, scored as all deletions
    extra: list[str]  # hypotheses with no reference, ignored (only with ignore_extra=True)

    @property
    def label(self) -> str:
        return "CER" if self.char_level else "WER"


def score(
    refs: dict[str, str],
    hyps: dict[str, str],
    *,
    char_level: bool = False,
    utt2spk: dict[str, str] | None = None,
    ignore_extra: bool = False,
    aligner: Aligner = align_jiwer,
) -> ScoreReport:
    """Score hypotheses against references; see the module docstring for the conventions.

    Raises ScoringError naming the utterance when a hypothesis has no reference (unless
    `ignore_extra`) or when `utt2spk` lacks an utterance.
    """
    extra = sorted(set(hyps) - set(refs))
    if extra and not ignore_extra:
        shown = ", ".join(f"'{u}'" for u in extra[:5]) + (", ..." if len(extra) > 5 else "")
        raise ScoringError(
            f"hypothesis for utterance '{extra[0]}' has no reference ({len(extra)} such: {shown}); "
            "check that REF and HYP are the same set, or pass ignore_extra=True (--ignore-extra)"
        )
    utts = sorted(refs)
    missing = [u for u in utts if u not in hyps]
    if missing:
        log.warning("%d of %d references have no hypothesis (scored as deletions): '%s'%s",
                    len(missing), len(refs), missing[0], ", ..." if len(missing) > 1 else "")
    spks = {u: speaker_of(u, utt2spk) for u in utts}
    alignments = aligner(
        [tokenize(refs[u], char_level=char_level) for u in utts],
        [tokenize(hyps.get(u, ""), char_level=char_level) for u in utts],
    )
    per_utt = {u: counts_from_alignment(a) for u, a in zip(utts, alignments)}
    per_spk: dict[str, ErrorCounts] = {}
    for u in utts:
        per_spk[spks[u]] = per_spk.get(spks[u], ErrorCounts()) + per_utt[u]
    return ScoreReport(
        char_level=char_level,
        total=sum(per_utt.values(), ErrorCounts()),
        per_utt=per_utt,
        per_spk=dict(sorted(per_spk.items())),
        alignments=dict(zip(utts, alignments)),
        missing=missing,
        extra=extra,
    )


def kaldi_wer_line(counts: ErrorCounts, label: str = "WER") -> str:
    """Kaldi compute-wer's line: `%WER 12.34 [ 123 / 997, 10 ins, 20 del, 93 sub ]`."""
    return (
        f"%{label} {counts.wer:.2f} [ {counts.errors} / {counts.ref_words}, "
        f"{counts.ins} ins, {counts.dele} del, {counts.sub} sub ]"
    )


def format_per_utt(report: ScoreReport) -> list[str]:
    """Kaldi per_utt lines: ref, hyp and op rows (columns padded to align), then `#csid C S I D`."""
    lines = []
    for utt, steps in report.alignments.items():
        widths = [max(len(r), len(h)) for _, r, h in steps]
        for name, col in (("ref", 1), ("hyp", 2), ("op", 0)):
            cols = " ".join(s[col].ljust(w) for s, w in zip(steps, widths))
            lines.append(f"{utt} {name:<4} {cols}".rstrip())
        c = report.per_utt[utt]
        lines.append(f"{utt} #csid {c.corr} {c.sub} {c.ins} {c.dele}")
    return lines


def format_per_spk(*reports: ScoreReport) -> list[str]:
    """A table with one row per speaker and report (WER, CER) and a final Sum row each."""
    head = ["SPKR", "METRIC", "#Utt", "#Ref", "Corr", "Sub", "Del", "Ins", "Err", "%Err", "S.Err", "%S.Err"]
    rows = []
    for report in reports:
        for spk, c in [*report.per_spk.items(), ("Sum", report.total)]:
            nums = [c.utts, c.ref_words, c.corr, c.sub, c.dele, c.ins, c.errors, f"{c.wer:.2f}", c.utts_wrong]
            rows.append([spk, report.label, *map(str, nums), f"{c.ser:.2f}"])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(row: list[str]) -> str:  # names left-aligned, numbers right-aligned
        return "  ".join(x.ljust(w) if i < 2 else x.rjust(w) for i, (x, w) in enumerate(zip(row, widths)))

    return [fmt(head), *map(fmt, rows)]


def format_summary(*reports: ScoreReport) -> str:
    """Kaldi-style lines for stdout: %WER (and/or %CER), %SER, and what was scored."""
    lines = [kaldi_wer_line(r.total, r.label) for r in reports]
    r = reports[0]
    lines.append(f"%SER {r.total.ser:.2f} [ {r.total.utts_wrong} / {r.total.utts} ]")
    lines.append(f"Scored {r.total.utts} utterances, {len(r.missing)} not present in hyp (scored as deletions)"
                 + (f", {len(r.extra)} hyps without reference ignored." if r.extra else "."))
    return "\n".join(lines)


@dataclass
class ScoreResults:
    """Word- and character-level reports of one scoring run."""

    words: ScoreReport
    chars: ScoreReport


def write_score_dir(
    out_dir: str | Path,
    refs: dict[str, str],
    hyps: dict[str, str],
    utt2spk: dict[str, str] | None = None,
    ignore_extra: bool = False,
) -> ScoreResults:
    """Score words and characters and write wer, cer, per_utt, per_spk, ref.trn, hyp.trn into out_dir."""
    out_dir = Path(out_dir)
    words = score(refs, hyps, utt2spk=utt2spk, ignore_extra=ignore_extra)
    chars = score(refs, hyps, char_level=True, utt2spk=utt2spk, ignore_extra=ignore_extra)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_trn(out_dir / "ref.trn", refs, utt2spk)
    write_trn(out_dir / "hyp.trn", {u: hyps.get(u, "") for u in refs}, utt2spk)
    _write_lines(out_dir / "per_utt", format_per_utt(words))
    _write_lines(out_dir / "per_spk", format_per_spk(words, chars))
    _write_lines(out_dir / "cer", [kaldi_wer_line(chars.total, "CER")])
    _write_lines(out_dir / "wer", [kaldi_wer_line(words.total, "WER")])
    return ScoreResults(words, chars)


def run_score(
    ref_path: str | Path,
    hyp_path: str | Path,
    out_dir: str | Path | None = None,
    char_level: bool = False,
    ignore_extra: bool = False,
    utt2spk_path: str | Path | None = None,
) -> int:
    """What `asr score REF HYP` does: print the summary (and write out_dir); 0 on success, 1 on error.

    Prints %WER, or %CER with `char_level`; both when writing `out_dir`.
    """
    try:
        refs, hyps = read_transcripts(ref_path), read_transcripts(hyp_path)
        utt2spk = None if utt2spk_path is None else read_transcripts(utt2spk_path)  # `<utt> <spk>` lines
        if out_dir is not None:
            res = write_score_dir(out_dir, refs, hyps, utt2spk, ignore_extra)
            reports = [res.words, res.chars]
        else:
            reports = [score(refs, hyps, char_level=char_level, utt2spk=utt2spk, ignore_extra=ignore_extra)]
    except ScoringError as e:
        print(f"asr score {ref_path} {hyp_path}: error: {e}", file=sys.stderr)
        return 1
    print(format_summary(*reports))
    if out_dir is not None:
        print(f"Wrote wer, cer, per_utt, per_spk, ref.trn, hyp.trn to {out_dir}")
    return 0

