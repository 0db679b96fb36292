"""CMU AN4 (alphanumeric census and spelled-word utterances, 1991) into Kaldi data dirs.

    python -m data_prep.an4 CORPUS_DIR data/local [--parts train test]

Reads the layout of CMU's `an4_sphere.tar.gz` (CORPUS_DIR may be the `an4` folder or its parent):

    an4/etc/an4_{train,test}.fileids         `an4_clstk/<spk>/<file>` (or an4test_clstk/...), one per line
    an4/etc/an4_{train,test}.transcription   `<s> WORDS </s> (<file>)`; the test file omits <s> </s>
    an4/wav/<fileid>.<ext>                   NIST SPHERE (.sph) as shipped, or any format soundfile reads

Writes out_dir/an4_train and out_dir/an4_test. The speaker is the folder above the file; the
utterance id is `<spk>-<file>`. Transcripts are upper case with spelled letters as single-letter
words (`P I T T S B U R G H`); they are normalised like every other corpus (lower case). A
fileid without a transcript line, a transcript line whose file is not listed, and a missing audio
file are each counted in prepare.log.
"""

from __future__ import annotations

import re
from pathlib import Path

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
    write_prepared_dir,
)

PARTS = ("train", "test")
_LINE = re.compile(r"^(?:<s>)?\s*(?P<words>.*?)\s*(?:</s>)?\s*\((?P<file>[^()\s]+)\)\s*$")


def an4_root(corpus_dir: str | Path) -> Path:
    """The folder holding etc/ and wav/: CORPUS_DIR or CORPUS_DIR/an4."""
    corpus_dir = Path(corpus_dir).resolve()
    for cand in (corpus_dir, corpus_dir / "an4"):
        if (cand / "etc").is_dir() and any((cand / "etc" / f"an4_{p}.fileids").is_file() for p in PARTS):
            return cand
    raise PrepError(f"{corpus_dir}: no AN4 corpus here (etc/an4_train.fileids) or in {corpus_dir / 'an4'}")


def find_audio(base: Path) -> Path | None:
    """`base` with the first audio extension that exists (base has no extension), else None."""
    for ext in AUDIO_EXTENSIONS:
        if base.with_name(base.name + ext).is_file():
            return base.with_name(base.name + ext)
    return None


def read_transcription(path: Path, report: PrepReport) -> dict[str, str]:
    """{file name: words} of an an4_*.transcription file; malformed lines are reported."""
    out: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if m is None:
            report.bad(BAD_ENTRY, path, f"line {lineno}: not `<s> WORDS </s> (file)`: {line.strip()[:80]!r}")
            continue
        if m["file"] in out:
            report.bad(BAD_ENTRY, path, f"line {lineno}: a second transcript for '{m['file']}'", m["file"])
            continue
        out[m["file"]] = m["words"]
    return out


def part_utterances(root: Path, part: str, report: PrepReport) -> list[Utterance]:
    fileids_path, trans_path = root / "etc" / f"an4_{part}.fileids", root / "etc" / f"an4_{part}.transcription"
    for p in (fileids_path, trans_path):
        if not p.is_file():
            raise PrepError(f"{p}: not found; an AN4 part needs etc/an4_{part}.fileids and .transcription")
    transcripts = read_transcription(trans_path, report)
    fileids = [line.strip() for line in fileids_path.read_text().splitlines() if line.strip()]
    utts: list[Utterance] = []
    for fileid in fileids:
        name, spk = Path(fileid).name, Path(fileid).parent.name
        utt = f"{spk}-{name}"
        audio = find_audio(root / "wav" / fileid)
        if name not in transcripts:
            report.bad(NO_TRANSCRIPT, root / "wav" / fileid, f"no line for '{name}' in {trans_path}", utt)
            continue
        if audio is None:
            report.bad(MISSING_AUDIO, root / "wav" / fileid, "no audio file with this name and an audio extension", utt)
            continue
        try:
            text = normalise_text(transcripts[name])
        except RejectedText as e:
            report.bad(REJECTED_TEXT, audio, f"{e} in {trans_path}", utt)
            continue
        utts.append(Utterance(utt, spk, str(audio.resolve()), text))
    listed = {Path(f).name for f in fileids}
    for name in sorted(set(transcripts) - listed):
        report.bad(BAD_ENTRY, trans_path, f"'{name}' has a transcript but is not in {fileids_path.name}", name)
    return utts


def prepare_an4(
    corpus_dir: str | Path,
    out_dir: str | Path,
    parts: list[str] | tuple[str, ...] = PARTS,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    check_audio: bool = True,
    nj: int = 4,
) -> dict[str, PrepReport]:
    """Write out_dir/an4_<part> for each part; returns the reports (PrepError for too many bad items)."""
    root, out_dir = an4_root(corpus_dir), Path(out_dir)
    reports = {}
    for part in parts:
        if part not in PARTS:
            raise PrepError(f"unknown AN4 part '{part}'; known: {', '.join(PARTS)}")
        report = PrepReport(f"an4_{part}", source=str(root / "etc" / f"an4_{part}.fileids"))
        reports[f"an4_{part}"] = write_prepared_dir(out_dir / f"an4_{part}", part_utterances(root, part, report),
                                                    report, max_bad_fraction, check_audio=check_audio, nj=nj)
    return reports


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="parts to prepare")
    args = p.parse_args(argv)
    run_prep_cli(lambda: prepare_an4(args.corpus_dir, args.out_dir, args.parts, args.max_bad_fraction))


if __name__ == "__main__":
    main()
