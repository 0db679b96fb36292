"""Transcribe one long recording with `asr transcribe`: peak memory, speed, word-time sanity, WER.

The recording is made from a data dir's utterances (default: the synth_en test set), taken in
wav.scp order and cycled until --minutes are filled, each preceded by a random pause of 0.3 to
1.0 s (seeded); pauses carry a faint noise floor (RMS 3e-4, like the corpus's own silences), and
the end is padded with it to exactly --minutes. It is written as 44.1 kHz stereo 16-bit FLAC
(or WAV) one utterance or pause at a time, so this script never holds the whole recording.
Channels: left the utterance, right the same at 0.8 gain (the recogniser downmixes).

Then it runs, as a child process,

    /usr/bin/time -v <venv>/bin/asr transcribe --model M --decoder greedy --threads 2 \\
        --format jsonl --output-dir D FILE

and reports the file's duration, the child's peak resident memory and wall time (both from
/usr/bin/time: Python start-up and model loading included), the real-time factor (wall /
duration; the CLI's own figure, model loading excluded, is shown too), the number of words,
whether the word times are sane (starts non-decreasing, end > start, end <= the duration,
with 1 ms for the jsonl's rounding), and the WER of the whole output against the used
utterances' reference texts joined in order (one alignment of the whole text, asr.scoring.wer).

Exit status 1 when the peak memory reaches --max-rss-gb (default 2 GB = 2e9 bytes), when the
word times fail a check, or when transcription fails; 2 for bad arguments.

    .venv/bin/python benchmarks/long_audio.py                 # one hour
    .venv/bin/python benchmarks/long_audio.py --minutes 3     # a quick check
    .venv/bin/python benchmarks/long_audio.py --format wav --dir /tmp/long --keep
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.data.audio import load_audio
from asr.data.datadir import read_table
from asr.scoring.wer import score
from asr.transcribe.inputs import read_wav_scp

ROOT = Path(__file__).resolve().parent.parent
RATE = 44100
NOISE_RMS = 3e-4  # the synth_en corpus's silences are about this level
RIGHT_GAIN = 0.8
TIME_SLACK = 0.001  # jsonl times are rounded to ms


def build_recording(path: Path, fmt: str, utts: list[tuple[str, Path]], seconds: float, seed: int) -> tuple[list[str], float]:
    """Write the recording; return the utterance ids used (in order) and its duration in seconds."""
    rng = np.random.default_rng(seed)
    target = int(round(seconds * RATE))
    written, used = 0, []

    def write(f: sf.SoundFile, mono: np.ndarray) -> None:
        nonlocal written
        f.write(np.stack([mono, RIGHT_GAIN * mono], axis=1))
        written += len(mono)

    def silence(f: sf.SoundFile, n: int) -> None:
        for start in range(0, n, RATE):  # one second at a time
            write(f, (rng.standard_normal(min(RATE, n - start)) * NOISE_RMS).astype(np.float32))

    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=2, subtype="PCM_16", format=fmt.upper()) as f:
        for utt, wav in itertools.cycle(utts):
            pause = int(rng.uniform(0.3, 1.0) * RATE)
            wave = load_audio(wav, RATE, utt=utt)
            if written + pause + len(wave) > target:
                break
            silence(f, pause)
            write(f, np.clip(wave, -1.0, 1.0))
            used.append(utt)
        silence(f, target - written)
    return used, written / RATE


def check_words(words: list[dict], duration: float) -> list[str]:
    """What is wrong with the word times (empty when nothing is)."""
    problems = []
    back = [i for i in range(1, len(words)) if words[i]["start"] < words[i - 1]["start"]]
    if back:
        i = back[0]
        problems.append(f"{len(back)} word start(s) go back in time, first at word {i} "
                        f"({words[i - 1]['word']} {words[i - 1]['start']} -> {words[i]['word']} {words[i]['start']})")
    empty = [w for w in words if not w["end"] > w["start"]]
    if empty:
        problems.append(f"{len(empty)} word(s) with end <= start, e.g. {empty[0]}")
    late = [w for w in words if w["end"] > duration + TIME_SLACK]
    if late:
        problems.append(f"{len(late)} word(s) end after the file ({duration:.3f} s), e.g. {late[0]}")
    return problems


def parse_time_v(stderr: str) -> tuple[float | None, float | None]:
    """(peak RSS in kB, wall seconds) from /usr/bin/time -v's report."""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr)
    seconds = None
    if wall:
        seconds = 0.0
        for part in wall.group(1).split(":"):
            seconds = seconds * 60 + float(part)
    return (float(rss.group(1)) if rss else None), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "recipes/synth_en/exp/bilstm",
                        help="model directory (default: recipes/synth_en/exp/bilstm)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "recipes/synth_en/data/test",
                        help="data dir whose wav.scp (plain paths) and text make the recording (default: recipes/synth_en/data/test)")
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the recording (default: 60)")
    parser.add_argument("--format", choices=["flac", "wav"], default="flac", help="container, 16-bit PCM (default: flac)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pauses and the noise floor (default: 0)")
    parser.add_argument("--threads", type=int, default=2, help="asr transcribe --threads (default: 2)")
    parser.add_argument("--dir", type=Path, help="write the recording and the output here (default: a temporary "
                                                 "folder, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (it is printed)")
    parser.add_argument("--max-rss-gb", type=float, default=2.0,
                        help="fail when the peak resident memory reaches this many GB of 1e9 bytes (default: 2)")
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error("--minutes must be positive")

    asr_bin = Path(sys.prefix) / "bin" / "asr"
    if not asr_bin.is_file():
        print(f"error: {asr_bin} not found: run this with the virtual environment's python", file=sys.stderr)
        return 2
    if not Path("/usr/bin/time").is_file():
        print("error: /usr/bin/time not found (apt-get install time)", file=sys.stderr)
        return 2
    sources, errors = read_wav_scp(args.data_dir / "wav.scp")
    if errors or not sources or any(s.path is None for s in sources):
        print(f"error: {args.data_dir}/wav.scp: need plain audio paths"
              + (f" ({errors[0].message})" if errors else ""), file=sys.stderr)
        return 2
    refs = read_table(args.data_dir / "text", allow_empty_value=True)

    work = args.dir or Path(tempfile.mkdtemp(prefix="long_audio."))
    work.mkdir(parents=True, exist_ok=True)
    try:
        audio = work / f"long_{args.minutes:g}min.{args.format}"
        t0 = time.perf_counter()
        used, duration = build_recording(audio, args.format, [(s.id, s.path) for s in sources], args.minutes * 60, args.seed)
        build_s = time.perf_counter() - t0
        info = sf.info(str(audio))
        print(f"built {audio} in {build_s:.0f} s: {info.duration:.1f} s, {info.samplerate} Hz, {info.channels} channels, "
              f"{info.format} {info.subtype}, {audio.stat().st_size / 1e6:.0f} MB, {len(used)} utterances "
              f"({len(set(used))} distinct)", file=sys.stderr, flush=True)

        out_dir = work / "out"
        cmd = ["/usr/bin/time", "-v", str(asr_bin), "transcribe", "--model", str(args.model), "--decoder", "greedy",
               "--threads", str(args.threads), "--format", "jsonl", "--output-dir", str(out_dir), "--no-progress", str(audio)]
        print(f"$ {shlex.join(cmd)}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        rss_kb, wall = parse_time_v(proc.stderr)
        cli_rtf = re.search(r"real-time factor ([\d.]+) \(model loading excluded\)", proc.stderr)
        out = out_dir / f"{audio.stem}.jsonl"
        if proc.returncode != 0 or not out.is_file():
            print(proc.stderr, file=sys.stderr)
            print(f"error: asr transcribe failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        [line] = out.read_text(encoding="utf-8").splitlines()
        result = json.loads(line)
        words = result["words"]
        problems = check_words(words, duration)
        ref_text = " ".join(refs.get(u, "") for u in used)
        wer = score({"long": ref_text}, {"long": result["text"]})

        rss_mb = rss_kb / 1024 if rss_kb is not None else float("nan")
        wall = wall if wall is not None else float("nan")
        too_big = rss_kb is None or rss_kb * 1024 >= args.max_rss_gb * 1e9
        print(f"# Long audio: {args.minutes:g} min, 44.1 kHz stereo {args.format.upper()}\n")
        print(f"- `{shlex.join(['python', 'benchmarks/long_audio.py', *sys.argv[1:]])}`")
        print(f"- child: `asr transcribe --decoder greedy --threads {args.threads} --format jsonl` (word timestamps on)\n")
        print("| file duration | peak RSS MB | wall s | real-time factor | CLI RTF (no loading) | words | word times sane | WER % |")
        print("|---|---|---|---|---|---|---|---|")
        print(f"| {duration / 60:.1f} min ({duration:.1f} s) | {rss_mb:.0f} | {wall:.1f} | {wall / duration:.4f} | "
              f"{cli_rtf.group(1) if cli_rtf else '?'} | {len(words)} | {'yes' if not problems else 'NO'} | "
              f"{wer.total.wer:.2f} |")
        print()
        print(f"- jsonl duration {result['duration']} s; WER `{wer.total.errors} / {wer.total.ref_words}, "
              f"{wer.total.ins} ins, {wer.total.dele} del, {wer.total.sub} sub` over {len(used)} utterances")
        for p in problems:
            print(f"- word times: {p}")
        if too_big:
            print(f"- FAIL: peak RSS {rss_mb:.0f} MB >= {args.max_rss_gb:g} GB")
        return 1 if problems or too_big else 0
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        elif args.dir is None:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
