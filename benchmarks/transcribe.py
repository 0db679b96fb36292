"""End-to-end transcription speed and accuracy on a data dir, against PocketSphinx, in one run.

What is timed, for each system, over all the data dir's audio (its wav.scp, in order):

- ours: `asr.transcribe.pipeline.Pipeline.run` as `asr transcribe` runs it: reading each file, silence
  chunking, batching, features, the BiLSTM and the decoder (greedy unless --decoder), on
  --threads torch threads (default 2). Forced alignment for word times is left out unless
  --timestamps (as with `asr transcribe --format text`). Loading the model (and building
  its decoder) is timed apart and not included, like the CLI's real-time factor. No warm-up
  run: the first batch pays its allocations, as it does in the CLI.
- PocketSphinx 5.1.1 with its bundled US English model (acoustic model, 3-gram LM, CMUdict),
  one thread: each file read with `asr.data.audio.load_audio` at 16 kHz, converted to int16, and
  decoded as one utterance (`start_utt`, `process_raw(full_utt=True)`, `end_utt`, `hyp`).
  Its decoder construction is timed apart, like our model loading.

Real-time factor = wall seconds / seconds of audio (lower is faster). WER and CER are
scored with asr.scoring.wer (sclite's alignment) against the data dir's `text`; PocketSphinx's
output is normalised the way data_prep normalises transcripts (data_prep.common.normalise_text:
lower case, letters and inner apostrophes) after dropping its filler tokens.

    .venv/bin/python benchmarks/transcribe.py                      # the synth_en test set
    .venv/bin/python benchmarks/transcribe.py --limit 40           # a quick check
    .venv/bin/python benchmarks/transcribe.py --model DIR --data-dir DIR --threads 1 --no-pocketsphinx

PocketSphinx comes with the `bench` extra: `pip install -e '.[bench]'`. Without it, only
ours is run. The result is a Markdown table (for the README) and the command that made it.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from asr.data.audio import AudioError, load_audio
from asr.data.datadir import read_table
from asr.device import set_threads
from asr.scoring.wer import score
from asr.transcribe.inputs import read_wav_scp
from asr.transcribe.pipeline import Pipeline
from asr.transcribe.recognizer import decoder_config, load_recognizer
from asr.transcribe.sources import AudioSource, TranscribeFailure, TranscribeOptions
from data_prep.common import RejectedText, normalise_text

ROOT = Path(__file__).resolve().parent.parent
PS_RATE = 16000  # the bundled en-us acoustic model's sample rate
_PS_FILLER = re.compile(r"<[^>]*>|\[[^\]]*\]|\(\d+\)")  # <s> <sil> [NOISE], alternate pronunciations word(2)


def normalise_hyp(text: str) -> str:
    """A PocketSphinx hypothesis as our references are written: lower case a-z, ' and spaces."""
    text = _PS_FILLER.sub(" ", text)
    try:
        return normalise_text(text)
    except RejectedText:  # nothing left (an empty hypothesis), or digits: drop them
        try:
            return normalise_text(re.sub(r"\d+", " ", text))
        except RejectedText:
            return ""


def wer_cer(refs: dict[str, str], hyps: dict[str, str]) -> tuple[float, float]:
    """WER and CER in percent; an utterance without a hypothesis counts as all deletions."""
    return score(refs, hyps).total.wer, score(refs, hyps, char_level=True).total.wer


def run_ours(args: argparse.Namespace, sources: list[AudioSource]) -> dict:
    set_threads(args.threads)
    t0 = time.perf_counter()
    rec = load_recognizer(args.model, args.device, decoder=decoder_config(args.model, args.decoder))
    rec.decoder  # an LM decoder reads its LM and lexicon here: part of loading
    load_s = time.perf_counter() - t0
    pipeline = Pipeline(rec, TranscribeOptions(timestamps=args.timestamps))
    hyps, seconds, failed = {}, 0.0, 0
    t0 = time.perf_counter()
    for result in pipeline.run(sources):
        if isinstance(result, TranscribeFailure):
            print(f"ours: error: {result.message}", file=sys.stderr)
            failed += 1
            continue
        hyps[result.id] = result.text
        seconds += result.duration
    wall = time.perf_counter() - t0
    where = (str(rec.device) if rec.device.type == "cuda" else "") + (", " if rec.device.type == "cuda" else "")
    name = (f"ours ({args.decoder}{', timestamps' if args.timestamps else ''}, {where}"
            f"{args.threads} CPU thread{'s' * (args.threads != 1)})")
    return dict(name=name, load_s=load_s, wall_s=wall, audio_s=seconds, hyps=hyps, failed=failed,
                note=f"features + model + decoding: {pipeline.model_seconds:.1f} s of the wall time")


def run_pocketsphinx(sources: list[AudioSource]) -> dict:
    import pocketsphinx

    t0 = time.perf_counter()
    decoder = pocketsphinx.Decoder(samprate=PS_RATE, loglevel="FATAL")
    load_s = time.perf_counter() - t0
    hyps, seconds, failed, read_s = {}, 0.0, 0, 0.0
    t0 = time.perf_counter()
    for src in sources:
        t1 = time.perf_counter()
        try:
            wave = load_audio(src.path, PS_RATE, utt=src.id)
        except AudioError as e:
            print(f"pocketsphinx: error: {e}", file=sys.stderr)
            failed += 1
            continue
        pcm = (np.clip(wave, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
        read_s += time.perf_counter() - t1
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        hyps[src.id] = normalise_hyp(hyp.hypstr) if hyp is not None else ""
        seconds += len(wave) / PS_RATE
    wall = time.perf_counter() - t0
    return dict(name="PocketSphinx 5.1.1 (en-us, 1 thread)", load_s=load_s, wall_s=wall, audio_s=seconds, hyps=hyps,
                failed=failed, note=f"reading + int16 conversion: {read_s:.1f} s of the wall time")


def _shown(path: Path) -> str:
    """A path relative to the current directory when it is under it (for a README)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "recipes/synth_en/exp/bilstm",
                        help="model directory (config.yaml, tokens.txt, model.pt) (default: recipes/synth_en/exp/bilstm)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "recipes/synth_en/data/test",
                        help="data dir with wav.scp (plain paths) and text (default: recipes/synth_en/data/test)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads for ours (default: 2)")
    parser.add_argument("--decoder", default="greedy", choices=["greedy", "beam", "lm"],
                        help="our decoder; beam and lm take the model directory's decoder.yaml settings (default: greedy)")
    parser.add_argument("--device", default="cpu", help="torch device for ours: cpu, cuda, auto (default: cpu)")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="only the first N files of wav.scp (default: 0 = all)")
    parser.add_argument("--no-pocketsphinx", action="store_true", help="time ours only")
    parser.add_argument("--timestamps", action="store_true",
                        help="include word timing (forced alignment) in our time, as --format jsonl/ctm/srt/vtt do "
                             "(default: off, as --format text)")
    args = parser.parse_args()

    sources, errors = read_wav_scp(args.data_dir / "wav.scp")
    for err in errors:
        print(f"error: {err.message}", file=sys.stderr)
    if errors or not sources:
        return 2
    if any(s.path is None for s in sources) and not args.no_pocketsphinx:
        print("error: wav.scp has pipe commands; PocketSphinx here reads plain paths (use --no-pocketsphinx)", file=sys.stderr)
        return 2
    if args.limit > 0:
        sources = sources[: args.limit]
    all_refs = read_table(args.data_dir / "text", allow_empty_value=True)
    missing = [s.id for s in sources if s.id not in all_refs]
    if missing:
        print(f"error: {len(missing)} utterance(s) of wav.scp have no reference in text, e.g. {missing[0]}", file=sys.stderr)
        return 2
    refs = {s.id: all_refs[s.id] for s in sources}

    ps_missing = None
    if not args.no_pocketsphinx:
        try:
            import pocketsphinx  # noqa: F401
        except ImportError:
            ps_missing = "PocketSphinx is not installed (`pip install -e '.[bench]'`, or `pip install pocketsphinx==5.1.1`); timing ours only"
            print(f"note: {ps_missing}", file=sys.stderr)

    load_before = os.getloadavg()[0]  # other work on the machine slows multi-threaded torch a lot
    runs = [run_ours(args, sources)]
    print(f"ours: {runs[0]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    if not args.no_pocketsphinx and ps_missing is None:
        runs.append(run_pocketsphinx(sources))
        print(f"pocketsphinx: {runs[-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)

    command = shlex.join(["python", os.path.relpath(sys.argv[0], Path.cwd()), *sys.argv[1:]])
    print(f"# End-to-end transcription: {_shown(args.data_dir)} ({len(sources)} files)\n")
    print(f"- `{command}`")
    print(f"- {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; torch {torch.__version__}; "
          f"load average {load_before:.2f} before the run; model {_shown(args.model)}; "
          "model/decoder loading timed apart (not in wall time or RTF)")
    if ps_missing:
        print(f"- {ps_missing}")
    print()
    print("| system | files | hours of audio | load s | wall s | real-time factor | WER % | CER % |")
    print("|---|---|---|---|---|---|---|---|")
    for r in runs:
        wer, cer = wer_cer(refs, r["hyps"])
        failed = f" ({r['failed']} failed)" if r["failed"] else ""
        rtf = r["wall_s"] / r["audio_s"] if r["audio_s"] else float("nan")
        print(f"| {r['name']} | {len(r['hyps'])}{failed} | {r['audio_s'] / 3600:.3f} | {r['load_s']:.1f} | {r['wall_s']:.1f} "
              f"| {rtf:.3f} | {wer:.2f} | {cer:.2f} |")
    print()
    for r in runs:
        print(f"- {r['name']}: {r['note']}")
    return 1 if any(r["failed"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
