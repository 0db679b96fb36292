"""The `asr` command: transcribe audio, score transcripts, validate data dirs.

Each subcommand is a thin wrapper over library functions; `asr SUBCOMMAND --help` explains it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from pathlib import Path

from asr.decoding.base import DecoderConfig
from asr.decoding.registry import DECODERS, used_by
from asr.errors import AsrError, MissingInputError
from asr.scoring.commands import BOOTSTRAP_REPS, COMPARE_REPS
from asr.transcribe.formats import FORMATS
from asr.transcribe.sources import TranscribeOptions

_T = TranscribeOptions()
_D = DecoderConfig()


def _add_transcribe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="transcribe audio files, folders or a wav.scp with a trained model",
        description="Transcribe audio of any length: any format soundfile reads (WAV, FLAC, OGG, MP3...), any "
        "sample rate, any number of channels (downmixed). Long files are read block by block and cut in "
        "silences, so memory stays bounded. By default prints one line per input: the file name, a tab, the "
        "text. Inputs that cannot be read are reported on stderr, one line each naming the input and the "
        "reason; the others are still transcribed and the exit status is 1. A summary (files, hours of audio, "
        "errors, real-time factor) goes to stderr at the end.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files, folders (searched recursively for audio extensions) or Kaldi wav.scp files "
                   "(name ending in .scp; `<utt> <path>` or `<utt> <command> |` lines)")
    p.add_argument("--model", metavar="DIR",
                   help="model directory: one made by `asr export`, or a recipe's exp/<tag> (config.yaml, tokens.txt, "
                   "model.pt). Default: the repository's models/en (English, trained on real speech; see its README.md)")
    p.add_argument("--format", default="text", choices=FORMATS,
                   help="text: `file<TAB>text`; jsonl: one JSON object per input with words, times and confidences; "
                   "kaldi: a Kaldi `text` file (`utt words...`); ctm: `utt 1 start duration word confidence` "
                   "(sclite-ready); srt / vtt: subtitles (default: text)")
    p.add_argument("--output-dir", metavar="DIR",
                   help="write one file per input here, named <utt id> plus the format's extension, instead of printing")
    p.add_argument("--skip-existing", action="store_true",
                   help="with --output-dir: skip inputs whose output file is already there, so an interrupted run "
                   "picks up where it stopped (each output file is written atomically)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA if available, else CPU), 'cpu', 'cuda' or 'cuda:N' (default: auto)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch; 0 = torch's default (default: 0)")
    p.add_argument("--batch-size", type=int, default=_T.batch_size, help=f"audio chunks per model batch (default: {_T.batch_size})")
    p.add_argument("--max-chunk-seconds", type=float, default=_T.max_chunk_seconds,
                   help=f"longest piece of audio the model sees at once; longer files are cut in silences (default: {_T.max_chunk_seconds:g})")
    p.add_argument("--pause-seconds", type=float, default=_T.pause_seconds,
                   help="cut the audio at every pause (silence) at least this long and decode the pieces on their own; "
                   f"0 cuts only where a piece would exceed --max-chunk-seconds (default: {_T.pause_seconds:g})")
    p.add_argument("--no-timestamps", action="store_true",
                   help="skip word timings (forced alignment); jsonl then has no words, ctm/srt/vtt need timings")
    p.add_argument("--decoder", choices=list(DECODERS),
                   help="; ".join(f"{e.name}: {e.summary}" for e in DECODERS.values()) + ". Default: the model "
                   "directory's decoder.yaml (written by the recipe's LM tuning stage, with the tuned weights), else greedy")
    p.add_argument("--lm", metavar="PATH", help="ARPA word n-gram LM for --decoder lm (implies it); default: the model directory's lm.arpa")
    p.add_argument("--lexicon", metavar="PATH",
                   help="lexicon for --decoder lm, one `word c h a r s |` line per word, tokens from tokens.txt "
                   "(default: the model directory's lexicon.txt)")
    p.add_argument("--no-lexicon", action="store_true", help="with --decoder lm: lexicon-free decoding, so words outside the lexicon can appear")
    _add_decoder_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only when stderr is a terminal anyway)")


# DecoderConfig fields with a flag of their own above (paths, and lexicon-free as --no-lexicon)
_DECODER_PATH_OPTIONS = ("kind", "lm", "lexicon")


def _add_decoder_options(p: argparse.ArgumentParser) -> None:
    """One --flag per DecoderConfig field (every option of every registered decoder), typed and documented
    from the field; unset flags keep decoder.yaml's value."""
    g = p.add_argument_group("decoder options (default: the model directory's decoder.yaml, else the value shown)")
    for f in fields(DecoderConfig):
        if f.name in _DECODER_PATH_OPTIONS:
            continue
        g.add_argument("--" + f.name.replace("_", "-"), type=type(getattr(_D, f.name)), metavar=f.type.upper(),
                       help=f"{f.metadata['help']} (decoders: {', '.join(used_by(f.name))}; default {getattr(_D, f.name)!r})")


def _decoder_overrides(args: argparse.Namespace) -> dict:
    return {f.name: getattr(args, f.name) for f in fields(DecoderConfig) if f.name not in _DECODER_PATH_OPTIONS}


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="copy what transcription needs out of an experiment directory into a self-contained model directory",
        description="Write OUT_DIR with config.yaml, tokens.txt, cmvn.stats, model.pt (a plain state dict, loaded with "
        "weights_only), decoder.yaml with the LM and lexicon it names (when the experiment has them) and a README.md "
        "with the experiment's RESULTS.md and the files' SHA-256. The export is loaded back and run once before it is "
        "moved into place. Use it with `asr transcribe --model OUT_DIR` or `asr.load_model(OUT_DIR)`.",
    )
    p.add_argument("exp_dir", metavar="EXP_DIR", help="experiment directory, e.g. recipes/synth_en/exp/bilstm")
    p.add_argument("out_dir", metavar="OUT_DIR", help="where to write the model directory")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists and is not empty")
    p.add_argument("--half", action="store_true",
                   help="store the weights as float16: half the bytes, loaded back into the float32 model (CMVN stays float32)")
    p.add_argument("--gzip-lm", action="store_true", help="store the word LM and lexicon gzip-compressed, as lm.arpa.gz and lexicon.txt.gz (decoders read them as they are)")
    p.add_argument("--note", metavar="FILE", help="Markdown file put at the top of the README.md (what the model is, how it was made)")


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
                   f"(default: {BOOTSTRAP_REPS}, with --compare {COMPARE_REPS})")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap (default: 0)")


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate-data-dir",
        help="check a Kaldi data dir (sorted, unique, consistent, audio present)",
        description="Validate wav.scp, text, utt2spk and spk2utt of a Kaldi-style data dir, and `segments` when there "
        "is one (then wav.scp is keyed by recording). Errors name the file and line.",
    )
    p.add_argument("data_dir", metavar="DIR", help="the data dir to check")
    p.add_argument("--no-audio-check", action="store_true", help="do not check that audio files exist")


EXIT_STATUS = {"transcribe": 2}  # transcribe: a setup error (model, decoder) before any audio; 1 = some input failed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr",
        description="A BiLSTM-CTC speech recognition toolkit. Recipes live in recipes/<corpus>/run.py.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_transcribe(sub)
    _add_export(sub)
    _add_score(sub)
    _add_validate(sub)
    return parser


def cmd_transcribe(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from asr.device import set_threads
    from asr.transcribe.formats import (
        EXTENSIONS,
        needs_timestamps,
        write_transcript_file,
        write_transcripts,
    )
    from asr.transcribe.inputs import expand_inputs
    from asr.transcribe.pipeline import Pipeline
    from asr.transcribe.recognizer import decoder_config, load_recognizer
    from asr.transcribe.sources import TranscribeFailure

    if args.no_timestamps and args.format in ("ctm", "srt", "vtt"):
        print(f"asr transcribe: error: --format {args.format} needs word timings; drop --no-timestamps", file=sys.stderr)
        return 2
    set_threads(args.threads)
    if args.model is None:
        from asr.transcribe.bundled import bundled_model_dir

        args.model = bundled_model_dir()
    rec = load_recognizer(args.model, args.device, decoder_config(
        args.model, args.decoder, args.lm, args.lexicon, args.no_lexicon,
        **_decoder_overrides(args),
    ))
    rec.decoder  # reads and checks the LM and the lexicon now, before any audio
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    if args.skip_existing and out_dir is None:
        print("asr transcribe: error: --skip-existing needs --output-dir", file=sys.stderr)
        return 2
    sources, errors = expand_inputs(args.inputs)
    skipped = 0
    if args.skip_existing:
        todo = [s for s in sources if not (out_dir / f"{s.id}{EXTENSIONS[args.format]}").exists()]
        skipped, sources = len(sources) - len(todo), todo
    for err in errors:
        print(f"asr transcribe: error: {err.message}", file=sys.stderr)
    opts = TranscribeOptions(
        timestamps=needs_timestamps(args.format) and not args.no_timestamps,
        batch_size=args.batch_size, max_chunk_seconds=args.max_chunk_seconds, pause_seconds=args.pause_seconds,
    )
    pipeline = Pipeline(rec, opts)
    failed, seconds, done = len(errors), 0.0, 0
    t0 = time.perf_counter()
    bar = tqdm(total=len(sources), unit="file", desc="transcribe", file=sys.stderr,
               disable=True if args.no_progress else None, dynamic_ncols=True)
    interrupted = False
    try:
        for result in pipeline.run(sources):
            bar.update(1)
            if isinstance(result, TranscribeFailure):
                bar.clear()
                print(f"asr transcribe: error: {result.message}", file=sys.stderr, flush=True)
                failed += 1
                continue
            done += 1
            seconds += result.duration
            if out_dir is not None:
                write_transcript_file(out_dir / f"{result.id}{EXTENSIONS[args.format]}", result, args.format)
            else:
                bar.clear()
                write_transcripts(sys.stdout, [result], args.format)
                sys.stdout.flush()
    except KeyboardInterrupt:  # what was written stays; --skip-existing picks up from there
        interrupted = True
    bar.close()
    wall = time.perf_counter() - t0
    rtf = wall / seconds if seconds > 0 else 0.0
    if skipped:
        print(f"asr transcribe: skipped {skipped} input(s) whose output was already in {out_dir}", file=sys.stderr)
    print(f"asr transcribe: {done + failed} input(s), {done} transcribed, {failed} failed; {seconds / 3600:.3f} h of audio "
          f"in {wall:.1f} s: real-time factor {rtf:.4f} (model loading excluded)", file=sys.stderr)
    if interrupted:
        print(f"asr transcribe: interrupted after {done + failed} of {len(sources)} input(s)", file=sys.stderr)
        return 130
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    from asr.transcribe.export import export_model

    note = None
    if args.note:
        try:
            note = Path(args.note).read_text(encoding="utf-8")
        except OSError as e:
            raise MissingInputError(f"{args.note}: cannot read the note ({e.strerror})") from None
    out = export_model(args.exp_dir, args.out_dir, force=args.force, half=args.half, gzip_lm=args.gzip_lm, note=note)
    print(f"asr export: wrote {out} ({', '.join(sorted(p.name for p in out.iterdir()))})")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from asr.scoring.commands import compare_files, score_files

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
    if args.compare is not None:
        reps = COMPARE_REPS if args.bootstrap is None else args.bootstrap
        print(compare_files(args.ref, *args.compare, bootstrap=reps, **options))
    else:
        reps = BOOTSTRAP_REPS if args.bootstrap is None else args.bootstrap
        print(score_files(args.ref, args.hyp, out_dir=args.out_dir, bootstrap=reps, **options))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from asr.data.segments import SegmentedDataDir, read_any_datadir

    data = read_any_datadir(args.data_dir, check_audio=not args.no_audio_check)
    if isinstance(data, SegmentedDataDir):
        print(f"{args.data_dir}: OK, {len(data.segments)} utterances in {len(data.wav_scp)} recordings, "
              f"{len(data.spk2utt)} speakers")
    else:
        print(f"{args.data_dir}: OK, {len(data.wav_scp)} utterances, {len(data.spk2utt)} speakers")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handlers = {"transcribe": cmd_transcribe, "export": cmd_export, "score": cmd_score, "validate-data-dir": cmd_validate}
    try:
        return handlers[args.command](args)
    except AsrError as e:  # the library's errors name the file and say what to do: no traceback
        print(f"asr {args.command}: error: {e}", file=sys.stderr)
        return EXIT_STATUS.get(args.command, 1)


if __name__ == "__main__":
    sys.exit(main())
