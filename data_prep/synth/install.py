"""Is a TTS voice installed here? The Debian package (or, for hibari and Kokoro, the PyPI packages and
voice tables) each voice still needs, and one-line errors naming them (data_prep.synth.engines drives
the engines)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from data_prep.synth import kokoro
from data_prep.synth.engines import ESPEAK_MBROLA_VOICES, TTSError, Voice

# Debian packages: engine programs, and voice data (MBROLA databases, festival voice dirs).
_ENGINE_PACKAGES = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "festival", "pico2wave": "libttspico-utils",
                    "RHVoice-test": "rhvoice", "mbrola": "mbrola"}
_FESTIVAL_PACKAGES = {"kal_diphone": "festvox-kallpc16k", "rab_diphone": "festvox-rablpc16k", "don_diphone": "festvox-don",
                      "us1_mbrola": "festvox-us1", "us2_mbrola": "festvox-us2", "us3_mbrola": "festvox-us3",
                      "en1_mbrola": "festvox-en1"}
FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices/english")
MBROLA_DIR = Path("/usr/share/mbrola")
RHVOICE_VOICE_DIR = Path("/usr/share/RHVoice/voices")
HIBARI_PACKAGE = "hibari-tts (PyPI)"


def _have_hibari() -> bool:
    return importlib.util.find_spec("hibari") is not None


def missing_package(voice: Voice) -> str | None:
    """The Debian package `voice` still needs (program or voice data), or None when it is installed;
    for hibari the PyPI package (a dependency in pyproject.toml)."""
    if voice.engine == "hibari":
        return None if _have_hibari() else HIBARI_PACKAGE
    if voice.engine == "kokoro":
        return kokoro.missing()
    program = {"espeak": "espeak-ng", "flite": "flite", "festival": "festival", "pico": "pico2wave",
               "rhvoice": "RHVoice-test"}[voice.engine]
    needs: list[tuple[str, Path | None]] = [(program, None)]
    mbrola_db = (voice.name[3:] if voice.engine == "espeak" and voice.name in ESPEAK_MBROLA_VOICES
                 else voice.name.split("_")[0] if voice.engine == "festival" and voice.name.endswith("_mbrola") else None)
    if mbrola_db:
        needs += [("mbrola", None), (f"mbrola-{mbrola_db}", MBROLA_DIR / mbrola_db / mbrola_db)]
    if voice.engine == "festival":
        needs.append((_FESTIVAL_PACKAGES[voice.name], FESTIVAL_VOICE_DIR / voice.name))
    if voice.engine == "rhvoice":
        needs.append(("rhvoice-english", RHVOICE_VOICE_DIR / voice.name))
    for name, path in needs:
        if path is None and shutil.which(name) is None:
            return _ENGINE_PACKAGES[name]
        if path is not None and not path.exists():
            return name
    return None


def check_voices_installed(voices: list[Voice]) -> None:
    """Raise TTSError, one line naming every Debian package to install, when any voice cannot run here."""
    missing = {str(v): p for v in voices if (p := missing_package(v)) is not None}
    if missing:
        python = {p for v, p in missing.items() if v.startswith(("hibari:", "kokoro:"))}
        packages = sorted(set(missing.values()) - python)
        where = [f"the Debian packages {' '.join(packages)} (mbrola*, libttspico-utils and rhvoice* are in "
                 "contrib/non-free; tools/install_deps.sh, as root, enables them and installs everything)"] if packages else []
        if HIBARI_PACKAGE in python:
            where.append("the Python package hibari-tts (`pip install -e .` installs it)")
        where += sorted(python - {HIBARI_PACKAGE})
        raise TTSError(f"TTS voices not installed: {', '.join(missing)}: install {' and '.join(where)}")


def check_voice_installed(voice: Voice) -> None:
    """Raise TTSError (one line naming the Debian package to install) when `voice` cannot run here."""
    check_voices_installed([voice])


def engine_binary(engine: str) -> str | None:
    """Path of the program an engine needs (hibari: its Python package; Kokoro: its voice tables), or
    None when it is not installed."""
    if engine == "kokoro":
        return None if kokoro.missing() is not None else str(kokoro.voices_dir())
    if engine == "hibari":
        spec = importlib.util.find_spec("hibari")
        return spec.origin if spec is not None else None
    return shutil.which({"espeak": "espeak-ng", "flite": "flite", "festival": "festival", "pico": "pico2wave",
                         "rhvoice": "RHVoice-test"}[engine])
