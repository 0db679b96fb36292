"""What every corpus preparation shares: text normalisation, audio checks, writing and validating data
dirs; bad-item accounting is data_prep/prep_report.py (re-exported here), splits and combining data
dirs data_prep/sets.py, downloads data_prep/download.py.

A preparation turns a corpus into candidate `Utterance`s, reports what it could not use to a
`PrepReport`, and hands the rest to `write_prepared_dir`, which drops the items every corpus
can get wrong (empty transcript, id collision, missing or unreadable audio), writes
`prepare.log`, stops with PrepError when more than `max_bad_fraction` of the items are bad,
and otherwise writes and validates the data dir:

    <out_dir>/{wav.scp,text,utt2spk,spk2utt[,segments]}, <out_dir>/prepare.log

prepare.log has a summary header (`#` lines), then one line per bad item:
`<reason>\t<path>\t<utt or ->\t<detail>`.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tqdm import tqdm

from asr.data.audio import AudioError, audio_info
from asr.data.datadir import DataDir
from asr.data.segments import (
    Segment,
    SegmentedDataDir,
    read_any_datadir,
    write_any_datadir,
)
from data_prep.prep_report import (  # noqa: F401  (re-exported: the corpus modules import them from here)
    BAD_ENTRY,
    DEFAULT_MAX_BAD_FRACTION,
    EMPTY_TRANSCRIPT,
    ID_COLLISION,
    MISSING_AUDIO,
    MISSING_TRANSCRIPT,
    NO_SPEAKER,
    NO_TRANSCRIPT,
    REJECTED_TEXT,
    UNREADABLE,
    BadItem,
    PrepError,
    PrepReport,
)

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".sph", ".nist", ".aif", ".aiff", ".au")


class RejectedText(ValueError):
    """normalise_text could not make a usable transcript; the message is the reason."""


@dataclass
class Utterance:
    """One candidate utterance. `start`/`end` (seconds) cut it out of a longer recording."""

    utt: str
    spk: str
    path: str  # audio file, absolute
    text: str
    start: float | None = None
    end: float | None = None  # -1 = to the end of the recording
    recording: str | None = None  # recording id for segments (default: the utterance id)


# ---------------------------------------------------------------------------------------------
# Text

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_SPACING_PUNCT = re.compile(r"[-\u2010-\u2015/_]")  # hyphens, dashes, slash, underscore: word breaks


def normalise_text(text: str, *, lowercase: bool = True) -> str:
    """A transcript as the toolkit trains on it: NFKC, lower case, letters and inner apostrophes only.

    Hyphens, dashes, slashes and underscores become spaces; other punctuation and symbols are
    dropped; apostrophes are kept inside words only. Letters of any script survive (with their
    combining marks). Raises RejectedText when the text holds digits (the normaliser does not
    spell out numbers, and a number read aloud is not its digits) or nothing is left.
    """
    t = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    if lowercase:
        t = t.lower()
    t = _SPACING_PUNCT.sub(" ", t)
    digits = [ch for ch in t if unicodedata.category(ch) in ("Nd", "Nl", "No")]
    if digits:
        raise RejectedText(f"contains digits ({''.join(digits[:8])}); spell numbers out in words")
    kept = []
    for ch in t:
        cat = unicodedata.category(ch)
        if ch == "'" or cat[0] in "LM":
            kept.append(ch)
        elif ch.isspace() or cat[0] in "PSZC":
            kept.append(" ")
    words = [w.strip("'") for w in "".join(kept).split()]
    out = " ".join(w for w in words if w)
    if not out:
        raise RejectedText(f"nothing is left after removing punctuation from {text!r}")
    return out


def safe_id(name: str) -> str:
    """A Kaldi-safe id fragment: whitespace and path separators become '_'."""
    return re.sub(r"[\s/\\]+", "_", name.strip())


# ---------------------------------------------------------------------------------------------
# Audio checks


def audio_problem(path: str | Path) -> str | None:
    """None when the audio loader accepts the file (asr.data.audio.audio_info: present, readable, decodable,
    with samples; a truncated file is accepted, as the loader reads what it holds), else what is wrong."""
    try:
        audio_info(path, on_truncated=lambda line: None)
    except AudioError as e:
        return str(e).removeprefix(f"{path}: ")
    return None


def find_audio_problems(
    paths: Iterable[str], check: Callable[[str], str | None] = audio_problem, nj: int = 4
) -> dict[str, str]:
    """{path: problem} for the paths that fail `check` (run on nj threads: libsndfile releases the GIL)."""
    unique = sorted(set(paths))
    if not unique:
        return {}
    with ThreadPoolExecutor(max(1, nj)) as pool:
        results = list(tqdm(pool.map(check, unique), total=len(unique), desc="check audio", unit="file",
                            disable=len(unique) < 500, leave=False))
    return {p: r for p, r in zip(unique, results) if r is not None}


def audio_by_id(folder: Path, report: PrepReport, prefer: str = "") -> dict[str, Path]:
    """{file stem: audio file} of the audio files (any of AUDIO_EXTENSIONS) directly in `folder` ({} if it
    does not exist). A second file with the same stem is reported as an id collision; the one kept has
    extension `prefer` (the corpus's own format), else the first in AUDIO_EXTENSIONS' order."""
    order = (prefer, *(e for e in AUDIO_EXTENSIONS if e != prefer)) if prefer else AUDIO_EXTENSIONS
    rank = {ext: i for i, ext in enumerate(order)}
    files = folder.iterdir() if folder.is_dir() else iter(())
    out: dict[str, Path] = {}
    for p in sorted((p for p in files if p.suffix.lower() in rank and p.is_file()),
                    key=lambda p: (p.stem, rank[p.suffix.lower()])):
        if p.stem in out:
            report.bad(ID_COLLISION, p, f"a second audio file for '{p.stem}' (using {out[p.stem].name})", p.stem)
        else:
            out[p.stem] = p
    return out


# ---------------------------------------------------------------------------------------------
# Writing data dirs


def collect_utterances(
    candidates: Iterable[Utterance],
    report: PrepReport,
    *,
    check_audio: bool = True,
    audio_check: Callable[[str], str | None] = audio_problem,
    nj: int = 4,
) -> list[Utterance]:
    """Drop (and report) empty transcripts, id collisions, missing and unreadable audio; sorted by utt."""
    kept: dict[str, Utterance] = {}
    for u in candidates:
        text = " ".join(u.text.split())
        if not text:
            report.bad(EMPTY_TRANSCRIPT, u.path, "the transcript is empty", u.utt)
        elif u.utt in kept:
            report.bad(ID_COLLISION, u.path, f"utterance id '{u.utt}' is already used by {kept[u.utt].path}", u.utt)
        elif re.search(r"\s", u.utt) or re.search(r"\s", u.spk) or not u.utt or not u.spk:
            report.bad(BAD_ENTRY, u.path, f"utterance id {u.utt!r} or speaker {u.spk!r} is empty or has a space", u.utt)
        else:
            u.text = text
            kept[u.utt] = u
    if check_audio:
        problems = find_audio_problems((u.path for u in kept.values()), audio_check, nj)
        for utt in [utt for utt, u in kept.items() if u.path in problems]:
            u = kept.pop(utt)
            reason = MISSING_AUDIO if problems[u.path] == "file not found" else UNREADABLE
            report.bad(reason, u.path, problems[u.path], utt)
    return [kept[u] for u in sorted(kept)]


def to_datadir(utts: list[Utterance]) -> DataDir:
    """Utterances -> DataDir, or SegmentedDataDir when any utterance has a start time."""
    if not any(u.start is not None for u in utts):
        data = DataDir()
        for u in utts:
            data.wav_scp[u.utt], data.text[u.utt], data.utt2spk[u.utt] = u.path, u.text, u.spk
        return data
    seg = SegmentedDataDir()
    for u in utts:
        rec = u.recording or u.utt
        if seg.wav_scp.get(rec, u.path) != u.path:
            raise PrepError(f"recording id '{rec}' names two files: {seg.wav_scp[rec]} and {u.path}")
        seg.wav_scp[rec] = u.path
        seg.segments[u.utt] = Segment(rec, u.start or 0.0, -1.0 if u.end is None else u.end)
        seg.text[u.utt], seg.utt2spk[u.utt] = u.text, u.spk
    return seg


def write_prepared_dir(
    out_dir: str | Path,
    candidates: Iterable[Utterance],
    report: PrepReport,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    *,
    check_audio: bool = True,
    audio_check: Callable[[str], str | None] = audio_problem,
    nj: int = 4,
) -> PrepReport:
    """Check the candidates, write out_dir/prepare.log, enforce max_bad_fraction, write and validate the dir.

    Raises PrepError (after writing prepare.log) when the set is unusable; returns the report.
    """
    out_dir = Path(out_dir)
    utts = collect_utterances(candidates, report, check_audio=check_audio, audio_check=audio_check, nj=nj)
    report.kept = len(utts)
    report.write_log(out_dir / "prepare.log", max_bad_fraction)
    report.enforce(max_bad_fraction)
    write_any_datadir(out_dir, to_datadir(utts))
    read_any_datadir(out_dir, check_audio=False)  # the tables we wrote must read back
    _log_summary(report)
    return report


def _log_summary(report: PrepReport) -> None:
    if report.bad_items:
        log.warning("%s; see %s", report.summary(), report.log_path)
    else:
        log.info("%s", report.summary())


def write_prepared_sets(
    out_dir: str | Path,
    candidates: Iterable[Utterance],
    report: PrepReport,
    assign: Callable[[list[Utterance]], dict[str, str]],
    set_names: tuple[str, ...] = ("train", "dev", "test"),
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    *,
    check_audio: bool = True,
    nj: int = 4,
) -> PrepReport:
    """write_prepared_dir for a corpus that is one pool: one report and out_dir/prepare.log for all
    of it, then `assign` (kept utterances -> {utt: set name}) cuts out_dir/<set> for each set name.

    Raises PrepError when the pool is unusable or a set comes out empty.
    """
    out_dir = Path(out_dir)
    utts = collect_utterances(candidates, report, check_audio=check_audio, nj=nj)
    report.kept = len(utts)
    report.write_log(out_dir / "prepare.log", max_bad_fraction)
    report.enforce(max_bad_fraction)
    where = assign(utts)
    for name in set_names:
        members = [u for u in utts if where[u.utt] == name]
        if not members:
            raise PrepError(f"{report.name}: set '{name}' has no utterances out of {len(utts)}; "
                            "add data or give it a larger fraction")
        write_any_datadir(out_dir / name, to_datadir(members))
        read_any_datadir(out_dir / name, check_audio=False)
        log.info("%s/%s: %d utterances", out_dir, name, len(members))
    _log_summary(report)
    return report


# ---------------------------------------------------------------------------------------------
# Command line


def prep_arg_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every data_prep CLI takes: CORPUS_DIR OUT_DIR [--max-bad-fraction F]."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus_dir", type=Path, help="the corpus as downloaded or delivered")
    p.add_argument("out_dir", type=Path, help="where the data dirs go (one folder per set)")
    p.add_argument("--max-bad-fraction", type=float, default=DEFAULT_MAX_BAD_FRACTION,
                   help="stop when more than this fraction of a set's utterances is bad (default %(default)s)")
    return p


def run_prep_cli(prepare: Callable[[], object]) -> None:
    """Run a preparation with INFO logging; a PrepError is printed without a traceback (exit 1)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        prepare()
    except PrepError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
