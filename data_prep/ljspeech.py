"""LJSpeech 1.1 (one reader, 13,100 clips) into Kaldi data dirs.

    python -m data_prep.ljspeech CORPUS_DIR data/local [--download]

Reads `LJSpeech-1.1/metadata.csv` (`<id>|<transcription>|<normalised transcription>`, no header,
quotes are text) and `LJSpeech-1.1/wavs/<id>.wav` (22.05 kHz); CORPUS_DIR may be LJSpeech-1.1 or
its parent. The text is the third column, where LJSpeech spells out numbers, ordinals and
money but not abbreviations: `Mr.`, `Mrs.`, `Dr.`, `Messrs.`, `Hon.` and the others LJSpeech
uses are expanded here (`expand_abbreviations`: mister, missus, doctor, messieurs, honorable...),
as the reader says them, then the text is normalised with data_prep.common.normalise_text.
Blank lines are skipped; a byte-order mark and CRLF line ends are allowed. There is one speaker, `LJ`, so the sets are
cut by a hash of the utterance id (`dev_fraction`, `test_fraction`): stable across runs, and a
clip never changes set. Writes out_dir/{train,dev,test}.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from data_prep.common import (
    BAD_ENTRY,
    DEFAULT_MAX_BAD_FRACTION,
    EMPTY_TRANSCRIPT,
    ID_COLLISION,
    NO_TRANSCRIPT,
    REJECTED_TEXT,
    PrepError,
    PrepReport,
    RejectedText,
    Utterance,
    normalise_text,
    prep_arg_parser,
    run_prep_cli,
    write_prepared_sets,
)
from data_prep.sets import hash_split
from data_prep.download import download_and_extract

URL = "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2"
SHA256 = "be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5"  # as torchaudio pins it
SPEAKER = "LJ"


# The abbreviations of LJSpeech's normalised transcriptions, as the reader says them (the list
# Tacotron's English cleaners expand for this corpus, plus `Messrs.`).
ABBREVIATIONS = {
    "mrs": "missus", "mr": "mister", "dr": "doctor", "st": "saint", "co": "company", "jr": "junior",
    "maj": "major", "gen": "general", "drs": "doctors", "rev": "reverend", "lt": "lieutenant",
    "hon": "honorable", "sgt": "sergeant", "capt": "captain", "esq": "esquire", "ltd": "limited",
    "col": "colonel", "ft": "fort", "messrs": "messieurs",
}
_ABBREVIATION = re.compile(r"\b(" + "|".join(sorted(ABBREVIATIONS, key=len, reverse=True)) + r")\.", re.IGNORECASE)


def expand_abbreviations(text: str) -> str:
    """`Mr. Smith` -> `mister Smith`: LJSpeech's abbreviations (with their period) spelled out."""
    return _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m.group(1).lower()], text)


def download_ljspeech(target_dir: str | Path) -> None:
    """Download (resuming), verify and unpack LJSpeech-1.1.tar.bz2 (2.6 GB) into target_dir; done work is skipped."""
    download_and_extract(URL, target_dir, SHA256, "sha256", unpacks_to="LJSpeech-1.1")


def ljspeech_dir(corpus_dir: str | Path) -> Path:
    corpus_dir = Path(corpus_dir).resolve()
    for cand in (corpus_dir / "LJSpeech-1.1", corpus_dir):
        if (cand / "metadata.csv").is_file():
            return cand
    raise PrepError(f"{corpus_dir}: no LJSpeech-1.1/metadata.csv here; download with "
                    f"`python -m data_prep.ljspeech {corpus_dir} OUT_DIR --download`")


def prepare_ljspeech(
    corpus_dir: str | Path,
    out_dir: str | Path,
    dev_fraction: float = 0.02,
    test_fraction: float = 0.02,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
) -> PrepReport:
    """Write out_dir/{train,dev,test} and one out_dir/prepare.log; returns the report."""
    root, out_dir = ljspeech_dir(corpus_dir), Path(out_dir)
    meta = root / "metadata.csv"
    report = PrepReport("ljspeech", source=str(meta))
    candidates, listed = [], {}
    with open(meta, encoding="utf-8-sig", newline="") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE), 1):
            if not "".join(row).strip():  # a blank line (a trailing one, say) is no utterance
                continue
            if len(row) != 3 or not row[0].strip():
                report.bad(BAD_ENTRY, meta, f"line {lineno}: expected '<id>|<text>|<normalised text>', got {'|'.join(row)!r}")
                if row and row[0].strip():
                    listed.setdefault(row[0].strip(), lineno)  # its WAV is this bad line's, not another bad item
                continue
            utt, text = row[0].strip(), row[2]
            wav = root / "wavs" / f"{utt}.wav"
            if utt in listed:
                report.bad(ID_COLLISION, meta, f"line {lineno}: '{utt}' is already on line {listed[utt]}", utt)
                continue
            listed[utt] = lineno
            if not text.strip():
                report.bad(EMPTY_TRANSCRIPT, wav, f"{meta} line {lineno}: empty normalised transcription", utt)
                continue
            try:
                candidates.append(Utterance(utt, SPEAKER, str(wav.resolve()), normalise_text(expand_abbreviations(text))))
            except RejectedText as e:
                report.bad(REJECTED_TEXT, wav, f"{meta} line {lineno}: {e}", utt)
    for wav in sorted((root / "wavs").glob("*.wav")):
        if wav.stem not in listed:
            report.bad(NO_TRANSCRIPT, wav, f"no line for '{wav.stem}' in {meta}", wav.stem)
    return write_prepared_sets(
        out_dir, candidates, report,
        lambda utts: hash_split([u.utt for u in utts], dev_fraction, test_fraction, salt="ljspeech"),
        max_bad_fraction=max_bad_fraction,
    )


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--dev-fraction", type=float, default=0.02, help="share of clips (by hash) in dev")
    p.add_argument("--test-fraction", type=float, default=0.02, help="share of clips (by hash) in test")
    p.add_argument("--download", action="store_true", help="download LJSpeech-1.1.tar.bz2 into CORPUS_DIR first")
    args = p.parse_args(argv)

    def run() -> None:
        if args.download:
            download_ljspeech(args.corpus_dir)
        prepare_ljspeech(args.corpus_dir, args.out_dir, args.dev_fraction, args.test_fraction, args.max_bad_fraction)

    run_prep_cli(run)


if __name__ == "__main__":
    main()
