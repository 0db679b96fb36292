"""Waveform augmentation: speed, rooms, telephone and codec channels, noise, gain and clipping.

Every function takes and returns mono float32 waveforms [S] (samples in [-1, 1] unless a
gain pushes them beyond) at `sample_rate` Hz; lengths are in samples, levels in dB, times in
seconds. Functions that draw anything take a `numpy.random.Generator` and draw only from it,
so the same generator state gives the same output; the others are deterministic.

* `speed_perturb`: Kaldi-style speed perturbation (resampling: tempo and pitch change together).
* `room_impulse_response` / `reverberate`: a shoebox room by the image-source method for the
  early reflections and a decaying noise tail for the rest, at a requested RT60;
  `schroeder_rt60` measures the RT60 of an impulse response.
* `telephone_channel`: 8 kHz, 300-3400 Hz band, G.711 mu-law or A-law, back to the input rate.
* `codec_channel`: GSM, AMR-NB, 16 kbps MP3 (sox), 8 kbps Opus (opus-tools), G.722 (ffmpeg),
  each in two subprocesses (encoder, decoder) through pipes.
* `coloured_noise`, `babble`, `add_noise`: white/pink/brown noise or babble at a given SNR.
* `apply_gain`, `clip_peak`: gain in dB and mild hard clipping.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from asr.data.resample import resample
from asr.errors import AsrError

SPEED_OF_SOUND = 343.0  # m/s


class AugmentError(AsrError, RuntimeError):
    """An augmentation could not run (a missing program, a failing codec); the message says which."""


# ---------------------------------------------------------------- speed


def speed_perturb(wave: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Play `wave` [S] `factor` times faster, as Kaldi/sox `speed` does: [round(S / factor)].

    The samples are read as if recorded at sample_rate * factor and resampled to sample_rate,
    so tempo and pitch both scale by `factor` (0.9 = 10% slower and lower).
    """
    if factor == 1.0:
        return wave.astype(np.float32)
    return resample(wave.astype(np.float32), int(round(sample_rate * factor)), sample_rate).astype(np.float32)


# ---------------------------------------------------------------- rooms


def room_impulse_response(
    rt60: float,
    sample_rate: int,
    rng: np.random.Generator,
    room_range: tuple[tuple[float, float], ...] = ((3.0, 10.0), (3.0, 8.0), (2.4, 3.5)),
    early_s: float = 0.06,
) -> np.ndarray:
    """A room impulse response [L] (L = about rt60 seconds), direct path at sample 0 with value 1.

    A shoebox room with sides drawn uniformly from `room_range` (metres), and a source and a
    microphone at uniform positions at least 0.5 m from every wall and 1 m from each other. Wall absorption follows
    Eyring's formula for the asked RT60, the same at every wall and frequency. Reflections
    arriving within `early_s` of the direct sound come from the image-source method (Allen &
    Berkley 1979, delays rounded to samples); after that, Gaussian noise decaying 60 dB per
    rt60 takes over, starting at the energy density the image sources reach at `early_s`.
    """
    dims = np.array([rng.uniform(lo, hi) for lo, hi in room_range])
    while True:  # far field: the source at least 1 m from the microphone
        src, mic = (np.array([rng.uniform(0.5, d - 0.5) for d in dims]) for _ in range(2))
        if np.linalg.norm(src - mic) >= 1.0:
            break
    volume, surface = float(np.prod(dims)), 2.0 * (dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    absorption = 1.0 - np.exp(-0.161 * volume / (surface * rt60))
    beta = np.sqrt(1.0 - absorption)  # pressure reflection coefficient

    direct = float(np.linalg.norm(src - mic))
    early_s = min(early_s, rt60 / 4)  # short rooms: let the tail, exact in RT60, carry the decay
    t_max = direct / SPEED_OF_SOUND + early_s
    n_max = int(np.ceil(SPEED_OF_SOUND * t_max / (2.0 * dims.min()))) + 1
    m = np.arange(-n_max, n_max + 1)
    coords, counts = [], []
    for axis in range(3):  # image coordinate and number of wall reflections, per axis: [2, 2N+1]
        q = np.array([0, 1])[:, None]
        coords.append((1 - 2 * q) * src[axis] + 2 * m[None, :] * dims[axis] - mic[axis])
        counts.append(np.abs(m[None, :] - q) + np.abs(m[None, :]))
    x, y, z = (c.reshape(-1) for c in coords)
    rx, ry, rz = (c.reshape(-1) for c in counts)
    dist = np.sqrt(x[:, None, None] ** 2 + y[None, :, None] ** 2 + z[None, None, :] ** 2).reshape(-1)
    refl = (rx[:, None, None] + ry[None, :, None] + rz[None, None, :]).reshape(-1)
    keep = dist <= SPEED_OF_SOUND * t_max
    dist, refl = dist[keep], refl[keep]

    length = max(int(rt60 * sample_rate), int(t_max * sample_rate) + 2)
    rir = np.zeros(length)
    delay = np.rint((dist - direct) / SPEED_OF_SOUND * sample_rate).astype(np.int64)
    np.add.at(rir, delay, beta**refl * direct / dist)  # direct path = 1

    start = int(early_s * sample_rate)
    window = rir[max(start - int(0.02 * sample_rate), 1) : start]
    decay = 6.908 / (rt60 * sample_rate)  # amplitude: exp(-decay * n) falls 60 dB in rt60
    n_win = np.arange(len(window)) - len(window)  # sample offsets from `start`
    level = np.sqrt(np.mean(window**2 * np.exp(2 * decay * n_win))) if len(window) else 0.0
    n = np.arange(length - start)
    rir[start:] += level * np.exp(-decay * n) * rng.standard_normal(length - start)
    return rir.astype(np.float32)


def reverberate(wave: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve `wave` [S] with `rir` [L] (direct path at sample 0); return [S] with the RMS of `wave`.

    The reverberant tail beyond the end of `wave` is cut, so pad `wave` first to keep it.
    """
    n = len(wave) + len(rir) - 1
    n_fft = 1 << max(n - 1, 1).bit_length()
    out = np.fft.irfft(np.fft.rfft(wave, n_fft) * np.fft.rfft(rir, n_fft), n_fft)[: len(wave)]
    dry = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))
    wet = float(np.sqrt(np.mean(out**2)))
    return (out * (dry / wet if wet > 0 else 0.0)).astype(np.float32)


def schroeder_rt60(rir: np.ndarray, sample_rate: int, fit_db: tuple[float, float] = (-5.0, -25.0)) -> float:
    """RT60 of an impulse response [L] in seconds: Schroeder backward integration, a straight
    line fitted to the decay curve between fit_db (T20 by default), extrapolated to -60 dB."""
    energy = np.cumsum((rir.astype(np.float64) ** 2)[::-1])[::-1]
    curve = 10 * np.log10(np.maximum(energy / energy[0], 1e-30))
    hi, lo = fit_db
    idx = np.nonzero((curve <= hi) & (curve >= lo))[0]
    if len(idx) < 2:
        raise ValueError(f"the decay curve never spans {hi} to {lo} dB: the response is too short")
    slope = np.polyfit(idx / sample_rate, curve[idx], 1)[0]  # dB per second
    return float(-60.0 / slope)


# ---------------------------------------------------------------- channels


def _band_limit(wave: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Zero-phase brick-wall band-pass [S] by FFT (no energy outside [low_hz, high_hz])."""
    n_fft = 1 << max(len(wave) - 1, 1).bit_length()
    spec = np.fft.rfft(wave, n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    spec[(freqs < low_hz) | (freqs > high_hz)] = 0.0
    return np.fft.irfft(spec, n_fft)[: len(wave)]


def _upsample(wave: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """Resample [S] from a codec's `rate` to `sample_rate`; when that is higher, an ideal
    reconstruction filter keeps nothing above rate / 2 (the resampler's own filter leaks)."""
    out = resample(wave.astype(np.float32), rate, sample_rate)
    return _band_limit(out, sample_rate, 0.0, rate / 2).astype(np.float32) if sample_rate > rate else out


def _mulaw(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """Compress, quantise to 8 bits and expand with the mu-law curve (G.711 mu-law)."""
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    y = np.round(y * 127.0) / 127.0
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def _alaw(x: np.ndarray, a: float = 87.6) -> np.ndarray:
    """Compress, quantise to 8 bits and expand with the A-law curve (G.711 A-law)."""
    ax, norm = np.abs(x), 1.0 + np.log(a)
    y = np.where(ax < 1.0 / a, a * ax / norm, (1.0 + np.log(np.maximum(a * ax, 1.0))) / norm)
    y = np.round(y * 127.0) / 127.0
    ex = np.where(y < 1.0 / norm, y * norm / a, np.exp(y * norm - 1.0) / a)
    return np.sign(x) * ex


def telephone_channel(wave: np.ndarray, sample_rate: int, law: str = "mulaw",
                      band_hz: tuple[float, float] = (300.0, 3400.0)) -> np.ndarray:
    """A narrowband telephone line: resample [S] to 8 kHz, keep `band_hz`, G.711-code with
    `law` ('mulaw', 'alaw' or 'linear'), resample back. Returns [S] at `sample_rate`."""
    narrow = resample(np.clip(wave, -1.0, 1.0).astype(np.float32), sample_rate, 8000).astype(np.float64)
    narrow = _band_limit(narrow, 8000, *band_hz)
    if law == "mulaw":
        narrow = _mulaw(np.clip(narrow, -1.0, 1.0))
    elif law == "alaw":
        narrow = _alaw(np.clip(narrow, -1.0, 1.0))
    elif law != "linear":
        raise ValueError(f"unknown telephone law '{law}' (use mulaw, alaw or linear)")
    return _fit_length(_upsample(narrow.astype(np.float32), 8000, sample_rate), len(wave))


# name -> (program, Debian package, codec rate, encode args, decode args). Both commands read
# stdin and write stdout; the encoder reads and the decoder writes raw 16-bit mono at the codec rate.
# Small programs where they exist (sox starts in ~5 ms of CPU, ffmpeg in ~70 ms): sox for GSM
# 06.10 (13 kbps), AMR-NB (12.2 kbps) and MP3 (16 kbps, LAME), opus-tools for Opus (8 kbps),
# ffmpeg for G.722 (64 kbps, 7 kHz band). ffmpeg has no AMR-NB encoder here, sox no G.722 or Opus.
_SOX_RAW = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1"]
_FF = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin"]
_FF_RAW = ["-f", "s16le", "-ac", "1"]
CODECS: dict[str, tuple[str, str, int, list[str], list[str]]] = {
    "gsm": ("sox", "sox", 8000, ["sox", *_SOX_RAW, "-r", "8000", "-", "-t", "gsm", "-"],
            ["sox", "-t", "gsm", "-r", "8000", "-c", "1", "-", *_SOX_RAW, "-"]),
    "amr-nb": ("sox", "libsox-fmt-all", 8000, ["sox", *_SOX_RAW, "-r", "8000", "-", "-t", "amr-nb", "-C", "7", "-"],
               ["sox", "-t", "amr-nb", "-", *_SOX_RAW, "-r", "8000", "-"]),
    "g722": ("ffmpeg", "ffmpeg", 16000, [*_FF, *_FF_RAW, "-ar", "16000", "-i", "-", "-c:a", "g722", "-f", "g722", "-"],
             [*_FF, "-f", "g722", "-i", "-", *_FF_RAW, "-ar", "16000", "-"]),
    "mp3": ("sox", "libsox-fmt-all", 16000, ["sox", *_SOX_RAW, "-r", "16000", "-", "-t", "mp3", "-C", "16", "-"],
            ["sox", "-t", "mp3", "-", *_SOX_RAW, "-r", "16000", "-"]),
    "opus": ("opusenc", "opus-tools", 16000,
             ["opusenc", "--quiet", "--bitrate", "8", "--raw", "--raw-rate", "16000", "--raw-chan", "1", "-", "-"],
             ["opusdec", "--quiet", "--rate", "16000", "-", "-"]),
}
TELEPHONE_LAWS = ("mulaw", "alaw")
CHANNELS = (*TELEPHONE_LAWS, *CODECS)  # every name `channel` accepts


def check_channels(names: list[str]) -> None:
    """Raise AugmentError for an unknown channel or one whose program is not installed."""
    for name in names:
        if name in TELEPHONE_LAWS:
            continue
        if name not in CODECS:
            raise AugmentError(f"unknown channel '{name}' (known: {', '.join(CHANNELS)})")
        program, package = CODECS[name][:2]
        if shutil.which(program) is None:
            raise AugmentError(f"channel '{name}' needs the program '{program}', which is not installed "
                               f"(Debian package {package}; tools/install_deps.sh installs it)")


def _run(cmd: list[str], data: bytes, name: str) -> bytes:
    try:
        done = subprocess.run(cmd, input=data, capture_output=True, timeout=120, check=False)
    except FileNotFoundError:
        check_channels([name])
        raise
    if done.returncode != 0 or not done.stdout:
        err = done.stderr.decode(errors="replace").strip()[-300:]
        raise AugmentError(f"channel '{name}': {' '.join(cmd)} exited {done.returncode}: {err or 'no output'}")
    return done.stdout


def _fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, len(wave))] = wave[:length]
    return out


def _align(decoded: np.ndarray, reference: np.ndarray, max_lag: int) -> np.ndarray:
    """Drop the codec delay: shift `decoded` by the lag (0..max_lag) of best cross-correlation."""
    n = len(decoded) + len(reference)
    n_fft = 1 << max(n - 1, 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(decoded, n_fft) * np.conj(np.fft.rfft(reference, n_fft)), n_fft)[: max_lag + 1]
    return decoded[int(np.argmax(np.abs(xc))) :]  # |xc|: a codec may invert the polarity (AMR-NB does)


def codec_channel(wave: np.ndarray, sample_rate: int, name: str) -> np.ndarray:
    """Encode and decode [S] with codec `name` (see CODECS) in subprocesses; return [S] at
    `sample_rate`, the codec delay removed. AugmentError names a missing program."""
    check_channels([name])
    _, _, rate, encode, decode = CODECS[name]
    x = resample(np.clip(wave, -1.0, 1.0).astype(np.float32), sample_rate, rate)
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    out = np.frombuffer(_run(decode, _run(encode, pcm, name), name), dtype="<i2").astype(np.float32) / 32768.0
    out = _align(out, x, max_lag=int(0.2 * rate))
    return _fit_length(_upsample(out, rate, sample_rate), len(wave))


def channel(wave: np.ndarray, sample_rate: int, name: str) -> np.ndarray:
    """Pass [S] through channel `name`: a telephone law ('mulaw', 'alaw') or a codec (CODECS)."""
    if name in TELEPHONE_LAWS:
        return telephone_channel(wave, sample_rate, law=name)
    return codec_channel(wave, sample_rate, name)


# ---------------------------------------------------------------- noise, gain, clipping


def coloured_noise(num_samples: int, color: str, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """Unit-RMS noise [num_samples]: white, pink (1/f power) or brown (1/f^2), no energy below 20 Hz."""
    if color == "white":
        noise = rng.standard_normal(num_samples)
    else:  # shape a random spectrum; a power-of-two FFT is 10x faster than an odd length
        alpha = {"pink": 1.0, "brown": 2.0}[color]
        n_fft = 1 << max(num_samples - 1, 1).bit_length()
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        scale = np.where(freqs >= 20.0, np.maximum(freqs, 20.0) ** (-alpha / 2), 0.0)
        spectrum = rng.standard_normal((2, len(freqs)))
        noise = np.fft.irfft((spectrum[0] + 1j * spectrum[1]) * scale, n=n_fft)[:num_samples]
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def babble(pool: np.ndarray, num_samples: int, rng: np.random.Generator, talkers: int) -> np.ndarray:
    """Unit-RMS babble [num_samples]: the sum of `talkers` stretches of `pool` [P] (speech of
    other utterances, end to end) at random offsets, each at unit RMS before summing."""
    if len(pool) == 0:
        raise ValueError("babble needs a non-empty pool of speech")
    out = np.zeros(num_samples)
    for offset in rng.integers(0, len(pool), size=talkers):
        part = np.take(pool, np.arange(offset, offset + num_samples), mode="wrap").astype(np.float64)
        out += part / max(float(np.sqrt(np.mean(part**2))), 1e-12)
    return out / max(float(np.sqrt(np.mean(out**2))), 1e-12)


def active_power(wave: np.ndarray, sample_rate: int, range_db: float = 30.0, frame_s: float = 0.025) -> float:
    """Mean square of [S] over the frames within `range_db` of the loudest frame (speech, not pauses)."""
    frame = max(int(frame_s * sample_rate), 1)
    n = max(len(wave) // frame, 1)
    x = wave.astype(np.float64)
    frames = x[: n * frame].reshape(n, frame) if len(x) >= frame else x[None, :]
    power = np.mean(frames**2, axis=1)
    return float(np.mean(power[power >= power.max() * 10 ** (-range_db / 10)]))


def add_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float, speech_power: float | None = None) -> np.ndarray:
    """speech [S] + noise [S] scaled so that speech_power / noise power = snr_db (dB).

    speech_power defaults to the mean square of `speech` over all its samples; pass
    `active_power(speech, sr)` to measure the speech without its pauses.
    """
    if len(noise) != len(speech):
        raise ValueError(f"noise has {len(noise)} samples, speech {len(speech)}")
    p_speech = float(np.mean(speech.astype(np.float64) ** 2)) if speech_power is None else speech_power
    p_noise = max(float(np.mean(noise.astype(np.float64) ** 2)), 1e-20)
    return (speech + noise * np.sqrt(p_speech / p_noise / 10 ** (snr_db / 10))).astype(np.float32)


def apply_gain(wave: np.ndarray, gain_db: float) -> np.ndarray:
    """[S] times 10^(gain_db / 20)."""
    return (wave * 10 ** (gain_db / 20)).astype(np.float32)


def clip_peak(wave: np.ndarray, ceiling: float, drive_db: float) -> np.ndarray:
    """Mild clipping: scale [S] so its peak is `drive_db` above `ceiling`, then hard-clip at
    `ceiling`; the samples within drive_db of the old peak are flattened."""
    peak = max(float(np.abs(wave).max()), 1e-12)
    return np.clip(wave * (ceiling * 10 ** (drive_db / 20) / peak), -ceiling, ceiling).astype(np.float32)
