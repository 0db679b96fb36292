"""Scoring: WER/CER counts identical to NIST sclite's, from Kaldi `text`, sclite `trn`, CTM or STM files.

`score(refs, hyps)` aligns every pair the way `sclite -r ref.trn trn -h hyp.trn trn -i rm`
does (asr/scoring/alignment.py: weights sub 4, ins 3, del 3; sclite's tie-breaking) and counts
Corr/Sub/Del/Ins per utterance, per speaker and in total. `write_score_dir` writes the
reports (asr/scoring/reports.py) with bootstrap intervals (asr/scoring/significance.py);
`asr score` itself is asr/scoring/commands.py (run_score, run_compare).
Files are read by asr/scoring/files.py.

Conventions:
- Tokens are words separated by ASCII whitespace (as sclite and Kaldi split; a no-break
  space is part of a word). CER (`char_level`) aligns the other characters as Unicode
  code points: sclite `-c -e utf-8` (plain `-c` splits UTF-8 bytes). Spaces are
  dropped, so word-boundary errors only show in WER.
- Case-insensitive by default, like sclite, which folds A-Z only (`É` != `é`);
  `case_sensitive=True` is sclite's `-s`. `--normalize` lowercases all letters.
- An optional `Normalizer` (lowercase, punctuation, whitespace, a word mapping) is applied
  to both sides first. Without it, tokens are compared as written: `don't` != `dont`,
  `(uh)` is a word (sclite treats it the same in trn files).
- An STM reference is paired with a CTM hypothesis by time as sclite does
  (transcripts.stm_ctm_transcripts); its speakers are the STM speakers.
- A reference with no hypothesis is scored as all deletions and listed in `missing`
  (sclite silently skips it). A hypothesis with no reference is an error unless
  `ignore_extra=True`.
- The speaker of an utterance is utt2spk[utt], else, like sclite `-i rm`, the id up to its
  first '-' or '_' (the whole id if it has neither; sclite then files it under the
  speaker of the previous line).
- Each word is read as sclite's reader reads it (`sclite_word`): `maybe;` and `maybe;tag`
  are `maybe`, `maybe*` is `maybe`, backslashes go (`may\\;be` is `may;be`).
- sclite alternations in references (`{ a / b }`) are not supported: they raise an error
  rather than give counts that differ from sclite's.
"""

from __future__ import annotations

import logging
import re
import string
from pathlib import Path

import numpy as np

from asr.scoring.alignment import edit_ops, edit_ops_counts
from asr.scoring.counts import ErrorCounts, ScoreReport, ScoreResults, _Alignments
from asr.scoring.files import (
    ScoringError,
    sclite_words_many,
    speaker_of,
    split_words,
    split_words_many,
    write_trn,
)
from asr.scoring.normalize import Normalizer
from asr.scoring.reports import (
    write_reports,
)
from asr.scoring.significance import bootstrap_wer

log = logging.getLogger(__name__)

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ALTERNATION = re.compile(r"(^|\s)\{\s.*\s/\s.*\s\}(\s|$)")

# ---------------------------------------------------------------- counts


def _chars(words: list[str]) -> list[str]:
    """The character tokens of words; an empty word (`;x` read by sclite) stays one empty token, as in sclite -c."""
    return list("".join(words)) if all(words) else [c for w in words for c in (w or ("",))]


def ascii_lower(text: str) -> str:
    """Lowercase A-Z only: sclite's case-insensitive comparison leaves É and é different."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _counts_of_ops(ops: str) -> ErrorCounts:
    c, s, d, i = ops.count("C"), ops.count("S"), ops.count("D"), ops.count("I")
    return ErrorCounts(c, s, d, i, utts=1, utts_wrong=int(s + d + i > 0))


def align_counts(
    ref: str, hyp: str, *, char_level: bool = False, case_sensitive: bool = False
) -> ErrorCounts:
    """Error counts of one hypothesis against one reference, as sclite counts them."""
    if not case_sensitive:
        ref, hyp = ascii_lower(ref), ascii_lower(hyp)
    [ref_words, hyp_words] = sclite_words_many([split_words(ref), split_words(hyp)])
    if char_level:
        ref_words, hyp_words = _chars(ref_words), _chars(hyp_words)
    [ops] = edit_ops([ref_words], [hyp_words])
    return _counts_of_ops(ops)


def _check_pairs(refs: dict[str, str], hyps: dict[str, str], ignore_extra: bool) -> tuple[list[str], list[str]]:
    extra = sorted(set(hyps) - set(refs))
    if extra and not ignore_extra:
        shown = ", ".join(f"'{u}'" for u in extra[:5]) + (", ..." if len(extra) > 5 else "")
        raise ScoringError(
            f"hypothesis for utterance '{extra[0]}' has no reference ({len(extra)} such: {shown}); "
            "check that REF and HYP are the same set, or pass ignore_extra=True (--ignore-extra)"
        )
    missing = [u for u in sorted(refs) if u not in hyps]
    if missing:
        log.warning("%d of %d references have no hypothesis (scored as deletions): '%s'%s",
                    len(missing), len(refs), missing[0], ", ..." if len(missing) > 1 else "")
    for u, text in refs.items():
        if "{" in text and _ALTERNATION.search(text):
            raise ScoringError(
                f"reference of utterance '{u}' has an sclite alternation '{{ ... / ... }}', which asr score "
                "does not support; expand it or score with sclite"
            )
    return missing, extra


def score(
    refs: dict[str, str],
    hyps: dict[str, str],
    *,
    char_level: bool = False,
    utt2spk: dict[str, str] | None = None,
    ignore_extra: bool = False,
    case_sensitive: bool = False,
    normalizer: Normalizer | None = None,
) -> ScoreReport:
    """Score hypotheses against references with sclite's alignment; see the module docstring.

    Raises ScoringError naming the utterance when a hypothesis has no reference (unless
    `ignore_extra`), when `utt2spk` lacks an utterance, or for a reference alternation.
    """
    missing, extra = _check_pairs(refs, hyps, ignore_extra)
    utts = sorted(refs)
    spks = {u: speaker_of(u, utt2spk) for u in utts}

    def tokens(texts: list[str]) -> list[list[str]]:
        blob = "\n".join(texts)  # one scan instead of one per text
        special = ";" in blob or "\\" in blob or "*" in blob  # sclite's reader changes such words
        if normalizer is not None:
            if special:  # sclite's reading first, then our normalisation
                texts = [" ".join(ws) for ws in sclite_words_many(split_words_many(texts))]
            texts = [normalizer(t) for t in texts]
        elif not case_sensitive:
            one_per_line = blob.count("\n") == len(texts) - 1
            texts = ascii_lower(blob).split("\n") if one_per_line else list(map(ascii_lower, texts))
        words = split_words_many(texts)
        if special and normalizer is None:
            words = sclite_words_many(words)
        return [_chars(w) for w in words] if char_level else words

    ref_list, hyp_list = tokens([refs[u] for u in utts]), tokens([hyps.get(u, "") for u in utts])
    ops_list, counts = edit_ops_counts(ref_list, hyp_list)
    ops = dict(zip(utts, ops_list))
    wrong = (counts[:, 1:].sum(axis=1) > 0).astype(np.int64)
    per_utt = {u: ErrorCounts(c, s, d, i, 1, w) for u, (c, s, d, i), w in zip(utts, counts.tolist(), wrong.tolist())}
    spk_names = sorted(set(spks.values()))
    spk_index = {s: k for k, s in enumerate(spk_names)}
    rows = np.zeros((len(spk_names), 6), np.int64)
    if utts:
        np.add.at(rows, np.array([spk_index[spks[u]] for u in utts]), np.c_[counts, np.ones(len(utts), np.int64), wrong])
    per_spk = {s: ErrorCounts(*row) for s, row in zip(spk_names, rows.tolist())}
    return ScoreReport(
        char_level=char_level,
        total=sum(per_spk.values(), ErrorCounts()),
        per_utt=per_utt,
        per_spk=per_spk,
        alignments=_Alignments(ops, dict(zip(utts, ref_list)), dict(zip(utts, hyp_list))),
        missing=missing,
        extra=extra,
        case_sensitive=case_sensitive and normalizer is None,
        normalization=normalizer.describe() if normalizer is not None else "none",
        speakers=spks,
        ops=ops,
    )


# ---------------------------------------------------------------- score folders and `asr score`


def write_score_dir(
    out_dir: str | Path,
    refs: dict[str, str],
    hyps: dict[str, str],
    utt2spk: dict[str, str] | None = None,
    ignore_extra: bool = False,
    *,
    case_sensitive: bool = False,
    normalizer: Normalizer | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    names: tuple[str, str] = ("ref", "hyp"),
) -> ScoreResults:
    """Score words and characters and write the reports into out_dir (see asr/scoring/reports.py):

    wer, cer (Kaldi lines), per_utt (Kaldi alignments), per_spk, sum and rsum (sclite's
    speaker tables, percentages and counts), pra (alignments), dtl (confusion pairs,
    insertions, deletions), score.json (all counts), and ref.trn, hyp.trn (every reference
    utterance in both, a missing hypothesis written empty, normalised text when a
    Normalizer is given) so that sclite reproduces the counts:
    `sclite -r ref.trn trn -h hyp.trn trn -i rm -o sum stdout` (`-s` when case_sensitive).
    `bootstrap` resamples give the 95% intervals (0: none); `names` label ref and hyp.
    """
    out_dir = Path(out_dir)
    kw = dict(utt2spk=utt2spk, ignore_extra=ignore_extra, case_sensitive=case_sensitive, normalizer=normalizer)
    words = score(refs, hyps, **kw)
    chars = score(refs, hyps, char_level=True, **kw)
    res = ScoreResults(words, chars)
    if bootstrap > 0:
        res.words_ci = bootstrap_wer(*words.utt_arrays(), reps=bootstrap, seed=seed)
        res.chars_ci = bootstrap_wer(*chars.utt_arrays(), reps=bootstrap, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    norm = normalizer if normalizer is not None else (lambda t: t)
    write_trn(out_dir / "ref.trn", {u: norm(t) for u, t in refs.items()}, utt2spk)
    write_trn(out_dir / "hyp.trn", {u: norm(hyps.get(u, "")) for u in refs}, utt2spk)
    write_reports(out_dir, res, names)
    return res
