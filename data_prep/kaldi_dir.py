"""An existing Kaldi data dir, checked and repaired (what Kaldi's utils/fix_data_dir.sh does, and more).

    python -m data_prep.kaldi_dir SRC_DIR OUT_DIR

Reads wav.scp, text, utt2spk (or spk2utt, or neither: then each utterance is its own speaker) and
segments when present, in any order, and writes OUT_DIR sorted, with spk2utt made from utt2spk.
Dropped, each with its file and line in OUT_DIR/prepare.log:

- lines without a value, and repeated ids (the first line wins),
- utterances missing from one of the tables (no audio, no transcript, no speaker),
- empty transcripts, audio that does not exist or does not decode.

Tables may separate the id from the value by any whitespace (tabs too), as Kaldi's do.
Transcripts are lower-cased, as the other preparations do (`--keep-case` keeps them).

A wav.scp entry that pipes one file through a decoder and nothing else (`flac -c -d -s x.flac |`,
`sph2pipe -f wav -p x.sph |`, `sox x.wav -t wav - |`) is replaced by that file, which soundfile
reads directly. Any other command is a program that changes the audio (`sph2pipe -c 2` picks a
channel, `sox ... trim 0 2` cuts): it is run, as Kaldi runs it, and its output saved under
OUT_DIR/audio/; `sph2pipe`, rarely installed, is done here for -f, -p, -c and -t, and other
options are refused with a message. Relative paths resolve against the current directory, as in
Kaldi, and are written absolute. OUT_DIR may be SRC_DIR: the original tables are then moved to
SRC_DIR/.backup.
"""

from __future__ import annotations

import io
import logging
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.data.datadir import DataDirError
from asr.data.segments import parse_segment
from data_prep.common import (
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
    safe_id,
    write_prepared_dir,
)

log = logging.getLogger(__name__)

TABLES = ("wav.scp", "text", "utt2spk", "spk2utt", "segments")


def read_table_lenient(path: Path, report: PrepReport, allow_empty: bool = False) -> dict[str, tuple[int, str]]:
    """{key: (line number, value)} in file order; malformed and repeated lines are reported and skipped."""
    out: dict[str, tuple[int, str]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, *rest = line.strip().split(maxsplit=1)  # any whitespace separates, as in Kaldi (tabs too)
        value = rest[0].strip() if rest else ""
        if not value and not allow_empty:
            report.bad(BAD_ENTRY, path, f"line {lineno}: '{key}' has no value", key)
        elif key in out:
            report.bad(ID_COLLISION, path, f"line {lineno}: '{key}' repeats line {out[key][0]} (kept the first)", key)
        else:
            out[key] = (lineno, value)
    return out


# Commands that only decode one file, whatever their options here: the file itself is the same
# audio (all its channels; soundfile reads FLAC, SPHERE and WAV directly).
_PLAIN_DECODERS = {
    "cat": set(),
    "flac": {"-c", "-d", "-s", "--decode", "--stdout", "--silent"},
    "sph2pipe": {"-p", "-f wav", "-f rif"},
}
_SPH2PIPE_HELP = "sph2pipe options implemented here: -f wav|rif, -p, -c 1|2, -t BEG:END (seconds)"


def _plain_file(args: list[str]) -> str | None:
    """The input file when the command `args` is one of _PLAIN_DECODERS (or `sox F -t wav -`) with
    no option that changes the audio; else None."""
    prog = Path(args[0]).name
    if prog == "sox":
        if len(args) == 5 and args[2:] == ["-t", "wav", "-"]:
            return args[1]
        return None
    if prog not in _PLAIN_DECODERS:
        return None
    opts, files, i = set(), [], 1
    while i < len(args):
        if args[i] == "-f" and i + 1 < len(args):
            opts.add(f"-f {args[i + 1]}")
            i += 2
            continue
        (opts.add if args[i].startswith("-") and args[i] != "-" else files.append)(args[i])
        i += 1
    if len(files) == 1 and opts <= _PLAIN_DECODERS[prog]:
        return files[0]
    return None


def _sph2pipe(args: list[str]) -> tuple[np.ndarray, int]:
    """What `sph2pipe ARGS` writes, for the options Kaldi recipes use (the program itself is
    rarely installed): (samples [S, C], rate). Raises ValueError naming any other option."""
    channel, span, files, i = None, None, [], 1
    while i < len(args):
        a = args[i]
        val = args[i + 1] if i + 1 < len(args) else None
        if a == "-f" and val in ("wav", "rif"):
            i += 2
        elif a == "-p":
            i += 1
        elif a == "-c" and val in ("1", "2"):
            channel, i = int(val) - 1, i + 2
        elif a == "-t" and val and ":" in val:
            b, e = val.split(":", 1)
            try:
                span = (float(b or 0), float(e) if e else None)
            except ValueError:
                raise ValueError(f"sph2pipe -t {val}: not BEG:END in seconds; {_SPH2PIPE_HELP}") from None
            i += 2
        elif a.startswith("-"):
            raise ValueError(f"sph2pipe option {a} {val or ''} is not implemented; {_SPH2PIPE_HELP}".replace("  ", " "))
        else:
            files.append(a)
            i += 1
    if len(files) != 1:
        raise ValueError(f"sph2pipe needs one input file, got {len(files)}")
    try:
        wave, rate = sf.read(files[0], dtype="int16", always_2d=True)
    except Exception as e:
        raise ValueError(f"{files[0]}: cannot read ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if channel is not None:
        if channel >= wave.shape[1]:
            raise ValueError(f"sph2pipe -c {channel + 1}: {files[0]} has {wave.shape[1]} channel(s)")
        wave = wave[:, channel : channel + 1]
    if span is not None:
        b = int(round(span[0] * rate))
        e = len(wave) if span[1] is None else int(round(span[1] * rate))
        wave = wave[b:e]
    return wave, rate


def _run_command(command: str) -> tuple[np.ndarray, int]:
    """Run a wav.scp command (without its final '|') in the shell, as Kaldi does; the audio it writes."""
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, timeout=3600)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ValueError(f"command {command!r} failed (exit {proc.returncode}): {err[-1] if err else 'no message'}")
    try:
        wave, rate = sf.read(io.BytesIO(proc.stdout), dtype="int16", always_2d=True)
    except Exception as e:
        raise ValueError(f"command {command!r} did not write audio soundfile can read ({e})") from None
    return wave, rate


def resolve_wav_entry(value: str, audio_dir: Path | None = None, rec: str = "") -> str:
    """A wav.scp value -> an audio file path.

    A plain path is that file. A command (`... |`) that only decodes one file (`flac -c -d -s F`,
    `sph2pipe -f wav -p F`, `sox F -t wav -`, `cat F`) is that file. Any other command is run, as
    Kaldi runs it, and what it writes is saved as `audio_dir/<rec>.wav` (`sph2pipe`, when not
    installed, is done here for -f, -p, -c and -t and refuses other options). Options are never
    dropped. Raises ValueError when the command cannot be parsed, fails, or needs `audio_dir`.
    """
    if not value.endswith("|"):
        return str(Path(value).resolve())
    command = value[:-1].strip()
    try:
        args = shlex.split(command)
    except ValueError as e:
        raise ValueError(f"cannot parse the command {value!r} ({e})") from None
    simple = args and not any(a in ("|", "||", "&&", ";", ">", "<") for a in args)
    if simple:
        plain = _plain_file(args)
        if plain is not None:
            return str(Path(plain).resolve())  # a missing file is reported by the audio check
    if audio_dir is None:
        raise ValueError(f"piped command {value!r} changes the audio; an output folder is needed to run it")
    if simple and Path(args[0]).name == "sph2pipe" and shutil.which(args[0]) is None:
        wave, rate = _sph2pipe(args)
    else:
        if not args or shutil.which(args[0]) is None:
            raise ValueError(f"command {value!r}: program '{args[0] if args else ''}' is not installed")
        wave, rate = _run_command(command)
    if len(wave) == 0:
        raise ValueError(f"command {value!r} wrote no samples")
    audio_dir.mkdir(parents=True, exist_ok=True)
    out = audio_dir / f"{safe_id(rec) or 'rec'}.wav"
    sf.write(str(out), wave, rate, subtype="PCM_16")
    return str(out.resolve())


def kaldi_dir_utterances(
    src: Path, report: PrepReport, audio_dir: Path | None = None, lowercase: bool = True
) -> list[Utterance]:
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
            paths[rec] = resolve_wav_entry(value, audio_dir, rec)
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
        utts.append(Utterance(utt, utt2spk[utt], paths[rec], text[utt][1].lower() if lowercase else text[utt][1],
                              start, end, rec if segments else None))
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
    lowercase: bool = True,
) -> PrepReport:
    """Check and repair src_dir into out_dir (may be the same folder); returns the report.
    Transcripts are lower-cased (as every other preparation does) unless `lowercase=False`;
    audio that wav.scp commands make is written to out_dir/audio/."""
    src, out = Path(src_dir), Path(out_dir)
    if not src.is_dir():
        raise PrepError(f"{src}: not a directory")
    report = PrepReport(out.name, source=str(src.resolve()))
    utts = kaldi_dir_utterances(src, report, out / "audio", lowercase)
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
    p.add_argument("--keep-case", action="store_true", help="do not lower-case the transcripts")
    args = p.parse_args(argv)
    run_prep_cli(lambda: prepare_kaldi_dir(args.corpus_dir, args.out_dir, args.max_bad_fraction,
                                           not args.no_check_audio, not args.keep_case))


if __name__ == "__main__":
    main()
