"""YESNO (OpenSLR 1), the corpus of Kaldi's smallest recipe, into Kaldi data dirs.

    python -m data_prep.yesno CORPUS_DIR data/local [--download]

Reads `waves_yesno/<l1>_<l2>_..._<l8>.wav` (CORPUS_DIR may be waves_yesno or its parent): 8 kHz
recordings of eight words each, the labels in the file name (0 = no, 1 = yes). As Kaldi's
egs/yesno/s5 does, the sorted file list is cut in half: the first half is `train_yesno`, the
second `test_yesno`; the utterance id is the file name without `.wav`, the one speaker `global`,
and the text `no no yes ...` (lower case, where Kaldi writes NO and YES).
"""

from __future__ import annotations

import re
from pathlib import Path

from data_prep.common import (
    DEFAULT_MAX_BAD_FRACTION,
    REJECTED_TEXT,
    PrepError,
    PrepReport,
    Utterance,
    prep_arg_parser,
    run_prep_cli,
    write_prepared_dir,
)
from data_prep.download import download_and_extract

URL = "https://www.openslr.org/resources/1/waves_yesno.tar.gz"
SHA256 = "c3f49e0cca421f96b75b41640749167b52118f232498667ca7a5f9416aef8e73"  # as torchaudio pins it
SPEAKER = "global"
_LABELS = re.compile(r"[01](_[01])*")


def download_yesno(target_dir: str | Path) -> None:
    """Download (resuming), verify and unpack waves_yesno.tar.gz (4.5 MB) into target_dir; done work is skipped."""
    download_and_extract(URL, target_dir, SHA256, "sha256", unpacks_to="waves_yesno")


def yesno_dir(corpus_dir: str | Path) -> Path:
    corpus_dir = Path(corpus_dir).resolve()
    for cand in (corpus_dir / "waves_yesno", corpus_dir):
        if cand.is_dir() and any(cand.glob("*.wav")):
            return cand
    raise PrepError(f"{corpus_dir}: no waves_yesno/*.wav here; download with `python -m data_prep.yesno "
                    f"{corpus_dir} OUT_DIR --download`")


def labels_to_text(name: str) -> str:
    """'0_1_1' -> 'no yes yes'."""
    return " ".join("yes" if b == "1" else "no" for b in name.split("_"))


def prepare_yesno(
    corpus_dir: str | Path, out_dir: str | Path, max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION
) -> dict[str, PrepReport]:
    """Write out_dir/train_yesno and out_dir/test_yesno; returns their reports."""
    waves, out_dir = yesno_dir(corpus_dir), Path(out_dir)
    files = sorted(waves.glob("*.wav"))
    half = len(files) // 2  # Kaldi: line i (from 1) goes to train while i <= n/2
    reports = {}
    for name, part in (("train_yesno", files[:half]), ("test_yesno", files[half:])):
        report = PrepReport(name, source=str(waves))
        utts = []
        for f in part:
            if not _LABELS.fullmatch(f.stem):
                report.bad(REJECTED_TEXT, f, "the file name is not a sequence of 0 and 1 joined by '_'", f.stem)
                continue
            utts.append(Utterance(f.stem, SPEAKER, str(f.resolve()), labels_to_text(f.stem)))
        reports[name] = write_prepared_dir(out_dir / name, utts, report, max_bad_fraction)
    return reports


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--download", action="store_true", help="download waves_yesno.tar.gz into CORPUS_DIR first")
    args = p.parse_args(argv)

    def run() -> None:
        if args.download:
            download_yesno(args.corpus_dir)
        prepare_yesno(args.corpus_dir, args.out_dir, args.max_bad_fraction)

    run_prep_cli(run)


if __name__ == "__main__":
    main()
