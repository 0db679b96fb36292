"""Audio loading: any format soundfile reads, downmixed to mono and resampled.

Samples are float32 in [-1, 1]; lengths are in samples unless a name says seconds.

* `audio_info(path)` checks a file without decoding it (missing, dangling link, not a
  regular file, empty, undecodable, truncated) and returns its rate/channels/length.
* `stream_audio(path)` yields mono blocks at the target rate, reading one block at a time,
  so that memory stays bounded whatever the file length; the concatenated blocks equal
  whole-file resampling (to float rounding).
* `load_audio(path)` returns the whole file as one array, built on the two above.

Every problem raises AudioError with a message naming the file (and utterance).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asr.data.integrity import container_check
from asr.data.resample import StreamResampler, resample
from asr.errors import AsrError


class AudioError(AsrError, RuntimeError):
    """An audio file could not be used; the message names the file (and utterance)."""


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says (after the truncation checks)."""

    sample_rate: int
    channels: int
    frames: int  # samples per channel
    duration: float  # seconds
    format: str = ""  # soundfile's major format, e.g. "WAV", "FLAC", "OGG", "MP3"
    subtype: str = ""  # e.g. "PCM_16", "FLOAT", "VORBIS", "MPEG_LAYER_III"
    # False when `frames` is an estimate (an MP3 file): the decoder then reads to the end
    # of the file, and a decode shorter or longer than `frames` is no error
    exact_length: bool = True


# Called with one line (file, why, how much is missing) when a truncated file is read anyway.
OnTruncated = Callable[[str], None]
_SALVAGE_FRAMES = 4096  # reading a truncated file anyway: decode in pieces this long


def _truncation_line(where: str, why: str, declared_s: float | None, present_s: float) -> str:
    if declared_s is None or declared_s <= present_s:
        missing = "an unknown amount of audio is missing"
    else:
        missing = f"{declared_s - present_s:.2f} s of {declared_s:.2f} s missing"
    return f"{where}: truncated ({why}): {missing}; using the {present_s:.2f} s present"


def _where(path: str | Path, utt: str | None) -> str:
    return f"utt '{utt}': {path}" if utt else str(path)


def _check_path(path: str | Path, where: str) -> Path:
    """Raise AudioError unless `path` is a readable, non-empty regular file."""
    p = Path(path)
    if p.is_symlink() and not p.exists():
        target = os.readlink(p)
        try:
            os.stat(p)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise AudioError(f"{where}: symbolic link loop (points to {target})") from None
        raise AudioError(f"{where}: dangling symbolic link (points to {target})")
    if not p.exists():
        raise AudioError(f"{where}: file not found")
    if not p.is_file():
        raise AudioError(f"{where}: not a regular file")
    if p.stat().st_size == 0:
        raise AudioError(f"{where}: file is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise AudioError(f"{where}: permission denied")
    return p


def _decode_error(where: str, e: BaseException) -> AudioError:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return AudioError(f"{where}: cannot decode audio ({msg})")


def audio_info(
    path: str | Path, utt: str | None = None, on_truncated: OnTruncated | None = None
) -> AudioInfo:
    """Check `path` and return what its header says, without decoding the samples.

    Raises AudioError naming the file (and `utt`, when given) if the file is missing, a
    dangling symbolic link, not a regular file, empty, unreadable, not decodable, has no
    samples, or is visibly truncated (a WAV/AIFF whose sample chunk runs past the end of
    the file; an Ogg file that does not end with a complete end-of-stream page; an MP3
    file that ends inside an MPEG frame or holds fewer frames than its Xing/VBRI header
    declares). FLAC files are checked for truncation while decoding, by
    `stream_audio`/`load_audio`. With `on_truncated`, a truncated file is no error: the
    function is called with one line naming the file and how much is missing, and the
    info describes what the file holds.
    """
    where = _where(path, utt)
    p = _check_path(path, where)
    try:  # before sf.info, which may fail (or succeed quietly) on a cut file
        why, mp3 = container_check(p)
    except OSError as e:
        raise AudioError(f"{where}: cannot read ({e.strerror or e})") from None
    if why and on_truncated is None:
        raise AudioError(f"{where}: truncated: {why}")
    try:
        info = sf.info(str(p))
    except Exception as e:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise _decode_error(where, e) from None
    if info.frames <= 0:
        raise AudioError(f"{where}: audio has no samples")
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(
            f"{where}: cannot decode audio (sample rate {info.samplerate}, {info.channels} channels)"
        )
    frames, exact = int(info.frames), True
    if str(info.format) == "MP3":
        # libsndfile's length is exact only after a Xing/Info or VBRI header (encoder delay and
        # padding removed); otherwise it is estimated from the file size. The frames present
        # give the length without such a header (the decoder trims nothing then).
        exact = False
        if mp3 is not None and mp3.declared_frames is None and mp3.sample_rate == info.samplerate:
            frames = mp3.samples or frames
    if why:
        present_s = frames / info.samplerate
        declared_s = present_s / why.present if why.present else None
        on_truncated(_truncation_line(where, why, declared_s, present_s))
    return AudioInfo(
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=frames,
        duration=float(frames) / info.samplerate,
        format=str(info.format),
        subtype=str(info.subtype),
        exact_length=exact,
    )


# ----------------------------------------------------------------------------- reading


def _read_blocks(
    p: Path, info: AudioInfo, block_frames: int, where: str, on_truncated: OnTruncated | None = None
) -> Iterator[np.ndarray]:
    """Yield mono float32 blocks of up to `block_frames` input samples, checked.

    A file of estimated length (`info.exact_length` False) is read to its end. A decode that
    fails or stops short of the declared length raises AudioError, or with `on_truncated`
    reports one line and ends there."""
    done = 0
    sr = info.sample_rate
    try:
        f = sf.SoundFile(str(p))
    except Exception as e:
        raise _decode_error(where, e) from None
    with f:
        while done < info.frames or not info.exact_length:
            want = min(block_frames, info.frames - done) if info.exact_length else block_frames
            pieces, failed = [], None
            try:
                if on_truncated is None:
                    pieces.append(f.read(want, dtype="float32", always_2d=True))
                else:  # in small pieces (at fixed positions), to keep what decodes before a failure
                    left = want
                    while left > 0:
                        at = done + want - left
                        step = min(left, _SALVAGE_FRAMES - at % _SALVAGE_FRAMES)
                        piece = f.read(step, dtype="float32", always_2d=True)
                        if len(piece) == 0:
                            break
                        pieces.append(piece)
                        left -= len(piece)
            except Exception as e:
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                failed = (
                    f"decoding failed between {done / sr:.2f} s and {(done + want) / sr:.2f} s "
                    f"of the {info.duration:.2f} s the header declares ({msg})"
                )
                if on_truncated is None:
                    raise AudioError(f"{where}: truncated or corrupt: {failed}") from None
            data = np.concatenate(pieces) if len(pieces) > 1 else pieces[0] if pieces else None
            if data is not None and len(data):
                if not np.isfinite(data).all():
                    bad = int(np.argmin(np.isfinite(data).all(axis=1)))
                    at = (done + bad) / info.sample_rate
                    raise AudioError(f"{where}: audio contains NaN or Inf samples (first at {at:.3f} s)")
                done += len(data)
                yield data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
            if failed is not None:
                on_truncated(_truncation_line(where, failed, info.duration if info.exact_length else None, done / sr))
                return
            if data is None or len(data) == 0:
                break
    if done < info.frames and info.exact_length:
        why = f"only {done} of the {info.frames} samples the header declares could be decoded"
        if on_truncated is None:
            raise AudioError(f"{where}: truncated: {why} ({done / sr:.2f} of {info.duration:.2f} s)")
        on_truncated(_truncation_line(where, why, info.duration, done / sr))


def stream_audio(
    path: str | Path,
    target_sr: int = 16000,
    block_seconds: float = 30.0,
    utt: str | None = None,
    info: AudioInfo | None = None,
    on_truncated: OnTruncated | None = None,
) -> Iterator[np.ndarray]:
    """Yield mono float32 blocks [n] of `path` at `target_sr`, reading one block at a time.

    Blocks hold about `block_seconds` of audio (the last one less; a file no longer than
    one block comes as a single block, resampled in one go exactly like `load_audio`).
    The concatenated blocks equal whole-file resampling up to float rounding: each block
    is resampled with context samples from its neighbours. Memory: one block plus context.
    All the checks of `audio_info` run before the first block; NaN/Inf samples and files
    that decode short of their declared length raise AudioError when reached.

    `on_truncated`: read a truncated file anyway (what it holds), calling this function
    with one line that names the file and says how much is missing (`asr transcribe` does;
    corpus preparation and feature extraction leave it None, so such a file is an error).
    """
    where = _where(path, utt)
    if info is None:
        info = audio_info(path, utt, on_truncated)
    p = Path(path)
    try:
        resampler = StreamResampler(info.sample_rate, target_sr)
    except ValueError as e:
        raise AudioError(f"{where}: {e}") from None
    block_frames = max(1, int(round(block_seconds * info.sample_rate)))
    if not resampler.identity:  # whole resampling periods per block
        block_frames = max(resampler.orig, block_frames // resampler.orig * resampler.orig)
    if info.frames <= block_frames:  # the short-file path: one read, one resample
        blocks = list(_read_blocks(p, info, max(info.frames, 1), where, on_truncated))
        if not blocks:
            return
        wave = np.concatenate(blocks)
        yield resample(np.ascontiguousarray(wave, dtype=np.float32), info.sample_rate, target_sr)
        return
    for block in _read_blocks(p, info, block_frames, where, on_truncated):
        out = resampler.push(block)
        if len(out):
            yield out
    out = resampler.flush()
    if len(out):
        yield out


def load_audio(
    path: str | Path, target_sr: int = 16000, utt: str | None = None, on_truncated: OnTruncated | None = None
) -> np.ndarray:
    """Read `path` and return mono float32 samples [S] at `target_sr`.

    Raises AudioError naming the file (and `utt`, when given) if the file is missing, is
    a dangling symbolic link, is not a regular file, cannot be decoded, is empty, is
    truncated, or holds NaN/Inf samples. Long files are read block by block
    (`stream_audio`), so memory is the output plus one block. `on_truncated`: as for
    `stream_audio`.
    """
    info = audio_info(path, utt, on_truncated)
    expected = -(-info.frames * int(target_sr) // info.sample_rate)  # ceil, as torchaudio
    out = np.empty(expected, dtype=np.float32)
    n = 0
    extra = []
    for block in stream_audio(path, target_sr, utt=utt, info=info, on_truncated=on_truncated):
        take = min(len(block), expected - n)
        out[n : n + take] = block[:take]
        n += take
        if take < len(block):  # never expected; keep every sample rather than drop any
            extra.append(block[take:])
    if extra:
        return np.concatenate([out] + extra)
    return out[:n]


def write_audio(path: str | Path, wave: np.ndarray, sample_rate: int) -> None:
    """Write mono float samples [S] as 16-bit PCM; the format follows the extension."""
    sf.write(str(path), np.clip(wave, -1.0, 1.0), sample_rate, subtype="PCM_16")
