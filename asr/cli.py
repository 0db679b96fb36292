"""The `asr` command: transcribe audio, score transcripts, validate data dirs.

Each subcommand is a thin wrapper over library functions; `asr SUBCOMMAND --help` explains it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _add_transcribe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe audio files with a trained model",
        description="Transcribe audio files (any format soundfile reads: WAV, FLAC, OGG, MP3; any sample "
        "rate; stereo is downmixed). Prints one line per file: the file name, a tab, then the text. "
        "Files that cannot be read are reported on stderr, one line each; the others are still "
        "transcribed and the exit status is 1.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files to transcribe")
    p.add_argument("--model", required=True, metavar="DIR", help="model directory (config.yaml, tokens.txt, model.pt), e.g. exp/synth_en")
    p.add_argument("--device", default="auto", help="'auto' (CUDA if available, else CPU), 'cpu', 'cuda' or 'cuda:N' (default: auto)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch; 0 = torch's default (default: 0)")


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="word (or character) error rate between reference and hypothesis transcripts",
        description="Score HYP against REF. Each may be a Kaldi `text` file (`utt words...`) or an sclite "
        "`trn` file (`words... (utt)`); the format is detected per file. Prints a Kaldi-style %%WER line "
        "and a per-speaker summary. A reference without a hypothesis counts as all deletions.",
    )
    p.add_argument("ref", metavar="REF", help="reference transcripts (Kaldi text or sclite trn)")
    p.add_argument("hyp", metavar="HYP", help="hypothesis transcripts (Kaldi text or sclite trn)")
    p.add_argument("--cer", action="store_true", help="score characters instead of words (CER)")
    p.add_argument("--out-dir", metavar="DIR", help="also write wer, cer, per_utt, per_spk, ref.trn, hyp.trn here")
    p.add_argument("--ignore-extra", action="store_true", help="ignore hypotheses whose utterance has no reference (default: error)")


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate-data-dir",
        help="check a Kaldi data dir (sorted, unique, consistent, audio present)",
        description="Validate wav.scp, text, utt2spk and spk2utt of a Kaldi-style data dir. Errors name the file and line.",
    )
    p.add_argument("data_dir", metavar="DIR", help="the data dir to check")
    p.add_argument("--no-audio-check", action="store_true", help="do not check that audio files exist")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr",
        description="A BiLSTM-CTC speech recognition toolkit. Recipes live in recipes/<corpus>/run.py.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_transcribe(sub)
    _add_score(sub)
    _add_validate(sub)
    return parser


def cmd_transcribe(args: argparse.Namespace) -> int:
    from asr.audio import AudioError
    from asr.device import set_threads
    from asr.inference import load_model

    set_threads(args.threads)
    try:
        rec = load_model(args.model, args.device)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"asr transcribe: error: cannot load model: {e}", file=sys.stderr)
        return 2
    failed = 0
    for path in args.files:
        try:
            hyp = rec.transcribe_file(path)
        except AudioError as e:
            print(f"asr transcribe: error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}\t{hyp.text}", flush=True)
    if failed:
        print(f"asr transcribe: {failed} of {len(args.files)} file(s) failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_score(args: argparse.Namespace) -> int:
    from asr.scoring import ScoringError, run_score

    try:
        return run_score(args.ref, args.hyp, out_dir=args.out_dir, char_level=args.cer, ignore_extra=args.ignore_extra)
    except ScoringError as e:
        print(f"asr score: error: {e}", file=sys.stderr)
        return 2


def cmd_validate(args: argparse.Namespace) -> int:
    from asr.datadir import DataDirError, read_datadir

    try:
        data = read_datadir(args.data_dir, check_audio=not args.no_audio_check)
    except DataDirError as e:
        print(f"asr validate-data-dir: error: {e}", file=sys.stderr)
        return 1
    print(f"{args.data_dir}: OK, {len(data.wav_scp)} utterances, {len(data.spk2utt)} speakers")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handlers = {"transcribe": cmd_transcribe, "score": cmd_score, "validate-data-dir": cmd_validate}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
