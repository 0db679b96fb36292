"""In-process espeak-ng (the espeakng-loader wheel) as a drop-in for data_prep.synth.engines.synth_espeak.

For the GPU proxy (proxy.py) only: a machine without the espeak-ng binary. Not bit-exact
with the subprocess engine; same voice names, rate and pitch mapping.
"""
from __future__ import annotations

import ctypes

import espeakng_loader
import numpy as np

from data_prep.synth import engines as te

_lib = None
_buf = []
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _cb(wav, n, events):
    if n > 0:
        _buf.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0


_cb_ref = CB(_cb)
_rate = 22050


def _init():
    global _lib, _rate
    if _lib is None:
        _lib = ctypes.CDLL(espeakng_loader.get_library_path())
        _lib.espeak_Initialize.restype = ctypes.c_int
        _rate = _lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)
        _lib.espeak_SetSynthCallback(_cb_ref)
    return _lib


def synth_espeak(text: str, voice: te.Voice, rate: float, pitch: float) -> tuple[np.ndarray, int]:
    """Like tts_engines.synth_espeak: float32 samples [S] in [-1, 1] and the engine's rate."""
    lib = _init()
    if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
        raise te.TTSError(f"voice {voice.name}")
    wpm, p = te.espeak_settings(rate, pitch)
    lib.espeak_SetParameter(1, wpm, 0)  # espeakRATE
    lib.espeak_SetParameter(3, p, 0)  # espeakPITCH
    _buf.clear()
    data = text.encode("utf-8") + b"\0"
    lib.espeak_Synth(data, len(data), 0, 1, 0, 0, None, None)
    lib.espeak_Synchronize()
    wave = np.concatenate(_buf) if _buf else np.zeros(1, np.int16)
    return (wave.astype(np.float32) / 32768.0), _rate


def patch() -> None:
    """Make data_prep use this engine for espeak voices, without the binary's checks."""
    from data_prep.synth import corpus as se

    te.SYNTH_FUNCTIONS["espeak"] = synth_espeak  # the dict synth_en reads
    se.check_espeak_variant = lambda voice: None  # it runs the binary
