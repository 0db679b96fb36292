"""In-process espeak-ng (the espeakng-loader wheel) as a drop-in for data_prep.tts_engines.synth_espeak.

For the GPU proxy (proxy.py) only: a machine without the espeak-ng binary. Not bit-exact
with the subprocess engine; same voice names, rate and pitch mapping.
"""
import ctypes, math
import numpy as np
import espeakng_loader

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


def synth_espeak(text, voice, rate, pitch):
    from data_prep import tts_engines as te
    lib = _init()
    if lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
        raise te.TTSError(f"voice {voice.name}")
    lib.espeak_SetParameter(1, round(te._ESPEAK_WPM * rate), 0)
    lib.espeak_SetParameter(3, min(99, max(0, round(te._ESPEAK_PITCH + te._ESPEAK_PITCH_PER_LN * math.log(pitch)))), 0)
    _buf.clear()
    data = text.encode("utf-8") + b"\0"
    lib.espeak_Synth(data, len(data), 0, 1, 0, 0, None, None)
    lib.espeak_Synchronize()
    wave = np.concatenate(_buf) if _buf else np.zeros(1, np.int16)
    return (wave.astype(np.float32) / 32768.0), _rate


def patch():
    from data_prep import tts_engines as te, synth_en as se
    te.synth_espeak = synth_espeak
    te.SYNTH_FUNCTIONS["espeak"] = synth_espeak
    if hasattr(se, "SYNTH_FUNCTIONS"):
        se.SYNTH_FUNCTIONS["espeak"] = synth_espeak
    te.engine_binary = lambda engine: "/inproc"
    te.check_espeak_variant = lambda voice: None
