"""Writing transcripts: plain text, JSON lines, Kaldi `text`, CTM, SRT and WebVTT; STM references.

One transcript in each format (`format_transcript`), times in seconds:

    text   a.wav<TAB>hello world                          (what `asr transcribe` prints)
    jsonl  {"id": "a", "source": "a.wav", "text": "hello world", ..., "words": [...]}
    kaldi  a hello world                                  (`a` alone for an empty transcript)
    ctm    a 1 0.210 0.340 hello 0.970                    (one line per word)
    srt    1                                              (numbered cues, blank line between)
           00:00:00,210 --> 00:00:01,020
           hello world
    vtt    00:00:00.210 --> 00:00:01.020                  (after the file's `WEBVTT` header)
           hello world

text, jsonl, kaldi and ctm are line formats: many transcripts may share one stream
(`write_transcripts`). srt and vtt hold one transcript per file (`write_transcript_file`);
vtt starts with `format_header("vtt")`. For sclite (`sclite -r ref.stm stm -h hyp.ctm ctm`)
write the CTM in the same order of ids as the STM from `stm_lines` (sorted): sclite walks
both files in step and fails on a different order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from asr.fileio import atomic_write_text
from asr.scoring.files import split_words
from asr.transcribe.transcript import Transcript, Word

FORMATS = ("text", "jsonl", "kaldi", "ctm", "srt", "vtt")
EXTENSIONS = {"text": ".txt", "jsonl": ".jsonl", "kaldi": ".kaldi.txt", "ctm": ".ctm", "srt": ".srt", "vtt": ".vtt"}
STREAM_FORMATS = ("text", "jsonl", "kaldi", "ctm")  # any number of transcripts in one stream
_TIMED = ("jsonl", "ctm", "srt", "vtt")
_VTT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format '{fmt}': choose one of {', '.join(FORMATS)}")


def needs_timestamps(fmt: str) -> bool:
    """Whether `fmt` uses word times (jsonl, ctm, srt, vtt), so transcription must produce them."""
    _check_format(fmt)
    return fmt in _TIMED


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def timestamp(seconds: float, decimal: str = ",") -> str:
    """`HH:MM:SS,mmm` (SRT; `decimal="."` for WebVTT), rounded to the millisecond; hours may pass 99."""
    h, rest = divmod(max(_ms(seconds), 0), 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from `start` to `end` (seconds), one string per screen line."""

    start: float
    end: float
    lines: tuple[str, ...]


def wrap_words(words: list[str], max_chars: int) -> list[str]:
    """Greedy line wrapping: as many words per line as fit in `max_chars` characters
    (with single spaces); a word longer than that gets a line of its own."""
    lines: list[str] = []
    for w in words:
        if lines and len(lines[-1]) + 1 + len(w) <= max_chars:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return lines


def subtitle_cues(
    words: list[Word], max_seconds: float = 6.0, max_chars: int = 42, max_lines: int = 2, pause: float = 0.6
) -> list[Cue]:
    """Group timed words (in order of start time) into cues.

    A new cue starts at a word that follows a pause of at least `pause` seconds, or that
    would make the cue last longer than `max_seconds` or need more than `max_lines` lines
    of at most `max_chars` characters. A cue runs from its first word's start to its last
    word's end. Times are compared in whole milliseconds.
    """
    cues: list[Cue] = []
    cur: list[Word] = []

    def close() -> None:
        cues.append(Cue(cur[0].start, cur[-1].end, tuple(wrap_words([w.word for w in cur], max_chars))))

    for w in sorted(words, key=lambda w: w.start):
        if cur and (
            _ms(w.start) - _ms(cur[-1].end) >= _ms(pause)
            or _ms(w.end) - _ms(cur[0].start) > _ms(max_seconds)
            or len(wrap_words([*(x.word for x in cur), w.word], max_chars)) > max_lines
        ):
            close()
            cur = []
        cur.append(w)
    if cur:
        close()
    return cues


def transcript_cues(t: Transcript, **options) -> list[Cue]:
    """The cues of a transcript: from its words (`subtitle_cues(t.words, **options)`); without
    words, one cue of the whole text from 0 to `t.duration`; none for an empty transcript."""
    if t.words:
        return subtitle_cues(t.words, **options)
    words = split_words(t.text)
    if not words:
        return []
    return [Cue(0.0, t.duration, tuple(wrap_words(words, options.get("max_chars", 42))))]


def format_srt(cues: list[Cue]) -> str:
    """SubRip: `N`, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, the lines; a blank line between cues."""
    return "\n".join(
        f"{i}\n{timestamp(c.start)} --> {timestamp(c.end)}\n" + "".join(line + "\n" for line in c.lines)
        for i, c in enumerate(cues, 1)
    )


def format_vtt_cues(cues: list[Cue]) -> str:
    """WebVTT cues (without the header): `HH:MM:SS.mmm --> HH:MM:SS.mmm`, the lines with
    & < > escaped; a blank line between cues."""
    return "\n".join(
        f"{timestamp(c.start, '.')} --> {timestamp(c.end, '.')}\n"
        + "".join(line.translate(_VTT_ESCAPES) + "\n" for line in c.lines)
        for c in cues
    )


def _one_token(value: str, what: str, t: Transcript) -> str:
    if split_words(value) != [value]:
        raise ValueError(f"transcript '{t.id}' ({t.source}): {what} '{value}' must be one token without whitespace")
    return value


def format_ctm(t: Transcript) -> str:
    """CTM: `<id> 1 <start> <duration> <word> <confidence>` per word in order of start time,
    3 decimals. Raises ValueError for a transcript with text but no word times."""
    if not t.words and split_words(t.text):
        raise ValueError(f"transcript '{t.id}' ({t.source}): CTM needs word timestamps, and it has none")
    utt = _one_token(t.id, "id", t)
    lines = []
    for w in sorted(t.words, key=lambda w: w.start):
        start, end = max(_ms(w.start), 0), _ms(w.end)
        conf = min(max(w.confidence, 0.0), 1.0)
        word = _one_token(w.word, "word", t)
        lines.append(f"{utt} 1 {start / 1000:.3f} {max(end - start, 0) / 1000:.3f} {word} {conf:.3f}\n")
    return "".join(lines)


def _jsonl(t: Transcript) -> str:
    d = t.to_dict()
    d["duration"] = round(d["duration"], 3)
    for w in d["words"]:
        w["start"], w["end"] = round(w["start"], 3), round(w["end"], 3)
    return json.dumps(d, ensure_ascii=False) + "\n"


def format_transcript(t: Transcript, fmt: str) -> str:
    """One transcript in `fmt` (see the module docstring), ending in a newline unless empty.

    Words are re-joined with single spaces (a newline in the text would break a line format).
    For vtt this is the cues only: a file also needs `format_header("vtt")` (`format_file`).
    """
    _check_format(fmt)
    if fmt == "text":
        return f"{t.source}\t{' '.join(split_words(t.text))}\n"
    if fmt == "jsonl":
        return _jsonl(t)
    if fmt == "kaldi":
        return " ".join([_one_token(t.id, "id", t), *split_words(t.text)]) + "\n"
    if fmt == "ctm":
        return format_ctm(t)
    if fmt == "srt":
        return format_srt(transcript_cues(t))
    return format_vtt_cues(transcript_cues(t))


def format_header(fmt: str) -> str:
    """What a file or stream in `fmt` starts with, once: `WEBVTT` and a blank line for vtt,
    nothing for the others. No format needs a footer."""
    _check_format(fmt)
    return "WEBVTT\n\n" if fmt == "vtt" else ""


def format_file(t: Transcript, fmt: str) -> str:
    """A whole file holding one transcript: the header and `format_transcript(t, fmt)`.
    An empty transcript gives an empty SRT file and a VTT file with only the header."""
    return format_header(fmt) + format_transcript(t, fmt)


def write_transcript_file(path: str | Path, t: Transcript, fmt: str) -> None:
    """Write `format_file(t, fmt)` to `path` atomically: a temporary file in the same
    folder, renamed over `path`, so a reader never sees half a file."""
    atomic_write_text(path, format_file(t, fmt))


def write_transcripts(stream: TextIO, transcripts: Iterable[Transcript], fmt: str) -> int:
    """Write transcripts to `stream` as they come (flushed after each): the header once, then
    each transcript. Returns how many were written. For srt and vtt, which hold one
    transcript, a second one raises ValueError (write one file each with
    `write_transcript_file`). The order is kept: sort by id first for a Kaldi `text`
    file, or for a CTM to score against `stm_lines` with sclite."""
    stream.write(format_header(fmt))
    n = 0
    for t in transcripts:
        if n and fmt not in STREAM_FORMATS:
            raise ValueError(f"{fmt} holds one transcript per file; write each with write_transcript_file")
        stream.write(format_transcript(t, fmt))
        stream.flush()
        n += 1
    return n


def stm_lines(refs: dict[str, tuple[str, float]], speaker: str | None = None) -> list[str]:
    """STM reference lines, sorted by id, to score a CTM from `format_transcript(.., "ctm")`
    with sclite (`-r ref.stm stm -h hyp.ctm ctm`) or `asr score ref.stm hyp.ctm`.

    `refs` maps utterance id -> (reference text, duration in seconds). Each line is one
    segment spanning the whole utterance: `<id> 1 <speaker> 0.000 <duration> <text>`;
    `speaker` defaults to the id. A text whose first word looks like `<...>` (`<unk>`)
    gets the label `<o>` before it, as sclite would otherwise take that word for the label.
    Raises ValueError for an id or speaker that is not one token.
    """
    lines = []
    for utt in sorted(refs):
        text, duration = refs[utt]
        spk = utt if speaker is None else speaker
        for what, value in (("id", utt), ("speaker", spk)):
            if split_words(value) != [value]:
                raise ValueError(f"STM {what} '{value}' must be one token without whitespace")
        words = split_words(text)
        if words and words[0].startswith("<") and words[0].endswith(">"):
            words.insert(0, "<o>")
        lines.append(" ".join([utt, "1", spk, "0.000", f"{max(duration, 0.0):.3f}", *words]))
    return lines
