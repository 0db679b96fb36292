"""LibriSpeech and Mini LibriSpeech (OpenSLR 12 and 31) into Kaldi data dirs.

    python -m data_prep.librispeech CORPUS_DIR data/local [--subsets dev-clean test-clean] [--download]

Reads the layout the archives unpack to (CORPUS_DIR may be the LibriSpeech folder or its parent):

    LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac
    LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>.trans.txt   (`<spk>-<chapter>-<utt> WORDS...`)

The audio may be in any format soundfile reads (people transcode the FLAC to Opus, WAV, MP3...):
each utterance takes the file with its id and an audio extension (data_prep.common.AUDIO_EXTENSIONS).
Two files for one utterance (say .flac and .wav) are reported as an id collision; the FLAC (the
corpus's own format) is used, else the first in AUDIO_EXTENSIONS' order.

for the 7 subsets of the full corpus and Mini LibriSpeech's train-clean-5 and dev-clean-2
(the subsets Kaldi's mini_librispeech recipe trains and tests on). Writes one data dir per
subset, named as Kaldi does (`train-clean-100` -> `train_clean_100`), with utterance ids
`<spk>-<chapter>-<utt>`, speaker `<spk>`, and the transcript in lower case.
"""

from __future__ import annotations

import logging
from pathlib import Path

from data_prep.common import (
    AUDIO_EXTENSIONS,
    BAD_ENTRY,
    DEFAULT_MAX_BAD_FRACTION,
    EMPTY_TRANSCRIPT,
    ID_COLLISION,
    MISSING_AUDIO,
    MISSING_TRANSCRIPT,
    NO_TRANSCRIPT,
    REJECTED_TEXT,
    PrepError,
    PrepReport,
    RejectedText,
    Utterance,
    audio_by_id,
    normalise_text,
    prep_arg_parser,
    run_prep_cli,
    write_prepared_dir,
)
from data_prep.sets import SetSpec, assemble_sets
from data_prep.download import download_and_extract

log = logging.getLogger(__name__)

FULL_SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500", "dev-clean", "dev-other", "test-clean", "test-other")
MINI_SUBSETS = ("train-clean-5", "dev-clean-2")
SUBSETS = FULL_SUBSETS + MINI_SUBSETS

# Archive URL and checksum per subset: sha256 for OpenSLR 12 (as torchaudio pins them), md5 for
# OpenSLR 31 (as published in its md5sum.txt).
_OPENSLR = "https://www.openslr.org/resources"
ARCHIVES: dict[str, tuple[str, str, str]] = {
    "dev-clean": (f"{_OPENSLR}/12/dev-clean.tar.gz", "sha256", "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3"),
    "dev-other": (f"{_OPENSLR}/12/dev-other.tar.gz", "sha256", "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365"),
    "test-clean": (f"{_OPENSLR}/12/test-clean.tar.gz", "sha256", "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23"),
    "test-other": (f"{_OPENSLR}/12/test-other.tar.gz", "sha256", "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29"),
    "train-clean-100": (f"{_OPENSLR}/12/train-clean-100.tar.gz", "sha256", "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2"),
    "train-clean-360": (f"{_OPENSLR}/12/train-clean-360.tar.gz", "sha256", "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf"),
    "train-other-500": (f"{_OPENSLR}/12/train-other-500.tar.gz", "sha256", "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2"),
    "train-clean-5": (f"{_OPENSLR}/31/train-clean-5.tar.gz", "md5", "5df7d4e78065366204ca6845bb08f490"),
    "dev-clean-2": (f"{_OPENSLR}/31/dev-clean-2.tar.gz", "md5", "6d7ab67ac6a1d2c993d050e16d61080d"),
}


def data_dir_name(subset: str) -> str:
    """Kaldi's name for a subset's data dir: train-clean-100 -> train_clean_100."""
    return subset.replace("-", "_")


def librispeech_root(corpus_dir: str | Path) -> Path:
    """The folder that holds the subset folders: CORPUS_DIR/LibriSpeech, or CORPUS_DIR itself."""
    corpus_dir = Path(corpus_dir).resolve()
    for cand in (corpus_dir / "LibriSpeech", corpus_dir):
        if cand.is_dir() and any((cand / s).is_dir() for s in SUBSETS):
            return cand
    raise PrepError(
        f"{corpus_dir}: no LibriSpeech subset folder ({', '.join(SUBSETS)}) here or in {corpus_dir / 'LibriSpeech'}; "
        "download with `python -m data_prep.librispeech CORPUS_DIR OUT_DIR --download`"
    )


def download_librispeech(target_dir: str | Path, subsets: list[str] | tuple[str, ...] = FULL_SUBSETS) -> None:
    """Download (resuming), verify and unpack each subset into target_dir/LibriSpeech; done work is skipped."""
    target_dir = Path(target_dir)
    for subset in subsets:
        if subset not in ARCHIVES:
            raise PrepError(f"unknown LibriSpeech subset '{subset}'; known: {', '.join(SUBSETS)}")
        url, algorithm, checksum = ARCHIVES[subset]
        download_and_extract(url, target_dir, checksum, algorithm, unpacks_to=f"LibriSpeech/{subset}")


def read_chapter_transcripts(trans: Path, report: PrepReport) -> dict[str, str]:
    """`<utt> WORDS` lines of one <spk>-<chapter>.trans.txt; malformed and repeated lines are reported."""
    out: dict[str, str] = {}
    # a byte-order mark, CRLF line ends and a tab after the id (files edited by hand) are read too
    for lineno, line in enumerate(trans.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        utt, *rest = line.strip().split(maxsplit=1)
        words = rest[0] if rest else ""
        if utt in out:
            report.bad(ID_COLLISION, trans, f"line {lineno}: second transcript for '{utt}'", utt)
            continue
        out[utt] = words
    return out


def subset_utterances(subset_dir: Path, report: PrepReport) -> list[Utterance]:
    """The candidate utterances of one subset folder; what cannot be used is reported."""
    utts: list[Utterance] = []
    for chapter_dir in sorted(p for p in subset_dir.glob("*/*") if p.is_dir()):
        spk, chapter = chapter_dir.parent.name, chapter_dir.name
        trans = chapter_dir / f"{spk}-{chapter}.trans.txt"
        flacs = audio_by_id(chapter_dir, report, prefer=".flac")
        if not trans.is_file():
            for stem, flac in sorted(flacs.items()):
                report.bad(MISSING_TRANSCRIPT, flac, f"{trans} does not exist", stem)
            continue
        transcripts = read_chapter_transcripts(trans, report)
        for utt, words in transcripts.items():
            if not utt.startswith(f"{spk}-{chapter}-"):
                report.bad(BAD_ENTRY, trans, f"utterance id '{utt}' does not start with '{spk}-{chapter}-'", utt)
                continue
            if utt not in flacs:
                report.bad(MISSING_AUDIO, chapter_dir / f"{utt}.flac", f"listed in {trans} but no audio file "
                           f"{utt}.<{'|'.join(e.lstrip('.') for e in AUDIO_EXTENSIONS)}> exists", utt)
                continue
            if not words.strip():
                report.bad(EMPTY_TRANSCRIPT, flacs[utt], f"empty transcript in {trans}", utt)
                continue
            try:
                text = normalise_text(words)
            except RejectedText as e:
                report.bad(REJECTED_TEXT, flacs[utt], f"{e} in {trans}", utt)
                continue
            utts.append(Utterance(utt, spk, str(flacs[utt].resolve()), text))
        for stem in sorted(set(flacs) - set(transcripts)):
            report.bad(NO_TRANSCRIPT, flacs[stem], f"no line for '{stem}' in {trans}", stem)
    return utts


def prepare_librispeech(
    corpus_dir: str | Path,
    out_dir: str | Path,
    subsets: list[str] | tuple[str, ...] | None = None,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    check_audio: bool = True,
    nj: int = 4,
) -> dict[str, PrepReport]:
    """Write out_dir/<kaldi name> for each subset (default: every subset present); returns the reports.

    Raises PrepError for an unknown or absent subset, or a subset with too many bad items.
    """
    root, out_dir = librispeech_root(corpus_dir), Path(out_dir)
    present = [s for s in SUBSETS if (root / s).is_dir()]
    subsets = list(subsets) if subsets is not None else present
    for s in subsets:
        if s not in SUBSETS:
            raise PrepError(f"unknown LibriSpeech subset '{s}'; known: {', '.join(SUBSETS)}")
        if s not in present:
            raise PrepError(f"{root / s}: subset not found (present: {', '.join(present) or 'none'}); "
                            f"download it with download_librispeech or --download")
    reports = {}
    for subset in subsets:
        name = data_dir_name(subset)
        report = PrepReport(name, source=str(root / subset))
        candidates = subset_utterances(root / subset, report)
        reports[name] = write_prepared_dir(out_dir / name, candidates, report, max_bad_fraction,
                                           check_audio=check_audio, nj=nj)
    return reports


def prepare_librispeech_sets(
    corpus_dir: str | Path,
    data_root: str | Path,
    sets: list[SetSpec],
    download: bool = False,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    nj: int = 4,
) -> None:
    """A recipe's prepare stage: download (if asked) and prepare the subsets that `sets` name, into
    data_root/local/<kaldi name>, then write data_root/<set> for each set."""
    data_root = Path(data_root)
    parts = list(dict.fromkeys(p for spec in sets for p in spec.parts))
    subsets = [next((s for s in SUBSETS if data_dir_name(s) == p), p) for p in parts]
    if download:
        download_librispeech(corpus_dir, subsets)
    prepare_librispeech(corpus_dir, data_root / "local", subsets, max_bad_fraction, nj=nj)
    assemble_sets(data_root / "local", data_root, sets)


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--subsets", nargs="+", choices=SUBSETS, help="subsets to prepare (default: all present)")
    p.add_argument("--download", action="store_true", help="download the --subsets first (default: the 7 full ones)")
    args = p.parse_args(argv)

    def run() -> None:
        if args.download:
            download_librispeech(args.corpus_dir, args.subsets or FULL_SUBSETS)
        prepare_librispeech(args.corpus_dir, args.out_dir, args.subsets, args.max_bad_fraction)

    run_prep_cli(run)


if __name__ == "__main__":
    main()
