"""An existing Kaldi data dir, checked and repaired (what Kaldi's utils/fix_data_dir.sh does, and more).

    python -m data_prep.kaldi_dir SRC_DIR OUT_DIR

Reads wav.scp, text, utt2spk (or spk2utt, or neither: then each utterance is its own speaker) and
segments when present, in any order, and writes OUT_DIR sorted, with spk2utt made from utt2spk.
Dropped, each with its file and line in OUT_DIR/prepare.log:

- lines without a value, and repeated ids (the first line wins),
- utterances missing from one of the tables (no audio, no transcript, no speaker),
- empty transcripts, audio that does not exist or does not decode.

A wav.scp entry that pipes one file through a decoder (`flac -c -d -s x.flac |`, `sph2pipe -f wav
x.sph |`, `sox x.wav -t wav - |`) is replaced by that file, which soundfile reads directly; other
commands are reported. Relative paths resolve against the current directory, as in Kaldi, and
are written absolute. OUT_DIR may be SRC_DIR: the original tables are then moved to SRC_DIR/.backup.
"""

from __future__ import annotations

import logging
import shlex
import shutil
from pathlib import Path

from data_prep.common import (
    AUDIO_EXTENSIONS,
    BAD_ENTRY,
    DEFAULT_MAX_BAD_FRACTION,
    EMPTY_TRANSCRIPT,
    ID_COLLISION,
    MISSING_AUDIO,
    NO_SPEAKER,
    NO_TRANSCRIPT,
    UNREADABLE,
    PrepError,
    PrepReport,
    Utterance,
    audio_problem,
    prep_arg_parser,
    run_prep_cli,
    write_prepared_dir,
)
from asr.data.datadir import DataDirError
from asr.data.segments import parse_segment

log = logging.getLogger(__name__)

TABLES = ("wav.scp", "text", "utt2spk", "spk2utt", "segments")


def read_table_lenient(path: Path, report: PrepReport, allow_empty: bool = False) -> dict[str, tuple[int, str]]:
    """{key: (line number, value)} in file order; malformed and repeated lines are reported and skipped."""
    out: dict[str, tuple[int, str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        value = value.strip()
        if not value and not allow_empty:
            report.bad(BAD_ENTRY, path, f"line {lineno}: '{key}' has no value", key)
        elif key in out:
            report.bad(ID_COLLISION, path, f"line {lineno}: '{key}' repeats line {out[key][0]} (kept the first)", key)
        else:
            out[key] = (lineno, value)
    return out


def resolve_wav_entry(value: str) -> str:
    """A wav.scp value -> an audio file path: a plain path, or the one input file of a decoding pipe.

    Raises ValueError when a pipe's input file cannot be told, or is not a file.
    """
    if not value.endswith("|"):
        return str(Path(value).resolve())
    try:
        args = shlex.split(value[:-1])
    except ValueError as e:
        raise ValueError(f"cannot parse the command {value!r} ({e})") from None
    files = [a for a in args[1:] if not a.startswith("-") and Path(a).suffix.lower() in AUDIO_EXTENSIONS]
    if args and Path(args[0]).name in ("flac", "sph2pipe", "sox", "cat") and len(files) == 1:
        return str(Path(files[0]).resolve())  # a missing file is reported by the audio check
    raise ValueError(f"piped command {value!r} is not one input file through flac/sph2pipe/sox; "
                     "convert the audio to files and list their paths")


def kaldi_dir_utterances(src: Path, report: PrepReport) -> list[Utterance]:
    missing = [t for t in ("wav.scp", "text") if not (src / t).is_file()]
    if missing:
        raise PrepError(f"{src}: no {' and no '.join(missing)}; a data dir needs wav.scp and text "
                        f"(found: {', '.join(sorted(p.name for p in src.iterdir())) or 'nothing'})")
    wav = read_table_lenient(src / "wav.scp", report)
    text = read_table_lenient(src / "text", report, allow_empty=True)
    segments: dict[str, tuple[int, str]] = {}
    if (src / "segments").is_file():
        segments = read_table_lenient(src / "segments", report)
    if (src / "utt2spk").is_file():
        utt2spk = {u: v for u, (_, v) in read_table_lenient(src / "utt2spk", report).items()}
    elif (src / "spk2utt").is_file():
        utt2spk = {u: spk for spk, (_, v) in read_table_lenient(src / "spk2utt", report).items() for u in v.split()}
        log.info("%s: no utt2spk; made it from spk2utt", src)
    else:
        utt2spk = {u: u for u in (segments or wav)}
        log.warning("%s: no utt2spk or spk2utt; each utterance is its own speaker", src)

    paths: dict[str, str] = {}  # recording (or utt) -> audio file
    for rec, (lineno, value) in wav.items():
        try:
            paths[rec] = resolve_wav_entry(value)
        except ValueError as e:
            report.bad(UNREADABLE, src / "wav.scp", f"line {lineno}: {e}", rec)

    utts: list[Utterance] = []
    keys = segments or wav
    for utt in keys:
        start = end = None
        rec = utt
        if segments:
            lineno, value = segments[utt]
            try:
                seg = parse_segment(value, f"{src / 'segments'} line {lineno}: utt '{utt}'")
            except DataDirError as e:
                report.bad(BAD_ENTRY, src / "segments", str(e), utt)
                continue
            rec, start, end = seg.recording, seg.start, seg.end
        if rec not in wav:
            report.bad(MISSING_AUDIO, src / "segments", f"recording '{rec}' is not in wav.scp", utt)
            continue
        if rec not in paths:  # an unusable wav.scp entry, already reported
            continue
        if utt not in text:
            report.bad(NO_TRANSCRIPT, paths[rec], f"'{utt}' is not in {src / 'text'}", utt)
            continue
        if not text[utt][1]:
            report.bad(EMPTY_TRANSCRIPT, src / "text", f"line {text[utt][0]}: empty transcript", utt)
            continue
        if utt not in utt2spk:
            report.bad(NO_SPEAKER, src / "utt2spk", f"'{utt}' has no speaker", utt)
            continue
        utts.append(Utterance(utt, utt2spk[utt], paths[rec], text[utt][1], start, end, rec if segments else None))
    keys_file = src / ("segments" if segments else "wav.scp")
    for utt, (lineno, _) in text.items():
        if utt not in keys:
            report.bad(MISSING_AUDIO, src / "text", f"line {lineno}: '{utt}' is not in {keys_file}", utt)
    return utts


def prepare_kaldi_dir(
    src_dir: str | Path,
    out_dir: str | Path,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    check_audio: bool = True,
) -> PrepReport:
    """Check and repair src_dir into out_dir (may be the same folder); returns the report."""
    src, out = Path(src_dir), Path(out_dir)
    if not src.is_dir():
        raise PrepError(f"{src}: not a directory")
    report = PrepReport(out.name, source=str(src.resolve()))
    utts = kaldi_dir_utterances(src, report)
    if src.resolve() == out.resolve():
        backup = src / ".backup"
        backup.mkdir(exist_ok=True)
        for t in TABLES:
            if (src / t).exists():
                shutil.copy2(src / t, backup / t)
        log.info("%s: original tables copied to %s", src, backup)
    return write_prepared_dir(out, utts, report, max_bad_fraction, check_audio=check_audio, audio_check=audio_problem)


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--no-check-audio", action="store_true", help="do not decode each file's header")
    args = p.parse_args(argv)
    run_prep_cli(lambda: prepare_kaldi_dir(args.corpus_dir, args.out_dir, args.max_bad_fraction, not args.no_check_audio))


if __name__ == "__main__":
    main()
