"""Mozilla Common Voice (any language, any release) into Kaldi data dirs.

    python -m data_prep.commonvoice CORPUS_DIR data/local [--lang en] [--splits train dev test]

Reads the layout of the release archives (CORPUS_DIR may be the language folder, the
`cv-corpus-*` folder or their parent):

    cv-corpus-<release>/<lang>/{train,dev,test,validated,invalidated,other}.tsv
    cv-corpus-<release>/<lang>/clips/<name>.mp3

The TSVs have a header; the columns used are `client_id`, `path` and `sentence` (the others, which
change between releases, are ignored). Writes one data dir per split; the speaker is `client_id`
and the utterance id `<client_id>-<clip name>`, as Kaldi's commonvoice recipe does.

Sentences are normalised with data_prep.common.normalise_text (lower case, punctuation removed,
letters of any script kept). A sentence with digits is dropped, because its digits are not what
was said; prepare.log lists each dropped clip and why. Common Voice is downloaded through its
website after accepting its terms, so there is no download function.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from data_prep.common import (
    BAD_ENTRY,
    DEFAULT_MAX_BAD_FRACTION,
    EMPTY_TRANSCRIPT,
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

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test", "validated", "invalidated", "other")
REQUIRED_COLUMNS = ("client_id", "path", "sentence")


def _is_lang_dir(d: Path) -> bool:
    return (d / "clips").is_dir() and any((d / f"{s}.tsv").is_file() for s in SPLITS)


def commonvoice_lang_dir(corpus_dir: str | Path, lang: str | None = None) -> Path:
    """The folder with the TSVs and clips/: CORPUS_DIR itself, CORPUS_DIR/<lang> or CORPUS_DIR/cv-corpus-*/<lang>."""
    corpus_dir = Path(corpus_dir).resolve()
    if _is_lang_dir(corpus_dir):
        return corpus_dir
    bases = [corpus_dir, *sorted(corpus_dir.glob("cv-corpus-*"))] if corpus_dir.is_dir() else []
    found = [d for b in bases for d in sorted(b.iterdir())
             if d.is_dir() and (lang is None or d.name == lang) and _is_lang_dir(d)]
    if not found:
        raise PrepError(f"{corpus_dir}: no Common Voice language folder ({lang or '<lang>'}/clips/ and "
                        f"{lang or '<lang>'}/train.tsv) here or in cv-corpus-*/")
    if len(found) > 1:
        raise PrepError(f"{corpus_dir}: several language folders ({', '.join(str(d) for d in found)}); "
                        "choose one with --lang (or a cv-corpus-* folder)")
    return found[0]


def read_tsv(path: Path, report: PrepReport) -> list[dict[str, str]]:
    """Rows of a Common Voice TSV as dicts. Quotes are text (QUOTE_NONE): sentences contain them."""
    with open(path, encoding="utf-8-sig", newline="") as f:  # a byte-order mark is not part of a column name
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            return []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise PrepError(f"{path}: no column(s) {', '.join(missing)} in the header {header}; "
                            "is this a Common Voice clip table?")
        rows = []
        for lineno, row in enumerate(reader, 2):
            if len(row) < len(header):  # a short row: trailing empty columns are sometimes cut off
                row = row + [""] * (len(header) - len(row))
            if len(row) > len(header):
                report.bad(BAD_ENTRY, path, f"line {lineno}: {len(row)} fields, the header has {len(header)}")
                continue
            rows.append(dict(zip(header, row)))
    return rows


def split_utterances(lang_dir: Path, split: str, report: PrepReport) -> list[Utterance]:
    utts = []
    for row in read_tsv(lang_dir / f"{split}.tsv", report):
        clip, client = row["path"].strip(), row["client_id"].strip()
        audio = lang_dir / "clips" / clip
        utt = f"{client}-{Path(clip).stem}"
        if not client or not clip:
            report.bad(BAD_ENTRY, lang_dir / f"{split}.tsv", f"row without client_id or path: {row}")
            continue
        if not row["sentence"].strip():
            report.bad(EMPTY_TRANSCRIPT, audio, "empty sentence", utt)
            continue
        try:
            text = normalise_text(row["sentence"])
        except RejectedText as e:
            report.bad(REJECTED_TEXT, audio, f"{e}: {row['sentence']!r}", utt)
            continue
        utts.append(Utterance(utt, client, str(audio.resolve()), text))
    return utts


def prepare_commonvoice(
    corpus_dir: str | Path,
    out_dir: str | Path,
    lang: str | None = None,
    splits: list[str] | tuple[str, ...] = ("train", "dev", "test"),
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    check_audio: bool = True,
    nj: int = 4,
) -> dict[str, PrepReport]:
    """Write out_dir/<split> for each split TSV; returns the reports.

    check_audio decodes each MP3 header (a few ms each; turn off for a first look at a big language).
    """
    lang_dir, out_dir = commonvoice_lang_dir(corpus_dir, lang), Path(out_dir)
    reports = {}
    for split in splits:
        if split not in SPLITS:
            raise PrepError(f"unknown Common Voice split '{split}'; known: {', '.join(SPLITS)}")
        tsv = lang_dir / f"{split}.tsv"
        if not tsv.is_file():
            raise PrepError(f"{tsv}: not found; this release has {', '.join(p.stem for p in sorted(lang_dir.glob('*.tsv')))}")
        report = PrepReport(split, source=str(tsv))
        reports[split] = write_prepared_dir(out_dir / split, split_utterances(lang_dir, split, report), report,
                                            max_bad_fraction, check_audio=check_audio, nj=nj)
    return reports


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--lang", help="language folder, e.g. en (needed when the release holds several)")
    p.add_argument("--splits", nargs="+", choices=SPLITS, default=["train", "dev", "test"], help="TSVs to prepare")
    p.add_argument("--no-check-audio", action="store_true", help="do not decode each clip's header")
    args = p.parse_args(argv)
    run_prep_cli(lambda: prepare_commonvoice(args.corpus_dir, args.out_dir, args.lang, args.splits,
                                             args.max_bad_fraction, not args.no_check_audio))


if __name__ == "__main__":
    main()
