"""Is an audio file cut short? Checks of the container headers that libsndfile does not make.

libsndfile reads a WAV or AIFF file whose header declares more samples than the file holds as
a shorter file, without an error, and an Ogg file cut between pages as a shorter valid stream.
These checks read only the headers (and the last Ogg page): `container_truncation(path)` says
why the file is truncated, or returns None. FLAC and MP3 truncation shows up while decoding
(asr.data.audio compares the samples decoded with the count the header declares).
"""

from __future__ import annotations

import struct
from pathlib import Path


def _short_by(kind: str, declared: int, present: int) -> str:
    return (
        f"the {kind} header declares {declared} bytes of samples but the file holds only "
        f"{present} ({100.0 * present / declared:.1f}%)"
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


def container_truncation(p: Path) -> str | None:
    """Why the container says the file is cut short (WAV, AIFF, Ogg), or None."""
    size = p.stat().st_size
    with open(p, "rb") as f:
        for check in (_riff_truncation, _aiff_truncation, _ogg_truncation):
            f.seek(0)
            why = check(f, size)
            if why:
                return why
    return None
