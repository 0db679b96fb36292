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
    p.add_argument("--decoder", choices=["greedy", "beam", "lm"],
                   help="greedy; beam (CTC prefix beam search, no LM); lm (beam search with a word n-gram LM and, "
                   "unless --no-lexicon, a lexicon). Default: the model directory's decoder.yaml (written by the "
                   "recipe's LM tuning stage, with the tuned weights), else greedy")
    p.add_argument("--lm", metavar="PATH", help="ARPA word n-gram LM for --decoder lm (implies it); default: the model directory's lm.arpa")
    p.add_argument("--lexicon", metavar="PATH",
                   help="lexicon for --decoder lm, one `word c h a r s |` line per word, tokens from tokens.txt "
                   "(default: the model directory's lexicon.txt)")
    p.add_argument("--no-lexicon", action="store_true", help="with --decoder lm: lexicon-free decoding, so words outside the lexicon can appear")
    p.add_argument("--beam", type=int, help="prefix beam width for --decoder beam (default: decoder.yaml's, else 8)")
    p.add_argument("--lm-weight", type=float, help="weight of the LM's log10 probabilities (default: decoder.yaml's, else 1.0)")
    p.add_argument("--word-score", type=float, help="score added per word with --decoder lm (default: decoder.yaml's, else 0)")


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="word (or character) error rate between reference and hypothesis transcripts, as sclite counts it",
        description="Score HYP against REF with the counts NIST sclite gives (`sclite -r REF trn -h HYP trn -i rm`: "
        "case-insensitive, sclite's alignment weights and tie-breaking). Each file may be a Kaldi `text` file "
        "(`utt words...`) or an sclite `trn` file (`words... (utt)`); HYP may be a CTM file "
        "(`utt channel start duration word [confidence]`), and with an STM reference (`file channel speaker "
        "start end [<label>] words...`) must be one: its words go to the segments by time, as in sclite. The format "
        "is detected per file (or from the suffix .trn, .ctm, .stm). Prints the Kaldi "
        "%WER line, its bootstrap 95% confidence interval and sclite's Sum/Avg counts. A reference without a "
        "hypothesis counts as all deletions; a hypothesis without a reference is an error (see --ignore-extra). "
        "The speaker of an utterance is its id up to the first '-' or '_', as sclite's `-i rm`, unless --utt2spk "
        "is given. With --compare A B, runs a paired bootstrap test between two systems on the same REF.",
    )
    p.add_argument("ref", metavar="REF", help="reference transcripts (Kaldi text, sclite trn or STM)")
    p.add_argument("hyp", metavar="HYP", nargs="?", help="hypothesis transcripts (Kaldi text, sclite trn or CTM)")
    p.add_argument("--compare", nargs=2, metavar=("HYP_A", "HYP_B"),
                   help="instead of HYP: compare two systems' hypotheses on REF (paired bootstrap; which is better, p-value)")
    p.add_argument("--cer", action="store_true", help="score characters instead of words (CER, like sclite -c -e utf-8; spaces are not counted)")
    p.add_argument("--case-sensitive", action="store_true", help="compare case-sensitively (like sclite -s; default: case-insensitive)")
    p.add_argument("--normalize", action="store_true",
                   help="normalise both sides first: lowercase, punctuation removed (apostrophes inside words kept), "
                   "whitespace collapsed; shown in the reports' header")
    p.add_argument("--map", metavar="FILE", dest="mapping",
                   help="with normalisation (implies --normalize), replace words: one `FROM TO...` per line "
                   "(`FROM<TAB>TO` for several words; no TO deletes FROM)")
    p.add_argument("--utt2spk", metavar="FILE", help="Kaldi utt2spk file giving each utterance's speaker")
    p.add_argument("--out-dir", metavar="DIR",
                   help="also write wer, cer, sum, rsum, pra, dtl, score.json, per_utt, per_spk, ref.trn, hyp.trn here")
    p.add_argument("--ignore-extra", action="store_true", help="ignore hypotheses whose utterance has no reference (default: error)")
    p.add_argument("--bootstrap", type=int, default=None, metavar="N",
                   help="bootstrap resamples of utterances for confidence intervals and --compare; 0: no interval "
                   "(default: 1000, with --compare 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap (default: 0)")


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
    from asr.inference import decoder_config, load_model

    set_threads(args.threads)
    try:
        rec = load_model(args.model, args.device, decoder=None)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"asr transcribe: error: cannot load model: {e}", file=sys.stderr)
        return 2
    try:
        rec.decoder_cfg = decoder_config(
            args.model, args.decoder, args.lm, args.lexicon, args.no_lexicon,
            beam=args.beam, lm_weight=args.lm_weight, word_score=args.word_score,
        )
        rec.decoder  # reads and checks the LM and the lexicon now, before any audio
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"asr transcribe: error: cannot set up the decoder: {e}", file=sys.stderr)
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
    from asr.scoring import ScoringError, run_compare, run_score

    if (args.hyp is None) == (args.compare is None):
        print("asr score: error: give either HYP or --compare HYP_A HYP_B", file=sys.stderr)
        return 2
    if args.compare is not None and args.out_dir is not None:
        print("asr score: error: --out-dir writes one system's reports; score each HYP on its own for that", file=sys.stderr)
        return 2
    options = dict(
        char_level=args.cer,
        ignore_extra=args.ignore_extra,
        utt2spk_path=args.utt2spk,
        case_sensitive=args.case_sensitive,
        normalize=args.normalize,
        mapping_path=args.mapping,
        seed=args.seed,
    )
    try:
        if args.compare is not None:
            reps = 10000 if args.bootstrap is None else args.bootstrap
            return run_compare(args.ref, *args.compare, bootstrap=reps, **options)
        reps = 1000 if args.bootstrap is None else args.bootstrap
        return run_score(args.ref, args.hyp, out_dir=args.out_dir, bootstrap=reps, **options)
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
