"""CSTR VCTK (0.80 layout) into a Kaldi data dir.

    python -m data_prep.vctk CORPUS_DIR data/local/vctk [--speakers p225 p226]

Reads the layout of `VCTK-Corpus.tar.gz` (CORPUS_DIR may be `VCTK-Corpus` or its parent):

    VCTK-Corpus/wav48/<spk>/<spk>_<nnn>.<ext>   48 kHz WAV as shipped, or any format soundfile reads
    VCTK-Corpus/txt/<spk>/<spk>_<nnn>.txt       one sentence, as printed ("Please call Stella.")

The folder is named wav48 whatever the rate of the files in it: audio is read at the rate the file
reports and resampled when features are made. Utterance id = the file name (`p239_001`), speaker =
the folder. Transcripts are normalised (lower case, punctuation removed); a sentence with digits is
dropped and counted, as are audio without text (VCTK's p315 has none) and text without audio.
"""

from __future__ import annotations

from pathlib import Path

from data_prep.common import (
    DEFAULT_MAX_BAD_FRACTION,
    EMPTY_TRANSCRIPT,
    MISSING_AUDIO,
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


def vctk_root(corpus_dir: str | Path) -> Path:
    """The folder holding wav48/ and txt/: CORPUS_DIR or CORPUS_DIR/VCTK-Corpus."""
    corpus_dir = Path(corpus_dir).resolve()
    for cand in (corpus_dir, corpus_dir / "VCTK-Corpus"):
        if (cand / "wav48").is_dir() and (cand / "txt").is_dir():
            return cand
    raise PrepError(f"{corpus_dir}: no VCTK corpus here (wav48/ and txt/) or in {corpus_dir / 'VCTK-Corpus'}")


def speaker_utterances(root: Path, spk: str, report: PrepReport) -> list[Utterance]:
    wav_dir = root / "wav48" / spk
    audio = audio_by_id(wav_dir, report)
    texts = {p.stem: p for p in sorted((root / "txt" / spk).glob("*.txt"))} if (root / "txt" / spk).is_dir() else {}
    utts = []
    for utt, txt in texts.items():
        if utt not in audio:
            report.bad(MISSING_AUDIO, wav_dir / f"{utt}.wav", f"{txt} has no audio file", utt)
            continue
        raw = txt.read_text(encoding="utf-8", errors="replace").strip()
        if not raw:
            report.bad(EMPTY_TRANSCRIPT, txt, "empty transcript", utt)
            continue
        try:
            text = normalise_text(raw)
        except RejectedText as e:
            report.bad(REJECTED_TEXT, txt, f"{e}: {raw!r}", utt)
            continue
        utts.append(Utterance(utt, spk, str(audio[utt].resolve()), text))
    for utt in sorted(set(audio) - set(texts)):
        report.bad(NO_TRANSCRIPT, audio[utt], f"no {root / 'txt' / spk / (utt + '.txt')}", utt)
    return utts


def prepare_vctk(
    corpus_dir: str | Path,
    out_dir: str | Path,
    speakers: list[str] | None = None,
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION,
    check_audio: bool = True,
    nj: int = 4,
) -> PrepReport:
    """Write out_dir (one data dir: every speaker, or `speakers`); returns the report."""
    root = vctk_root(corpus_dir)
    present = sorted(p.name for p in (root / "wav48").iterdir() if p.is_dir())
    speakers = present if speakers is None else speakers
    if missing := [s for s in speakers if s not in present]:
        raise PrepError(f"{root / 'wav48'}: no folder for speaker(s) {', '.join(missing)}")
    report = PrepReport(Path(out_dir).name, source=str(root))
    utts = [u for spk in speakers for u in speaker_utterances(root, spk, report)]
    return write_prepared_dir(out_dir, utts, report, max_bad_fraction, check_audio=check_audio, nj=nj)


def main(argv: list[str] | None = None) -> None:
    p = prep_arg_parser(__doc__)
    p.add_argument("--speakers", nargs="+", help="speaker folders to prepare (default: all)")
    args = p.parse_args(argv)
    run_prep_cli(lambda: prepare_vctk(args.corpus_dir, args.out_dir, args.speakers, args.max_bad_fraction))


if __name__ == "__main__":
    main()
