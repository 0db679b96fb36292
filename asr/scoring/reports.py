"""The reports of `asr score`, as text in the layouts Kaldi and sclite users read.

Files written by `write_reports(out_dir, results, names)` (results: scoring.ScoreResults):

    wer      one line, as Kaldi's compute-wer: %WER 12.34 [ 123 / 997, 10 ins, 20 del, 93 sub ]
    cer      the same for characters: %CER ...
    sum      sclite's `sum`: per speaker and Sum/Avg, # Snt, # Wrd, then Corr Sub Del Ins Err
             S.Err in percent, with Mean, S.D. and Median over speakers (words)
    rsum     the same table in counts (sclite's `rsum`)
    pra      per-utterance alignments as sclite's `pra`: REF/HYP/Eval lines, errors in
             capitals when scoring is case-insensitive, `*` for the missing side
    dtl      sclite's `dtl`: sentence and word error rates, then confusion pairs,
             insertions, deletions, substitutions, falsely recognised words, most frequent first
    score.json  all counts for machines: totals, per speaker, per utterance, words and
             characters, bootstrap intervals, settings
    per_utt  word alignment per utterance, in Kaldi's score_kaldi_wer.sh format
             (`<utt> ref ...`, `<utt> hyp ...`, `<utt> op C S D I`, `<utt> #csid 3 1 0 1`; *** = nothing)
    per_spk  per-speaker table of WER and CER counts, with a Sum row

Every sclite-style report starts with a header: the files, the token unit, case handling
and the text normalisation.
"""

from __future__ import annotations

import json
import statistics
import string
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from asr.fileio import atomic_write_lines
from asr.scoring.alignment import DEL_COST, EPS, INS_COST, SUB_COST

_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

if TYPE_CHECKING:
    from asr.scoring.counts import ErrorCounts, ScoreReport, ScoreResults
    from asr.scoring.significance import BootstrapCI, PairedTest



def _pct(num: int, den: int) -> float:
    return 100.0 * num / den if den else 0.0


def kaldi_wer_line(counts: ErrorCounts, label: str = "WER") -> str:
    """Kaldi compute-wer's line: `%WER 12.34 [ 123 / 997, 10 ins, 20 del, 93 sub ]`."""
    return (
        f"%{label} {counts.wer:.2f} [ {counts.errors} / {counts.ref_words}, "
        f"{counts.ins} ins, {counts.dele} del, {counts.sub} sub ]"
    )


def ci_line(ci: BootstrapCI | None, label: str = "WER") -> str | None:
    """`%WER 95% CI [ 11.20, 13.51 ] (bootstrap, 1000 resamples of utterances)`, or None."""
    if ci is None:
        return None
    return f"%{label} {ci.level:.0%} CI [ {ci.low:.2f}, {ci.high:.2f} ] (bootstrap, {ci.reps} resamples of utterances)"


def header(report: ScoreReport, names: tuple[str, str]) -> list[str]:
    """What was scored and how: files, unit, case, normalisation, alignment weights."""
    unit = "characters (spaces removed), like sclite -c" if report.char_level else "words"
    case = "case-sensitive, like sclite -s" if report.case_sensitive else "case-insensitive, like sclite's default"
    return [
        f"Reference:     {names[0]}",
        f"Hypothesis:    {names[1]}",
        f"Tokens:        {unit}; {case}",
        f"Normalisation: {report.normalization}",
        f"Alignment:     sclite's (sub {SUB_COST}, ins {INS_COST}, del {DEL_COST}, correct 0)",
        f"Missing hyps:  {len(report.missing)} (scored as deletions)"
        + (f"; {len(report.extra)} hyps without reference ignored" if report.extra else ""),
    ]


# ---------------------------------------------------------------- Kaldi-style


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


# ---------------------------------------------------------------- sclite-style


def _stats_rows(values: list[list[float]], marks: list[str]) -> list[list[str]]:
    """Mean, S.D. (n - 1) and Median of each column; sclite prints S.D. 0 for one value."""
    rows = []
    for name, fn in (("Mean", statistics.fmean),
                     ("S.D.", lambda v: statistics.stdev(v) if len(v) > 1 else 0.0),
                     ("Median", statistics.median)):
        rows.append([name] + [f"{fn(v):.1f}{m}" if v else "-" for v, m in zip(values, marks)])
    return rows


def format_sum(report: ScoreReport, names: tuple[str, str], raw: bool = False) -> list[str]:
    """sclite's `sum` table (percentages), or with `raw` its `rsum` table (counts).

    Percent rows divide Corr..Err by the speaker's reference tokens and S.Err by its
    utterances; a speaker without reference tokens shows counts marked `*`, and is left out
    of the Mean/S.D./Median of those columns (marked `+`), as in sclite.
    """
    def counts(c: ErrorCounts) -> list[int]:
        return [c.corr, c.sub, c.dele, c.ins, c.errors]

    rows, seps = [], []
    for spk, c in report.per_spk.items():
        if raw:
            cells = [str(x) for x in counts(c)] + [str(c.utts_wrong)]
        elif c.ref_words:
            cells = [f"{_pct(x, c.ref_words):.1f}" for x in counts(c)] + [f"{c.ser:.1f}"]
        else:
            cells = [f"{x}*" for x in counts(c)] + [f"{c.ser:.1f}"]
        rows.append([spk, str(c.utts), str(c.ref_words), *cells])
        seps.append("-")
    t = report.total
    total_cells = [str(x) for x in counts(t)] + [str(t.utts_wrong)] if raw else (
        [f"{_pct(x, t.ref_words):.1f}" for x in counts(t)] + [f"{t.ser:.1f}"])
    rows.append(["Sum" if raw else "Sum/Avg", str(t.utts), str(t.ref_words), *total_cells])
    if seps:
        seps[-1] = "="
    seps.append("=")
    spks = list(report.per_spk.values())
    if raw:
        cols = [[float(c.utts) for c in spks], [float(c.ref_words) for c in spks]]
        cols += [[float(counts(c)[k]) for c in spks] for k in range(5)] + [[float(c.utts_wrong) for c in spks]]
        marks = [""] * 8
    else:
        with_ref = [c for c in spks if c.ref_words]
        cols = [[float(c.utts) for c in spks], [float(c.ref_words) for c in spks]]
        cols += [[_pct(counts(c)[k], c.ref_words) for c in with_ref] for k in range(5)] + [[c.ser for c in spks]]
        plus = "+" if len(with_ref) < len(spks) else ""
        marks = ["", ""] + [plus] * 5 + [""]
    stats = _stats_rows(cols, marks) if spks else []
    rows += stats
    seps += [" "] * len(stats)

    head = ["SPKR", "# Snt", "# Chr" if report.char_level else "# Wrd", "Corr", "Sub", "Del", "Ins", "Err", "S.Err"]
    widths = [max(len(r[k]) for r in [head, *rows]) for k in range(len(head))]
    widths[0] = max(widths[0], 6)

    def line(row: list[str]) -> str:
        name = row[0].center(widths[0]) if row[0] in ("Mean", "S.D.", "Median") else row[0].ljust(widths[0])
        g1 = " ".join(x.rjust(w) for x, w in zip(row[1:3], widths[1:3]))
        g2 = " ".join(x.rjust(max(w, 5)) for x, w in zip(row[3:], widths[3:]))
        return f"| {name} | {g1} | {g2} |"

    first = line(head)
    inner = len(first) - 2
    bar1, bar2 = first.index("|", 1), first.index("|", first.index("|", 1) + 1)
    dash = "|" + "".join("+" if k in (bar1, bar2) else "-" for k in range(1, len(first) - 1)) + "|"
    title = "SYSTEM SUMMARY " + ("COUNTS" if raw else "PERCENTAGES") + " by SPEAKER"
    box = ["," + "-" * inner + ".", "|" + names[1].center(inner) + "|", "|" + "-" * inner + "|", first, dash]
    for row, sep in zip(rows, seps):
        box.append(line(row))
        if sep != " ":
            box.append(dash if sep == "-" else "|" + "=" * inner + "|")
    box.append("`" + "-" * inner + "'")
    out = header(report, names) + ["", title.center(inner + 2), "", *box]
    if any(c.ref_words == 0 for c in spks) and not raw:
        out += ["", "* No reference tokens for this/these speaker(s): counts rather than percents.",
                "+ Speakers with no reference tokens are left out of this statistic."]
    return out


def format_pra(report: ScoreReport, names: tuple[str, str]) -> list[str]:
    """sclite's `pra`: per speaker, per utterance the id, the counts and REF/HYP/Eval lines.

    Errors are in capitals when scoring is case-insensitive. Columns are padded to the
    width in characters (sclite pads to UTF-8 bytes, which misaligns non-ASCII words).
    """
    out = header(report, names) + [""]
    by_spk: dict[str, list[str]] = {}
    for utt in report.per_utt:
        by_spk.setdefault(report.speakers.get(utt, ""), []).append(utt)
    upper = not report.case_sensitive
    for k, spk in enumerate(sorted(by_spk)):
        out += [f"Speaker sentences {k:3d}:  {spk}   #utts: {len(by_spk[spk])}"]
        for utt in by_spk[spk]:
            c = report.per_utt[utt]
            ref_row, hyp_row, eval_row = [], [], []
            for op, r, h in report.alignments[utt]:
                if upper and op != "C":  # sclite capitalises A-Z only
                    r, h = r.translate(_ASCII_UPPER), h.translate(_ASCII_UPPER)
                w = max(len(r) if r != EPS else 1, len(h) if h != EPS else 1)
                ref_row.append(("*" * w if r == EPS else r).ljust(w))
                hyp_row.append(("*" * w if h == EPS else h).ljust(w))
                eval_row.append(("" if op == "C" else op).ljust(w))
            out += [
                f"id: ({utt})",
                f"Scores: (#C #S #D #I) {c.corr} {c.sub} {c.dele} {c.ins}",
                "REF:  " + " ".join(ref_row),
                "HYP:  " + " ".join(hyp_row),
                "Eval: " + " ".join(eval_row),
                "",
            ]
    return out


def _ranked(title: str, counter: Counter, fmt, top: int | None) -> list[str]:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = items if top is None else items[:top]
    out = [f"{title:<33}Total                 ({len(items)})",
           f"{'':33}With >=  1 occurrences ({len(items)})", ""]
    out += [f"{k:4d}: {n:4d}  ->  {fmt(key)}" for k, (key, n) in enumerate(shown, 1)]
    if len(shown) < len(items):
        out.append(f"      ... {len(items) - len(shown)} more")
    out += ["     -------", f"{sum(counter.values()):10d}", "", ""]
    return out


def format_dtl(report: ScoreReport, names: tuple[str, str], top: int | None = None) -> list[str]:
    """sclite's `dtl`: sentence and token error rates, then the most frequent error lists.

    `top` keeps the first N entries of each list (None: all); ties sort alphabetically.
    """
    pairs, ins, dels, subs, false = Counter(), Counter(), Counter(), Counter(), Counter()
    for steps in report.alignments.values():
        for op, r, h in steps:
            if op == "S":
                pairs[(r, h)] += 1
                subs[r] += 1
                false[h] += 1
            elif op == "I":
                ins[h] += 1
            elif op == "D":
                dels[r] += 1
    per = report.per_utt.values()
    n_utts = len(report.per_utt)
    with_s, with_d, with_i = (sum(1 for c in per if getattr(c, a)) for a in ("sub", "dele", "ins"))
    t, unit = report.total, "CHARACTER" if report.char_level else "WORD"
    nref = t.ref_words

    def pct_line(name: str, n: int, den: int) -> str:
        return f"{name:<26}= {_pct(n, den):6.1f}%   ({n:5d})"

    out = header(report, names) + ["", f"DETAILED OVERALL REPORT FOR THE SYSTEM: {names[1]}", "",
                                   "SENTENCE RECOGNITION PERFORMANCE", "",
                                   f" sentences{n_utts:43d}",
                                   f" with errors{_pct(t.utts_wrong, n_utts):30.1f}%   ({t.utts_wrong:5d})", ""]
    for name, n in (("substitutions", with_s), ("deletions", with_d), ("insertions", with_i)):
        out.append(f"   with {name:<26}{_pct(n, n_utts):6.1f}%   ({n:5d})")
    out += ["", "", f"{unit} RECOGNITION PERFORMANCE", "",
            pct_line("Percent Total Error", t.errors, nref), "",
            pct_line("Percent Correct", t.corr, nref), "",
            pct_line("Percent Substitution", t.sub, nref),
            pct_line("Percent Deletions", t.dele, nref),
            pct_line("Percent Insertions", t.ins, nref),
            f"{'Percent Word Accuracy':<26}= {100.0 - t.wer if nref else 0.0:6.1f}%", "", "",
            f"{'Ref. words':<26}=          ({nref:5d})",
            f"{'Hyp. words':<26}=          ({t.hyp_words:5d})",
            f"{'Aligned words':<26}=          ({t.corr + t.sub + t.dele + t.ins:5d})", "", ""]
    out += _ranked("CONFUSION PAIRS", pairs, lambda k: f"{k[0]} ==> {k[1]}", top)
    out += _ranked("INSERTIONS", ins, str, top)
    out += _ranked("DELETIONS", dels, str, top)
    out += _ranked("SUBSTITUTIONS", subs, str, top)
    out += ["* NOTE: The 'Substitution' words are those reference words",
            "        for which the recognizer supplied an incorrect word.", "", ""]
    out += _ranked("FALSELY RECOGNIZED", false, str, top)
    out += ["* NOTE: The 'Falsely Recognized' words are those hypothesis words",
            "        which the recognizer incorrectly substituted for a reference word."]
    return out


# ---------------------------------------------------------------- machines and stdout


def counts_dict(c: ErrorCounts) -> dict[str, float | int]:
    """Counts of an ErrorCounts with sclite's names, plus rates in percent."""
    return {"utts": c.utts, "ref": c.ref_words, "hyp": c.hyp_words, "corr": c.corr, "sub": c.sub,
            "del": c.dele, "ins": c.ins, "err": c.errors, "utts_wrong": c.utts_wrong,
            "wer": round(c.wer, 4), "ser": round(c.ser, 4)}


def _report_dict(report: ScoreReport, ci: BootstrapCI | None) -> dict:
    return {
        "total": counts_dict(report.total),
        "bootstrap_ci": None if ci is None else {"low": round(ci.low, 4), "high": round(ci.high, 4),
                                                 "level": ci.level, "reps": ci.reps},
        "per_spk": {s: counts_dict(c) for s, c in report.per_spk.items()},
        "per_utt": {u: {**counts_dict(c), "spk": report.speakers.get(u)} for u, c in report.per_utt.items()},
    }


def score_json(results: ScoreResults, names: tuple[str, str]) -> dict:
    """All counts of a scoring run, words and characters, with its settings."""
    w = results.words
    return {
        "ref": names[0],
        "hyp": names[1],
        "case_sensitive": w.case_sensitive,
        "normalization": w.normalization,
        "alignment": {"sub": SUB_COST, "ins": INS_COST, "del": DEL_COST, "correct": 0},
        "missing": w.missing,
        "extra": w.extra,
        "words": _report_dict(w, results.words_ci),
        "chars": _report_dict(results.chars, results.chars_ci),
    }


def write_reports(out_dir: Path, results: ScoreResults, names: tuple[str, str]) -> None:
    """Write every report of the module docstring (not ref.trn/hyp.trn) into out_dir."""
    w, c = results.words, results.chars
    atomic_write_lines(out_dir / "sum", format_sum(w, names))
    atomic_write_lines(out_dir / "rsum", format_sum(w, names, raw=True))
    atomic_write_lines(out_dir / "pra", format_pra(w, names))
    atomic_write_lines(out_dir / "dtl", format_dtl(w, names))
    atomic_write_lines(out_dir / "per_utt", format_per_utt(w))
    atomic_write_lines(out_dir / "per_spk", format_per_spk(w, c))
    # one line: json's C encoder, 10x faster than indent=... on 10,000 utterances
    atomic_write_lines(out_dir / "score.json", [json.dumps(score_json(results, names), ensure_ascii=False)])
    atomic_write_lines(out_dir / "cer", [kaldi_wer_line(c.total, "CER")])
    atomic_write_lines(out_dir / "wer", [kaldi_wer_line(w.total, "WER")])  # last: a present `wer` means a complete folder


def format_summary(*shown: ScoreReport | tuple[ScoreReport, BootstrapCI | None]) -> str:
    """Lines for stdout: the Kaldi %WER (and/or %CER) line with its interval, the Sum/Avg
    counts as sclite's, %SER, and what was scored. Takes reports or (report, interval) pairs."""
    pairs = [s if isinstance(s, tuple) else (s, None) for s in shown]
    lines = []
    for report, ci in pairs:
        lines.append(kaldi_wer_line(report.total, report.label))
        if (line := ci_line(ci, report.label)) is not None:
            lines.append(line)
    for report, _ in pairs:
        t = report.total
        lines.append(f"Sum/Avg {report.label}: {t.utts} utts, {t.ref_words} ref, Corr {t.corr} Sub {t.sub} "
                     f"Del {t.dele} Ins {t.ins} Err {t.errors} S.Err {t.utts_wrong}")
    r = pairs[0][0]
    lines.append(f"%SER {r.total.ser:.2f} [ {r.total.utts_wrong} / {r.total.utts} ]")
    case = "case-sensitive" if r.case_sensitive else "case-insensitive"
    lines.append(f"Scored {r.total.utts} utterances ({case}; normalisation: {r.normalization}), "
                 f"{len(r.missing)} not present in hyp (scored as deletions)"
                 + (f", {len(r.extra)} hyps without reference ignored." if r.extra else "."))
    return "\n".join(lines)


def format_comparison(test: PairedTest, names: Sequence[str], label: str = "WER") -> list[str]:
    """The difference and verdict of a paired test between systems A and B (names[0], names[1]), for stdout."""
    p = f"p = {test.p_value:.4f}" if test.p_value > 0 else f"p < {1 / test.reps:.4f}"
    verdict = (f"no significant difference at the {test.alpha:.0%} level" if test.better is None
               else f"{test.better} ({names[0] if test.better == 'A' else names[1]}) is better, "
                    f"significant at the {test.alpha:.0%} level")
    return [
        f"B - A: {test.diff:+.2f} %{label} absolute, 95% CI [ {test.diff_low:+.2f}, {test.diff_high:+.2f} ]",
        f"Paired bootstrap ({test.reps} resamples of utterances): B better in {test.prob_b_better:.1%}, "
        f"two-sided {p}: {verdict}",
    ]
