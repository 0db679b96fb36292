"""Your own recordings into Kaldi data dirs: a folder with transcripts beside the audio, or a manifest.

    python -m data_prep.custom PATH data/local [--dev-fraction 0.1] [--test-fraction 0.1]

PATH is either

1. a folder. Every audio file (.wav .flac .mp3 .ogg .opus .sph ...) at any depth, with a transcript of
   the same name beside it: `alice/0001.wav` + `alice/0001.txt` (or `.lab`, one line of plain text).
   The speaker is the first folder under PATH (`alice`); a file directly in PATH is its own speaker.
   When PATH has `train/`, `dev/` or `test/` folders, each one is that set (speakers one level down).

2. a manifest: `.csv`, `.tsv` or `.jsonl` (one JSON object per line), one utterance per row:
       path    (or audio, audio_filepath, file, wav)     the audio file; relative to the manifest's folder
       text    (or transcript, transcription, sentence, normalized_text)
     optional:
       speaker (or spk, speaker_id, client_id)           default: the recording (file) itself
       start, end  seconds into the file (or offset, duration as in NeMo); the data dir gets `segments`
       split   train, dev or test                        default: by hash of the utterance id
       id      your utterance id                         default: <speaker>-<file>[-<start ms>-<end ms>]

Utterance ids start with the speaker (Kaldi sorts on that). Transcripts are normalised with
data_prep.common.normalise_text unless `normalise=False`. Sets that the corpus does not give are cut
by a hash of the utterance id (or of the speaker, with `split_by="speaker"`), so an utterance never
changes set. Every problem is listed in out_dir/prepare.log with its file and line.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from data_prep.common import (
    AUDIO_EXTENSIONS,
    BAD_ENTRY,
    DEFAULT_MAX_BAD_FRACTION,
    MISSING_AUDIO,
    NO_TRANSCRIPT,
    REJECTED_TEXT,
    PrepError,
    PrepReport,
    RejectedText,
    Utterance,
    normalise_text,
    prep_arg_parser,
    run_prep_cli,
    safe_id,
    write_prepared_sets,
)
from data_prep.sets import hash_split

log = logging.getLogger(__name__)

SETS = ("train", "dev", "test")
TRANSCRIPT_EXTENSIONS = (".txt", ".lab")
MANIFEST_EXTENSIONS = (".csv", ".tsv", ".jsonl")
COLUMNS = {  # meaning -> accepted names, first one preferred
    "path": ("path", "audio", "audio_filepath", "audio_path", "file", "filename", "wav"),
    "text": ("text", "transcript", "transcription", "sentence", "normalized_text"),
    "speaker": ("speaker", "spk", "speaker_id", "client_id"),
    "start": ("start", "offset", "begin"),
    "end": ("end",),
    "duration": ("duration",),
    "split": ("split", "set", "subset"),
    "id": ("id", "utt", "utt_id", "utterance_id"),
}


@dataclass
class Row:
    """One manifest row, with its columns renamed to the meanings of COLUMNS."""

    lineno: int
    values: dict[str, str]


def _read_transcript(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig").strip()


def _clean(text: str, normalise: bool) -> str:
    return normalise_text(text) if normalise else " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Folder of audio + transcripts


def folder_utterances(
    root: Path, report: PrepReport, normalise: bool, forced_set: str | None = None
) -> tuple[list[Utterance], dict[str, str]]:
    """Candidates of a folder tree, and {utt: set} for those whose set the tree gives."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    audio = {p.with_suffix(""): p for p in files if p.suffix.lower() in AUDIO_EXTENSIONS}
    trans: dict[Path, Path] = {}
    for p in files:
        if p.suffix.lower() in TRANSCRIPT_EXTENSIONS and not p.name.lower().startswith("readme"):
            trans.setdefault(p.with_suffix(""), p)  # .txt sorts before .lab: .txt wins
    if not audio:
        found = sorted({p.suffix.lower() or p.name for p in files})
        raise PrepError(
            f"{root}: no audio files ({' '.join(AUDIO_EXTENSIONS)}) in this folder or below (found: "
            f"{', '.join(found[:10]) or 'nothing'}). Expected e.g. {root}/alice/0001.wav with {root}/alice/0001.txt"
        )
    utts, sets = [], {}
    for stem, path in audio.items():
        rel = stem.relative_to(root).parts
        spk, utt = safe_id(rel[0]), safe_id("-".join(rel))  # alice/0001 -> alice, alice-0001; 0001 -> 0001, 0001
        if stem not in trans:
            report.bad(NO_TRANSCRIPT, path, f"no {stem.name}.txt or {stem.name}.lab beside it", utt)
            continue
        try:
            text = _clean(_read_transcript(trans[stem]), normalise)
        except RejectedText as e:
            report.bad(REJECTED_TEXT, trans[stem], str(e), utt)
            continue
        except UnicodeDecodeError as e:
            report.bad(BAD_ENTRY, trans[stem], f"not UTF-8 text ({e.reason} at byte {e.start})", utt)
            continue
        utts.append(Utterance(utt, spk, str(path.resolve()), text))
        if forced_set:
            sets[utt] = forced_set
    for stem, t in trans.items():
        if stem not in audio:
            exts = "|".join(e[1:] for e in AUDIO_EXTENSIONS[:4])
            report.bad(MISSING_AUDIO, t, f"no audio file named {stem.name}.<{exts}|...> beside it")
    return utts, sets


# ---------------------------------------------------------------------------------------------
# Manifest


def _columns(header: list[str], path: Path) -> dict[str, str]:
    """{meaning: column name in this manifest}; PrepError when path or text has no column."""
    lower = {h.strip().lower(): h for h in header}
    found = {}
    for meaning, names in COLUMNS.items():
        for n in names:
            if n in lower:
                found[meaning] = lower[n]
                break
    for meaning in ("path", "text"):
        if meaning not in found:
            raise PrepError(
                f"{path}: no column for the {'audio file' if meaning == 'path' else 'transcript'}; the columns are "
                f"{[h for h in header]}; name one of them {' or '.join(COLUMNS[meaning])}"
            )
    return found


def read_manifest(path: Path, report: PrepReport) -> list[Row]:
    """Rows of a .csv/.tsv (header line) or .jsonl manifest; a malformed row is reported, not fatal."""
    ext = path.suffix.lower()
    rows: list[Row] = []
    if ext == ".jsonl":
        objects = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                report.bad(BAD_ENTRY, path, f"line {lineno}: not valid JSON ({e.msg} at column {e.colno})")
                continue
            if not isinstance(obj, dict):
                report.bad(BAD_ENTRY, path, f"line {lineno}: expected a JSON object {{...}}, got {type(obj).__name__}")
                continue
            objects.append((lineno, {str(k): "" if v is None else str(v) for k, v in obj.items()}))
        if not objects:
            raise PrepError(f"{path}: no JSON objects in the file")
        cols = _columns(sorted({k for _, o in objects for k in o}), path)
        for lineno, obj in objects:
            rows.append(Row(lineno, {m: obj.get(c, "") for m, c in cols.items()}))
        return rows
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t" if ext == ".tsv" else ",")
        header = next(reader, None)
        if not header:
            raise PrepError(f"{path}: empty file; expected a header line such as 'path,text,speaker'")
        cols = _columns(header, path)
        index = {m: header.index(c) for m, c in cols.items()}
        for lineno, fields in enumerate(reader, 2):
            if not any(x.strip() for x in fields):
                continue
            if len(fields) != len(header):
                hint = " (a comma inside the text? quote the text with \"...\")" if ext == ".csv" else ""
                report.bad(BAD_ENTRY, path, f"line {lineno}: {len(fields)} fields, the header has {len(header)}{hint}")
                continue
            rows.append(Row(lineno, {m: fields[i] for m, i in index.items()}))
    return rows


def _seconds(value: str, what: str) -> float | None:
    if not value.strip():
        return None
    try:
        t = float(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number of seconds") from None
    if t < 0:
        raise ValueError(f"{what} {t} is negative")
    return t


def _segment(v: dict[str, str]) -> tuple[float | None, float | None]:
    """(start, end) of a row, from start/end or offset/duration; (None, None) for a whole file."""
    start = _seconds(v.get("start", ""), "start")
    end = _seconds(v.get("end", ""), "end")
    if end is None and start is not None and v.get("duration", "").strip():
        end = start + (_seconds(v["duration"], "duration") or 0.0)
    if start is None and end is None:
        return None, None
    start = start or 0.0
    if end is not None and end <= start:
        raise ValueError(f"end {end} is not after start {start}")
    return start, -1.0 if end is None else end


def recording_id(audio: Path, base: Path, taken: set[str]) -> str:
    """An id for an audio file: its path under the manifest's folder (else folder/name), '/' -> '-';
    a suffix -2, -3, ... when another file already has it."""
    try:
        parts = audio.with_suffix("").relative_to(base).parts
    except ValueError:
        parts = audio.with_suffix("").parts[-2:]
    rec = safe_id("-".join(parts)) or "rec"
    n, out = 1, rec
    while out in taken:
        n += 1
        out = f"{rec}-{n}"
    return out


def manifest_utterances(path: Path, report: PrepReport, normalise: bool) -> tuple[list[Utterance], dict[str, str]]:
    utts, sets = [], {}
    base = path.parent
    durations: dict[Path, float | None] = {}
    recordings: dict[Path, str] = {}  # audio file -> recording id
    taken: set[str] = set()
    for row in read_manifest(path, report):
        v, where = row.values, f"line {row.lineno}"
        if not v["path"].strip():
            report.bad(BAD_ENTRY, path, f"{where}: the audio path is empty")
            continue
        audio = (base / v["path"].strip()).resolve()
        if audio not in recordings:
            recordings[audio] = recording_id(audio, base.resolve(), taken)
            taken.add(recordings[audio])
        rec = recordings[audio]
        spk = safe_id(v.get("speaker", "")) or rec
        try:
            start, end = _segment(v)
        except ValueError as e:
            report.bad(BAD_ENTRY, audio, f"{path} {where}: {e}")
            continue
        if v.get("id", "").strip():
            utt = safe_id(v["id"])
            utt = utt if utt.startswith(f"{spk}-") or utt == spk else f"{spk}-{utt}"
        else:
            utt = rec if rec == spk or rec.startswith(f"{spk}-") else f"{spk}-{rec}"
            if start is not None:
                utt += f"-{round(start * 1000):07d}-{'end' if end == -1 else f'{round(end * 1000):07d}'}"
        split = v.get("split", "").strip().lower()
        if split and split not in SETS:
            report.bad(BAD_ENTRY, audio, f"{path} {where}: split {v['split']!r} is not one of {', '.join(SETS)}", utt)
            continue
        if start is not None and end != -1 and audio.is_file():
            if audio not in durations:
                try:
                    durations[audio] = sf.info(str(audio)).duration
                except Exception:  # unreadable: reported by the audio check
                    durations[audio] = None
            dur = durations[audio]
            if dur is not None and end > dur + 0.01:
                report.bad(BAD_ENTRY, audio, f"{path} {where}: the segment ends at {end} s, after the end of the "
                           f"file ({dur:.3f} s)", utt)
                continue
        try:
            text = _clean(v["text"], normalise)
        except RejectedText as e:
            report.bad(REJECTED_TEXT, audio, f"{path} {where}: {e}", utt)
            continue
        utts.append(Utterance(utt, spk, str(audio), text, start, end, rec))
        if split:
            sets[utt] = split
    return utts, sets


# ---------------------------------------------------------------------------------------------


def custom_utterances(data: Path, report: PrepReport, normalise: bool) -> tuple[list[Utterance], dict[str, str]]:
    """Candidates of a folder or manifest and the sets it gives explicitly."""
    if data.is_file():
        if data.suffix.lower() not in MANIFEST_EXTENSIONS:
            raise PrepError(f"{data}: a manifest must be {', '.join(MANIFEST_EXTENSIONS)}; or give the folder with the audio")
        return manifest_utterances(data, report, normalise)
    if not data.is_dir():
        raise PrepError(f"{data}: no such file or folder")
    set_dirs = {s: data / s for s in SETS if (data / s).is_dir()}
    if not set_dirs:
        return folder_utterances(data, report, normalise)
    utts, sets = [], {}
    for name, d in set_dirs.items():
        u, s = folder_utterances(d, report, normalise, forced_set=name)
        utts += u
        sets.update(s)
    return utts, sets


def prepare_custom(
    data: str | Path,
    out_dir: str | Path,
    dev_fraction: float = 0.1,
    test_fraction: float = 0.1,
    split_by: str = "utterance",
    normalise: bool = True,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
) -> PrepReport:
    """Write out_dir/{train,dev,test} and out_dir/prepare.log from a folder or manifest; returns the report.

    split_by: "utterance" or "speaker" (speakers never shared between sets) for the hash split of
    the utterances the corpus does not assign. Raises PrepError with what to fix.
    """
    data, out_dir = Path(data).resolve(), Path(out_dir)
    if split_by not in ("utterance", "speaker"):
        raise PrepError(f"split_by must be 'utterance' or 'speaker', got {split_by!r}")
    report = PrepReport("custom", source=str(data))
    candidates, given = custom_utterances(data, report, normalise)

    def assign(utts: list[Utterance]) -> dict[str, str]:
        # A set the corpus gives is used as it is; the others are cut by hash from the rest.
        fixed = {u.utt: given[u.utt] for u in utts if given.get(u.utt, "train") != "train"}
        dev_f = 0.0 if "dev" in fixed.values() else dev_fraction
        test_f = 0.0 if "test" in fixed.values() else test_fraction
        keys = {u.utt: (u.spk if split_by == "speaker" else u.utt) for u in utts if u.utt not in fixed}
        by_key = hash_split(keys.values(), dev_f, test_f, salt="custom")
        return {**{u: by_key[k] for u, k in keys.items()}, **fixed}

    return write_prepared_sets(out_dir, candidates, report, assign, SETS, max_bad_fraction)


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--dev-fraction", type=float, default=0.1, help="share of utterances (by hash) in dev")
    p.add_argument("--test-fraction", type=float, default=0.1, help="share of utterances (by hash) in test")
    p.add_argument("--split-by", choices=("utterance", "speaker"), default="utterance", help="what the hash split keeps together")
    p.add_argument("--no-normalise", action="store_true", help="keep the transcripts as they are (only whitespace is collapsed)")
    args = p.parse_args(argv)
    run_prep_cli(lambda: prepare_custom(args.corpus_dir, args.out_dir, args.dev_fraction, args.test_fraction,
                                        args.split_by, not args.no_normalise, args.max_bad_fraction))


if __name__ == "__main__":
    main()
