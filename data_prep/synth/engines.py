"""Thin wrappers around seven local text-to-speech engines: espeak-ng (also driving MBROLA
voices), flite, festival (diphone and MBROLA voices), SVOX Pico, RHVoice, hibari (a small
neural model distilled from Kokoro-82M) and Kokoro-82M itself (both in-process through onnxruntime;
data_prep/synth/kokoro.py finds Kokoro's model and voice tables).

A voice is written `<engine>:<name>`, e.g. `espeak:en-us+f3`, `espeak:mb-us1`, `flite:awb`,
`festival:rab_diphone`, `pico:en-GB`, `rhvoice:alan`, `hibari:heart`, `kokoro:af_bella`,
`kokoro:am_adam+bf_emma` (a blend of two Kokoro voices); in a corpus's voice list `kokoro:*` is one
slot whose every utterance gets its own blend (data_prep.synth.corpus.resolve_voice). Only the voices that `check_voice_allowed`
accepts may be used: every other voice on the machine is reserved for a hidden evaluation, and
the reserved ones it knows (`RESERVED_VOICES`, any `slt`) are refused by name.
`data_prep.synth.install.check_voice_installed` says which Debian package a missing voice needs.

Each engine returns mono float32 samples [S] in [-1, 1] at the engine's own rate; the
caller resamples. `rate` and `pitch` are factors relative to the voice's default
(1.0 = unchanged; rate 1.2 = 20% faster, pitch 1.2 = about 20% higher mean F0).

Why subprocesses: the in-process espeak-ng from `espeakng-loader` is ~2.5x faster, but its
output depends on what the same process synthesised before (even after espeak_Terminate
and espeak_ng_SetRandSeed), so a corpus would differ with --nj. A fresh espeak-ng/flite
process is bit-exact every time. festival takes 0.3 s to start but 10-20 ms per
utterance, so each worker keeps one festival process open (`_FestivalSession`). pico2wave
starts in ~15 ms; RHVoice-test in ~0.1 s (one process per utterance: ~17x real time). hibari
runs in the worker's own process (one model per process, one onnxruntime thread, a fixed noise
seed: the same text gives the same samples in any process); so does Kokoro (~2x real time: slow).
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from asr.errors import AsrError
from data_prep.synth.kokoro import KOKORO_VOICES, is_allowed_name

ENGINES = ("espeak", "flite", "festival", "pico", "rhvoice", "hibari", "kokoro")
# espeak-ng English voices (file names that `espeak-ng -v` accepts with a +variant).
# `en-gb` is deliberately absent: `en-gb+f3` silently drops the variant; use `en+f3`.
ESPEAK_LANGUAGES = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)
ESPEAK_MBROLA_VOICES = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")  # espeak-ng front end, MBROLA diphones
FLITE_VOICES = ("kal", "kal16", "awb", "rms")  # slt and awb_time are reserved
# Voice defaults that `rate` and `pitch` scale (read from the voices' own definitions):
# festival voice -> (Duration_Stretch, int_lr_params target_f0_mean, target_f0_std).
_FESTIVAL_PROSODY = {
    "kal_diphone": (1.1, 105.0, 14.0), "rab_diphone": (1.05, 105.0, 14.0), "don_diphone": (1.0, 135.0, 30.0),
    "us1_mbrola": (1.1, 160.0, 34.0), "us2_mbrola": (1.05, 90.0, 15.0), "us3_mbrola": (1.0, 105.0, 16.0),
    "en1_mbrola": (0.95, 110.0, 15.0),
}
FESTIVAL_VOICES = tuple(_FESTIVAL_PROSODY)
PICO_VOICES = ("en-US", "en-GB")
RHVOICE_VOICES = ("alan", "bdl", "clb", "evgeniy-eng", "lyubov")
# hibari's other voices (emma, fenrir, fable, kore) download on first use: nothing may download at run time.
HIBARI_VOICES = ("heart",)
# Reserved for evaluation, refused by name: every `slt` (flite, festival HTS, RHVoice), festival
# ked_diphone, piper en_US-joe-medium. (The fortune databases are reserved as text: RESERVED_TEXT.)
RESERVED_VOICES = ("festival:ked_diphone", "piper:en_US-joe-medium")
RESERVED_TEXT = ("fortune",)
_FLITE_STRETCH = {"kal": 1.1, "kal16": 1.1, "awb": 1.0, "rms": 1.0}
_ESPEAK_WPM, _ESPEAK_PITCH = 175, 50
# espeak-ng's -p is roughly exponential in F0: -p 20/50/80 gave 80/103/139 Hz for en-us.
_ESPEAK_PITCH_PER_LN = 1.0 / 0.0092


class TTSError(AsrError, RuntimeError):
    """An engine failed; the message names the voice, the text and the command."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an engine and that engine's voice name."""

    engine: str  # espeak | flite | festival | pico | rhvoice | hibari | kokoro
    name: str  # e.g. en-us+f3, mb-us1, awb, kal_diphone, en-GB, alan, heart, af_bella, am_adam+bf_emma

    @classmethod
    def parse(cls, spec: str) -> "Voice":
        """Parse `<engine>:<name>` and check it against the allowed voices."""
        engine, sep, name = spec.partition(":")
        if not sep or not name:
            raise ValueError(f"voice '{spec}': expected '<engine>:<name>', e.g. 'espeak:en-us+f3' or 'flite:awb'")
        voice = cls(engine, name)
        check_voice_allowed(voice)
        return voice

    @property
    def speaker_id(self) -> str:
        """Filename-safe speaker id, e.g. espeak-en-us-f3, flite-awb, festival-kal."""
        name = self.name.removesuffix("_diphone") if self.engine == "festival" else self.name
        return f"{self.engine}-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


def check_voice_allowed(voice: Voice) -> None:
    """Raise ValueError unless `voice` is on the allowed list (see module docstring).

    Reserved voices get their own message, whatever the engine (also engines we do not drive).
    """
    if str(voice) in RESERVED_VOICES or "slt" in re.split(r"[^a-z0-9]+", voice.name.lower()):
        raise ValueError(f"voice '{voice}' is reserved for evaluation and must never be used for training data")
    if voice.engine == "espeak":
        lang, _, variant = voice.name.partition("+")
        ok = (lang in ESPEAK_LANGUAGES and (not variant or re.fullmatch(r"[A-Za-z0-9_]+", variant) is not None)
              or voice.name in ESPEAK_MBROLA_VOICES)
    elif voice.engine == "flite":
        ok = voice.name in FLITE_VOICES
    elif voice.engine == "festival":
        ok = voice.name in FESTIVAL_VOICES
    elif voice.engine == "pico":
        ok = voice.name in PICO_VOICES
    elif voice.engine == "rhvoice":
        ok = voice.name in RHVOICE_VOICES
    elif voice.engine == "hibari":
        ok = voice.name in HIBARI_VOICES
    elif voice.engine == "kokoro":
        ok = is_allowed_name(voice.name)
    else:
        raise ValueError(f"voice '{voice}': unknown engine '{voice.engine}' (use one of {', '.join(ENGINES)})")
    if not ok:
        raise ValueError(
            f"voice '{voice}' is not allowed: use espeak:<{'|'.join(ESPEAK_LANGUAGES)}>[+variant], "
            f"espeak:<{'|'.join(ESPEAK_MBROLA_VOICES)}>, flite:<{'|'.join(FLITE_VOICES)}>, "
            f"festival:<{'|'.join(FESTIVAL_VOICES)}>, pico:<{'|'.join(PICO_VOICES)}> or "
            f"rhvoice:<{'|'.join(RHVOICE_VOICES)}>, hibari:<{'|'.join(HIBARI_VOICES)}> or "
            f"kokoro:<{'|'.join(KOKORO_VOICES)}>[+<another>...] (other voices are reserved for evaluation or would download)"
        )


def check_text_source_allowed(path: str | os.PathLike) -> None:
    """Raise ValueError when a text source is reserved for evaluation (the fortune databases)."""
    if any(word in str(path).lower() for word in RESERVED_TEXT):
        raise ValueError(f"text source '{path}' is reserved for evaluation (fortune databases) and must never be used")


def check_espeak_variant(voice: Voice) -> None:
    """Raise ValueError when an espeak voice's +variant does not change the audio.

    espeak-ng ignores an unknown variant (`+zzz`) and some pairings (`en-gb+f3`) without
    an error, which would give two speaker ids one voice.
    """
    if voice.engine != "espeak" or "+" not in voice.name:
        return  # MBROLA voices (mb-*) take no variant: check_voice_allowed refuses `mb-us1+f3`
    text = "we acquainted him with the melancholy truth"
    base, _ = synth_espeak(text, Voice("espeak", voice.name.split("+")[0]), 1.0, 1.0)
    varied, _ = synth_espeak(text, voice, 1.0, 1.0)
    if len(base) == len(varied) and np.array_equal(base, varied):
        raise ValueError(f"voice '{voice}': espeak-ng ignores the variant (unknown name?); pick another one "
                         "from `espeak-ng --voices=variant`")


def _run(cmd: list[str], voice: Voice, text: str, stdin: str | None = None) -> bytes:
    try:
        proc = subprocess.run(cmd, input=None if stdin is None else stdin.encode(), capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TTSError(f"voice '{voice}': text '{text}': command {cmd} failed: {e}") from None
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode(errors="replace").strip()
        raise TTSError(f"voice '{voice}': text '{text}': command {cmd} exited {proc.returncode} with no audio: {err}")
    return proc.stdout


def _decode_wav(data: bytes, voice: Voice, text: str, cmd: list[str]) -> tuple[np.ndarray, int]:
    try:
        wave, sr = sf.read(io.BytesIO(data), dtype="float32")
    except Exception as e:  # soundfile raises several types for bad data
        raise TTSError(f"voice '{voice}': text '{text}': command {cmd}: cannot decode its WAV output ({e})") from None
    if wave.ndim != 1 or wave.size == 0:
        raise TTSError(f"voice '{voice}': text '{text}': command {cmd}: empty or multichannel audio {wave.shape}")
    return wave, sr


def espeak_settings(rate: float, pitch: float) -> tuple[int, int]:
    """(words per minute, pitch 0..99) for espeak-ng from rate and pitch factors."""
    return round(_ESPEAK_WPM * rate), min(99, max(0, round(_ESPEAK_PITCH + _ESPEAK_PITCH_PER_LN * math.log(pitch))))


def synth_espeak(text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """espeak-ng: -s words per minute = 175 * rate; -p 0..99 around 50, about log-linear in F0."""
    wpm, p = espeak_settings(rate, pitch)
    cmd = ["espeak-ng", "-v", voice.name, "-s", str(wpm), "-p", str(p), "-b", "1", "--stdout", "--stdin"]
    return _decode_wav(_run(cmd, voice, text, stdin=text), voice, text, cmd)


def synth_flite(text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """flite: duration_stretch = default / rate; f0_shift = pitch (no effect on rms, whose F0 is fixed)."""
    stretch = _FLITE_STRETCH[voice.name] / rate
    cmd = [
        "flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch:.4f}",
        "--setf", f"f0_shift={pitch:.4f}", "-o", "/dev/stdout", "-t", " " + text,  # space: never an option
    ]
    return _decode_wav(_run(cmd, voice, text), voice, text, cmd)


class _FestivalSession:
    """One long-lived `festival --pipe` process. Replies come on stderr, which is unbuffered."""

    def __init__(self) -> None:
        self.cmd = ["festival", "--pipe"]
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self.pid = os.getpid()  # a forked child must not share its parent's pipe
        self.count = 0

    def request(self, scheme: str) -> list[str]:
        """Evaluate `scheme`; return festival's stderr lines; raise TTSError if it failed."""
        self.count += 1
        done, end = f"ASR_DONE {self.count}", f"ASR_END {self.count}"
        assert self.proc.stdin is not None and self.proc.stderr is not None
        try:
            self.proc.stdin.write(f'(begin {scheme} (format stderr "{done}\\n"))\n(format stderr "{end}\\n")\n')
            self.proc.stdin.flush()
        except OSError as e:
            raise TTSError(f"command {self.cmd}: cannot write to festival ({e}); request: {scheme}") from None
        lines: list[str] = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                raise TTSError(f"command {self.cmd}: festival exited ({' | '.join(lines)}); request: {scheme}")
            if line.strip() == end:
                break
            lines.append(line.strip())
        if done not in lines:
            raise TTSError(f"command {self.cmd}: festival failed: {' | '.join(lines)}; request: {scheme}")
        return lines

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


_festival: _FestivalSession | None = None


def synth_festival(text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """festival: Duration_Stretch = voice default / rate; LR intonation target mean = voice default * pitch.

    All allowed voices (diphone and MBROLA) use LR intonation; defaults in _FESTIVAL_PROSODY.
    """
    stretch, f0_mean, f0_std = _FESTIVAL_PROSODY.get(voice.name, _FESTIVAL_PROSODY["kal_diphone"])  # else festival errs
    global _festival
    if _festival is None or _festival.pid != os.getpid() or _festival.proc.poll() is not None:
        _festival = _FestivalSession()
    fd, tmp = tempfile.mkstemp(suffix=".wav", prefix="festival-")
    os.close(fd)
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    scheme = (
        f"(voice_{voice.name}) (Parameter.set 'Duration_Stretch {stretch / rate:.4f}) "
        f"(set! int_lr_params '((target_f0_mean {f0_mean * pitch:.2f}) (target_f0_std {f0_std}) "
        f"(model_f0_mean 170) (model_f0_std 34))) "
        f'(utt.save.wave (utt.synth (Utterance Text "{quoted}")) "{tmp}" \'riff)'
    )
    try:
        try:
            _festival.request(scheme)
        except TTSError as e:
            _festival.close()  # start clean for the next utterance
            raise TTSError(f"voice '{voice}': text '{text}': {e}") from None
        with open(tmp, "rb") as f:
            data = f.read()
    finally:
        os.unlink(tmp)
    return _decode_wav(data, voice, text, _festival.cmd + [scheme])


def _synth_to_file(cmd: list[str], voice: Voice, text: str, stdin: str | None) -> tuple[np.ndarray, int]:
    """Run an engine that writes a WAV file (the `{wav}` argument of `cmd`); return its samples."""
    fd, tmp = tempfile.mkstemp(suffix=".wav", prefix=f"{voice.engine}-")
    os.close(fd)
    cmd = [tmp if arg == "{wav}" else arg for arg in cmd]
    try:
        try:
            proc = subprocess.run(cmd, input=None if stdin is None else stdin.encode(), capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise TTSError(f"voice '{voice}': text '{text}': command {cmd} failed: {e}") from None
        with open(tmp, "rb") as f:
            data = f.read()
        if proc.returncode != 0 or len(data) <= 44:
            err = proc.stderr.decode(errors="replace").strip()
            raise TTSError(f"voice '{voice}': text '{text}': command {cmd} exited {proc.returncode} with no audio: {err}")
    finally:
        os.unlink(tmp)
    return _decode_wav(data, voice, text, cmd)


def synth_pico(text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """SVOX Pico (pico2wave, 16 kHz): <speed level> = 100 * rate, <pitch level> = 100 * pitch (percent)."""
    markup = f"<speed level='{round(100 * rate)}'><pitch level='{round(100 * pitch)}'>{text}</pitch></speed>"
    return _synth_to_file(["pico2wave", "-l", voice.name, "-w", "{wav}", markup], voice, text, stdin=None)


def synth_rhvoice(text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """RHVoice (RHVoice-test, 24 kHz): -r 100 * rate, -t 100 * pitch (percent; F0 scales linearly)."""
    cmd = ["RHVoice-test", "-p", voice.name, "-r", str(round(100 * rate)),
           "-t", str(round(100 * pitch)), "-o", "{wav}"]
    return _synth_to_file(cmd, voice, text, stdin=text)


_HIBARI: dict[str, object] = {}  # voice name -> hibari.Hibari, one per process
_KOKORO: list[object] = []  # the one data_prep.synth.kokoro.Kokoro of this process
HIBARI_RATE = 24000  # hibari's and Kokoro's
HIBARI_RATE_STEP = 400
HIBARI_SEED = 0


def _speed(rate: float, pitch: float) -> float:
    """The speed to ask of a model whose pitch is relabelled (`_relabelled` speeds it up by `pitch`)."""
    return min(2.0, max(0.5, rate / pitch))


def _relabelled(wave: np.ndarray, voice: Voice, text: str, pitch: float) -> tuple[np.ndarray, int]:
    """Pitch for a 24 kHz model without a pitch control: the samples (made at speed rate / pitch) are
    declared at 24 kHz * pitch, so after resampling F0 (and the formants, like a shorter or longer
    vocal tract) scale by `pitch` and the tempo by `rate`."""
    if not len(wave):
        raise TTSError(f"voice '{voice}', text '{text}': {voice.engine} returned no audio")
    # the declared rate on a 400 Hz grid (pitch in ~1.7% steps): an exact polyphase resampling to 16 kHz
    # then needs at most 40 up / 75 down, where an arbitrary rate (27,119 Hz) would need a 1.6 GB kernel
    return np.clip(wave, -1.0, 1.0), HIBARI_RATE_STEP * max(1, round(HIBARI_RATE * pitch / HIBARI_RATE_STEP))


def synth_hibari(text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """hibari (in-process, 24 kHz). The model has a speed control but no pitch one, so pitch is a
    sample-rate relabelling (`_relabelled`)."""
    try:
        from hibari import Hibari
    except ImportError as err:
        raise TTSError(f"voice '{voice}': the Python package hibari-tts is not installed (`pip install -e .`)") from err
    tts = _HIBARI.get(voice.name)
    if tts is None:
        tts = _HIBARI[voice.name] = Hibari(voice=voice.name, threads=1)
    speed = _speed(rate, pitch)
    try:
        wave = np.asarray(tts(text, speed=speed, seed=HIBARI_SEED), dtype=np.float32)
    except Exception as err:  # noqa: BLE001 - the engine's own errors, named with voice and text
        raise TTSError(f"voice '{voice}', text '{text}': hibari failed: {err}") from err
    return _relabelled(wave, voice, text, pitch)


def synth_kokoro(text: str, voice: Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """Kokoro-82M (in-process, 24 kHz, data_prep/synth/kokoro.py): speed control only, so pitch is a
    sample-rate relabelling like hibari's (`_relabelled`). A blend `a+b` reads with the mean style."""
    from data_prep.synth.kokoro import MIX, Kokoro, KokoroError, missing

    if voice.name == MIX:
        raise TTSError(f"voice '{voice}' is a slot of a corpus (a new blend per utterance, "
                       "data_prep.synth.corpus.resolve_voice); name a voice or a blend, e.g. kokoro:af_bella+bm_george")
    if not _KOKORO:
        need = missing()
        if need is not None:
            raise TTSError(f"voice '{voice}': Kokoro is not installed here: install {need}")
        try:
            _KOKORO.append(Kokoro(threads=1))
        except KokoroError as err:
            raise TTSError(f"voice '{voice}': {err}") from err
    speed = _speed(rate, pitch)
    try:
        wave = _KOKORO[0](text, voice.name, speed=speed)  # type: ignore[operator]
    except Exception as err:  # noqa: BLE001 - the engine's own errors, named with voice and text
        raise TTSError(f"voice '{voice}', text '{text}': Kokoro failed: {err}") from err
    return _relabelled(wave, voice, text, pitch)


SYNTH_FUNCTIONS = {"espeak": synth_espeak, "flite": synth_flite, "festival": synth_festival, "pico": synth_pico,
                   "rhvoice": synth_rhvoice, "hibari": synth_hibari, "kokoro": synth_kokoro}
