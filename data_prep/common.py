"""What every corpus preparation shares: text normalisation, writing and validating data dirs,
splits and combining data dirs; bad-item accounting is data_prep/prep_report.py (re-exported
here), downloads data_prep/download.py.

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
import hashlib
import logging
import re
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import soundfile as sf
from tqdm import tqdm

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
    """None when the file exists and its header decodes with at least one sample, else what is wrong."""
    p = Path(path)
    if not p.is_file():
        return "file not found"
    if p.stat().st_size == 0:
        return "file is empty (0 bytes)"
    try:
        info = sf.info(str(p))
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        return f"cannot decode audio ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    if info.frames == 0:
        return "audio has no samples"
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
# Sets: splits and combinations


def hash_fraction(key: str, salt: str = "") -> float:
    """A number in [0, 1) from the SHA-1 of `salt + key`: the same on every machine and run."""
    return int.from_bytes(hashlib.sha1((salt + key).encode("utf-8")).digest()[:8], "big") / 2.0**64


def hash_split(keys: Iterable[str], dev_fraction: float, test_fraction: float, salt: str = "") -> dict[str, str]:
    """key -> 'train', 'dev' or 'test' by hash_fraction, so adding keys never moves the others.

    A set with a positive fraction that comes out empty takes the train key with the lowest hash
    (logged), so a small corpus still gets a dev and a test utterance.
    """
    keys = sorted(set(keys))
    u = {k: hash_fraction(k, salt) for k in keys}
    out = {k: "test" if u[k] < test_fraction else "dev" if u[k] < test_fraction + dev_fraction else "train" for k in keys}
    for name, frac in (("test", test_fraction), ("dev", dev_fraction)):
        train = sorted((k for k in keys if out[k] == "train"), key=lambda k: u[k])
        if frac > 0 and name not in out.values() and len(train) > 1:
            out[train[0]] = name
            log.warning("hash split gave %s no items; moved '%s' there", name, train[0])
    return out


@dataclass
class SetSpec:
    """A data set the recipe uses (data/<name>) and the prepared parts it combines."""

    name: str  # e.g. train, dev, test_clean
    parts: list[str] = field(default_factory=list)  # prepared dirs under data/local, e.g. [train_clean_100]


@dataclass
class CorpusConfig:
    """The corpus section of a recipe config: where the corpus is and which data sets to make."""

    corpus_dir: str = "corpus"  # the corpus (relative: under --work-dir); recipes take --corpus-dir too
    download: bool = False  # fetch the public archives into corpus_dir first (checksummed, resumable)
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION  # stop when more of a set's items are bad
    sets: list[SetSpec] = field(default_factory=list)  # data/<name> = its prepared parts combined


def corpus_dir_option(flag: str, help: str) -> tuple[Callable, Callable]:
    """(add_args, apply_args) for asr.recipe.runner.recipe_main: `flag PATH` overrides cfg.corpus.corpus_dir."""
    dest = flag.lstrip("-").replace("-", "_")

    def add_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(flag, dest=dest, help=help)

    def apply_args(cfg, args: argparse.Namespace) -> None:
        if getattr(args, dest):
            cfg.corpus.corpus_dir = str(Path(getattr(args, dest)).resolve())

    return add_args, apply_args


def combine_data_dirs(out_dir: str | Path, src_dirs: list[Path]) -> DataDir:
    """Kaldi's combine_data.sh: union of data dirs (utterance ids must not repeat); segments kept."""
    datas = [read_any_datadir(d, check_audio=False) for d in src_dirs]
    segmented = any(isinstance(d, SegmentedDataDir) for d in datas)
    out: DataDir = SegmentedDataDir() if segmented else DataDir()
    seen: dict[str, Path] = {}
    for src, d in zip(src_dirs, datas):
        for utt in d.utts:
            if utt in seen:
                raise PrepError(f"cannot combine {seen[utt]} and {src}: both have utterance '{utt}'")
            seen[utt] = src
        out.text.update(d.text)
        out.utt2spk.update(d.utt2spk)
        if isinstance(out, SegmentedDataDir):
            for rec, path in d.wav_scp.items():
                if out.wav_scp.get(rec, path) != path:
                    raise PrepError(f"cannot combine {src}: recording '{rec}' is another file elsewhere")
            out.wav_scp.update(d.wav_scp)
            if isinstance(d, SegmentedDataDir):
                out.segments.update(d.segments)
            else:  # whole files become segments that span them
                out.segments.update({u: Segment(u, 0.0, -1.0) for u in d.wav_scp})
        else:
            out.wav_scp.update(d.wav_scp)
    write_any_datadir(out_dir, out)
    read_any_datadir(out_dir, check_audio=False)
    return out


def assemble_sets(prepared_root: str | Path, data_root: str | Path, sets: list[SetSpec]) -> None:
    """Write data_root/<set.name> as the combination of prepared_root/<part> for each set."""
    prepared_root, data_root = Path(prepared_root), Path(data_root)
    for spec in sets:
        missing = [p for p in spec.parts if not (prepared_root / p / "wav.scp").is_file()]
        if not spec.parts or missing:
            raise PrepError(
                f"set '{spec.name}': prepared part(s) {missing or '(none given)'} not found in {prepared_root}; "
                f"prepared: {sorted(p.name for p in prepared_root.iterdir() if (p / 'wav.scp').is_file())}"
            )
        data = combine_data_dirs(data_root / spec.name, [prepared_root / p for p in spec.parts])
        log.info("data/%s = %s: %d utterances, %d speakers", spec.name, " + ".join(spec.parts), len(data.utts),
                 len(data.spk2utt))


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
