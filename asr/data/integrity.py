"""Is an audio file cut short? Checks of the container headers that libsndfile does not make.

libsndfile reads a WAV or AIFF file whose header declares more samples than the file holds as
a shorter file, without an error, and an Ogg file cut between pages as a shorter valid stream.
These checks read only the headers (and the last Ogg page): `container_truncation(path)` says
why the file is truncated, or returns None. FLAC truncation shows up while decoding
(asr.data.audio compares the samples decoded with the count the header declares).

An MP3 file has no header with its exact length unless an encoder wrote a Xing/Info or VBRI
frame (LAME does; ffmpeg does not when told `-write_xing 0`, as in Common Voice clips): the
length libsndfile reports is then an estimate from the file size and the first frame's bit
rate, and a shorter decode is not evidence of truncation. `mp3_layout(path)` walks the MPEG
frames instead: a file that ends inside a frame, or holds fewer frames than its Xing/VBRI
header declares, is truncated; the frames present give the length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path


class Truncation(str):
    """Why a file is truncated (the message), with `present`: the fraction of the declared
    samples that the file holds, when the header says how many there should be (else None)."""

    present: float | None = None


def _why(message: str, present: float | None = None) -> Truncation:
    why = Truncation(message)
    why.present = present
    return why


def _short_by(kind: str, declared: int, present: int) -> str:
    return _why(
        f"the {kind} header declares {declared} bytes of samples but the file holds only "
        f"{present} ({100.0 * present / declared:.1f}%)",
        present / declared,
    )


def _riff_truncation(f, size: int) -> str | None:
    """For a RIFF/RIFX/RF64/BW64 WAVE file: why it is truncated, or None.

    libsndfile silently shortens a WAV whose 'data' chunk runs past the end of the file
    (it computes the length from the bytes present), so compare the declared size here.
    """
    head = f.read(12)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX", b"RF64", b"BW64"):
        return None
    endian = ">" if head[:4] == b"RIFX" else "<"
    ds64_data_size = None
    offset = 12
    while offset + 8 <= size:
        f.seek(offset)
        chunk_id, chunk_size = struct.unpack(endian + "4sI", f.read(8))
        if chunk_id == b"ds64" and chunk_size >= 16:
            sizes = f.read(16)
            if len(sizes) == 16:
                _riff_size, ds64_data_size = struct.unpack("<QQ", sizes)
        elif chunk_id == b"data":
            declared = chunk_size
            if chunk_size == 0xFFFFFFFF:
                if ds64_data_size is None:  # streamed WAV of unknown length: nothing to compare
                    return None
                declared = ds64_data_size
            present = size - (offset + 8)
            if declared > present:
                return _short_by("WAV", declared, present)
            return None
        offset += 8 + chunk_size + (chunk_size & 1)
    return None


def _aiff_truncation(f, size: int) -> str | None:
    """For an AIFF/AIFC file: why its 'SSND' chunk is truncated, or None."""
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
        return None
    offset = 12
    while offset + 8 <= size:
        f.seek(offset)
        chunk_id, chunk_size = struct.unpack(">4sI", f.read(8))
        if chunk_id == b"SSND":
            present = size - (offset + 8)
            if chunk_size > present:
                return _short_by("AIFF", chunk_size, present)
            return None
        offset += 8 + chunk_size + (chunk_size & 1)
    return None


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if r & 0x80000000 else (r << 1) & 0xFFFFFFFF
        table.append(r)
    return table


_OGG_CRC_TABLE: list[int] | None = None


def _ogg_crc(page: bytes) -> int:
    global _OGG_CRC_TABLE
    if _OGG_CRC_TABLE is None:
        _OGG_CRC_TABLE = _ogg_crc_table()
    table, crc = _OGG_CRC_TABLE, 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) & 0xFF) ^ byte]
    return crc


_OGG_MAX_PAGE = 27 + 255 + 255 * 255


def _ogg_truncation(f, size: int) -> str | None:
    """For an Ogg file (Vorbis, Opus, FLAC...): why it is truncated, or None.

    libsndfile takes an Ogg file's length from the last page it finds, so a cut file
    reads as a shorter, valid one. The last page of a complete stream carries the
    end-of-stream flag; a cut file ends inside a page, or after a page without it.
    """
    if f.read(4) != b"OggS":
        return None
    start = max(0, size - 2 * _OGG_MAX_PAGE)
    f.seek(start)
    tail = f.read()
    best = None  # (end, eos) of the valid page that ends last
    p = tail.rfind(b"OggS")
    while p >= 0:
        if p + 27 <= len(tail) and tail[p + 4] == 0:
            nseg = tail[p + 26]
            body = sum(tail[p + 27 : p + 27 + nseg]) if p + 27 + nseg <= len(tail) else None
            if body is not None and p + 27 + nseg + body <= len(tail):
                end = p + 27 + nseg + body
                if best is None or end > best[0]:
                    page = bytearray(tail[p:end])
                    crc = struct.unpack("<I", bytes(page[22:26]))[0]
                    page[22:26] = b"\0\0\0\0"
                    if _ogg_crc(bytes(page)) == crc:
                        best = (end, bool(tail[p + 5] & 0x04))
        if best is not None and p < best[0] - _OGG_MAX_PAGE:
            break  # no earlier page can end later than the best one
        p = tail.rfind(b"OggS", 0, p)
    if best is None:
        return "no complete Ogg page at the end of the file"
    if not best[1]:
        if start + best[0] < size:
            return "the file ends inside an Ogg page"
        return "the last Ogg page lacks the end-of-stream flag"
    return None


# MPEG audio frame headers: bit rates (kbit/s) by (MPEG-1?, layer) and sample rates by version
_MP3_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame(data, pos: int) -> tuple[int, int, int] | None:
    """(frame bytes, samples per frame, sample rate) of a valid MPEG audio frame header at pos, else None."""
    if pos + 4 > len(data) or data[pos] != 0xFF or (data[pos + 1] & 0xE0) != 0xE0:
        return None
    version, layer_bits = (data[pos + 1] >> 3) & 3, (data[pos + 1] >> 1) & 3
    bitrate_index, rate_index, padding = data[pos + 2] >> 4, (data[pos + 2] >> 2) & 3, (data[pos + 2] >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # reserved values, or free format (no length in the header)
    layer, mpeg1 = 4 - layer_bits, version == 3
    bitrate = _MP3_BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384, rate
    if layer == 3 and not mpeg1:
        return 72 * bitrate // rate + padding, 576, rate
    return 144 * bitrate // rate + padding, 1152, rate


@dataclass(frozen=True)
class Mp3Layout:
    """What walking the MPEG frames of an MP3 file found."""

    frames: int  # audio frames present (not counting a Xing/Info/VBRI header frame)
    samples_per_frame: int
    sample_rate: int
    declared_frames: int | None  # from a Xing/Info or VBRI header, when there is one
    truncated: str | None  # why the file is cut short, or None

    @property
    def samples(self) -> int:
        return self.frames * self.samples_per_frame


def _audio_end(data) -> int:
    """Where the MPEG frames end: before a trailing ID3v1 tag and APEv2 tag, if any."""
    end = len(data)
    if end >= 128 and data[end - 128 : end - 125] == b"TAG":
        end -= 128
    if end >= 32 and data[end - 32 : end - 24] == b"APETAGEX":
        ape_size = struct.unpack("<I", data[end - 20 : end - 16])[0]
        has_header = data[end - 9] & 0x80  # flags byte 3, bit 31: the tag has a header too
        end -= ape_size + (32 if has_header else 0)
    return max(end, 0)


def mp3_layout(p: Path) -> Mp3Layout | None:
    """Walk the MPEG audio frames of an MP3 file; None when it is not one (or not walkable:
    free-format bit rate, or no two consecutive frame headers after the ID3v2 tag)."""
    with open(p, "rb") as f:
        data = f.read()
    pos = 0
    while data[pos : pos + 3] == b"ID3" and pos + 10 <= len(data):  # ID3v2 tags (syncsafe sizes)
        b, footer = data[pos + 6 : pos + 10], 10 if data[pos + 5] & 0x10 else 0
        pos += 10 + footer + ((b[0] & 0x7F) << 21 | (b[1] & 0x7F) << 14 | (b[2] & 0x7F) << 7 | (b[3] & 0x7F))
    first = None
    limit = min(len(data), pos + 65536)
    while pos < limit:  # the first frame: a valid header followed by another one (or the end)
        pos = data.find(b"\xff", pos, limit)
        if pos < 0:
            break
        head = _mp3_frame(data, pos)
        if head is not None:
            after = pos + head[0]
            if after >= len(data) or _mp3_frame(data, after) is not None:
                first = head
                break
        pos += 1
    if first is None:
        return None
    _, spf, rate = first
    declared = None
    frame0 = data[pos : pos + first[0]]
    x = max(frame0.find(b"Xing"), frame0.find(b"Info"))
    if x >= 0 and x + 12 <= len(frame0):
        flags = struct.unpack(">I", frame0[x + 4 : x + 8])[0]
        if flags & 1:
            declared = struct.unpack(">I", frame0[x + 8 : x + 12])[0]
        pos += first[0]  # the header frame holds no audio
    elif frame0[36:40] == b"VBRI" and len(frame0) >= 54:
        declared = struct.unpack(">I", frame0[50:54])[0]
        pos += first[0]
    end = _audio_end(data)
    frames, truncated = 0, None
    while pos < end:
        head = _mp3_frame(data, pos)
        if head is None:
            if end - pos < 4 and data[pos] == 0xFF:
                truncated = f"the file ends inside an MPEG frame header, after {frames} frames"
            break  # junk after the frames (or a tag we do not know): not ours to judge
        if pos + head[0] > end:
            truncated = (
                f"the file ends inside MPEG frame {frames + 1} ({end - pos} of its {head[0]} bytes present)"
            )
            break
        frames += 1
        pos += head[0]
    if declared is not None and frames < declared:
        if truncated is None:
            truncated = f"the MP3 header declares {declared} frames but the file holds only {frames}"
        truncated = _why(truncated, frames / declared)
    return Mp3Layout(frames, spf, rate, declared, truncated)


def container_check(p: Path) -> tuple[Truncation | None, Mp3Layout | None]:
    """(why the container says the file is cut short (WAV, AIFF, Ogg, MP3) or None,
    the MP3 frame walk when the file looks like an MP3 or None)."""
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(3)
        for check in (_riff_truncation, _aiff_truncation, _ogg_truncation):
            f.seek(0)
            why = check(f, size)
            if why:
                return (why if isinstance(why, Truncation) else _why(why)), None
    if head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        layout = mp3_layout(p)
        if layout is not None:
            why = layout.truncated
            return (why if why is None or isinstance(why, Truncation) else _why(why)), layout
    return None, None


def container_truncation(p: Path) -> str | None:
    """Why the container says the file is cut short (WAV, AIFF, Ogg, MP3), or None."""
    return container_check(p)[0]
