"""Transcript files for scoring: Kaldi `text`, sclite `trn`, CTM and STM; speakers; normalisation.

`read_transcripts` detects the format of each file; `read_ref_hyp` also pairs an STM
reference with CTM hypotheses by time, as sclite does. `write_text`/`write_trn` write
sorted files (the normalisation `asr score --normalize` applies is asr/scoring/normalize.py).
Errors name the file and the 1-based line.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from asr.errors import AsrError
from asr.fileio import atomic_write_lines

_ASCII_SPACE = " \t\n\v\f\r"
_ASCII_SPACES = re.compile(r"[ \t\n\v\f\r]+")
# what str.split() also splits on besides ASCII whitespace
_OTHER_SPACES = re.compile("[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_TRN_ID = re.compile(r"\(([^()]*)\)[ \t\n\v\f\r]*$")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_SCLITE_SPEAKER = re.compile(r"[^-_]*")


class ScoringError(AsrError, ValueError):
    """A transcript file or a ref/hyp pairing is wrong; the message says where."""


def split_words(text: str) -> list[str]:
    """Split on ASCII whitespace only, as sclite and Kaldi do: a no-break space (U+00A0) or
    U+3000 is part of a word (str.split() would break there)."""
    if _OTHER_SPACES.search(text) is None:
        return text.split()  # the same, and faster
    text = text.strip(_ASCII_SPACE)
    return _ASCII_SPACES.split(text) if text else []


def sclite_word(word: str) -> str:
    """A word as sclite's reader keeps it (trn, CTM and STM alike; sctk's new_WORD_parseText
    and new_WORD): everything from the first `;` not escaped by a backslash is dropped (sclite
    reads `word;tag1;tag2`), every backslash is removed (`may\\;be` is `may;be`), and one
    trailing `*` of a word longer than one character is dropped (`maybe*` is `maybe`).
    The result may be empty (`;x`): sclite then scores an empty word, and so do we."""
    if ";" in word:
        i = word.find(";")
        while i > 0 and word[i - 1] == "\\":
            i = word.find(";", i + 1)
        if i >= 0:
            word = word[:i]
    if "\\" in word:
        word = word.replace("\\", "")
    if len(word) > 1 and word[-1] == "*":
        word = word[:-1]
    return word


def sclite_words_many(words: list[list[str]]) -> list[list[str]]:
    """[[sclite_word(w) for w in ws] for ws in words], touching only words that change."""
    out = []
    for ws in words:
        if any(";" in w or "\\" in w or (len(w) > 1 and w[-1] == "*") for w in ws):
            ws = [sclite_word(w) for w in ws]
        out.append(ws)
    return out


def split_words_many(texts: list[str]) -> list[list[str]]:
    """[split_words(t) for t in texts], faster: one scan of all texts for unusual spaces."""
    blob = "\n".join(texts)
    if blob.isascii():  # then only these four are split on by str.split() but not by sclite
        unusual = any(c in blob for c in "\x1c\x1d\x1e\x1f")
    else:
        unusual = _OTHER_SPACES.search(blob) is not None
    if unusual or blob.count("\n") != len(texts) - 1:
        return [split_words(t) for t in texts]
    return [line.split() for line in blob.split("\n")]


def read_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ScoringError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8-sig")  # a leading byte-order mark is not part of the first id
    except UnicodeDecodeError as e:
        lineno = data[: e.start].count(b"\n") + 1
        raise ScoringError(f"{path} line {lineno}: not valid UTF-8 (byte {data[e.start]:#04x})") from None
    return text.split("\n")


def _is_ctm_line(parts: list[str]) -> bool:
    return len(parts) in (5, 6) and bool(_FLOAT.match(parts[2]) and _FLOAT.match(parts[3]))


def _is_stm_line(parts: list[str]) -> bool:
    return len(parts) >= 5 and bool(_FLOAT.match(parts[3]) and _FLOAT.match(parts[4]))


def _detect_format(path: Path, lines: list[str]) -> str:
    """'trn', 'ctm', 'stm' or 'text': by the file's suffix, else by its non-comment lines."""
    if path.suffix in (".trn", ".ctm", ".stm"):
        return path.suffix[1:]
    body = [ln for ln in lines if ln.strip(_ASCII_SPACE) and not ln.startswith(";;")]
    if not body:
        return "text"
    # A Kaldi line may end in '(noise)'; a trn file has '(id)' on every line.
    if sum(_TRN_ID.search(ln) is not None for ln in body) * 2 >= len(body):
        return "trn"
    head = [split_words(ln) for ln in body[:20]]
    if all(_is_ctm_line(parts) for parts in head):
        return "ctm"
    if all(_is_stm_line(parts) for parts in head):
        return "stm"
    return "text"


def read_transcripts(path: str | Path) -> dict[str, str]:
    """Read a Kaldi `text` file (`<utt> words...`), an sclite `trn` file (`words... (utt)`),
    a CTM file (`<utt> <channel> <start> <duration> <word> [<confidence>]`) or an STM file
    (`<file> <channel> <speaker> <start> <end> [<label>] words...`).

    The format comes from the suffix (.trn, .ctm, .stm), else from the content: trn when
    at least half the lines end with `(...)`, CTM when every line has 5 or 6 fields with
    numbers third and fourth, STM with numbers fourth and fifth. Blank lines are skipped,
    and `;;` comments in trn, CTM and STM files; an utterance may have an empty transcript
    (`utt` or `(utt)`). A trn id is kept verbatim. CTM words are joined per first field
    in order of start time; STM segments get `StmSegment.utt` ids. Words are re-joined with
    single spaces. Returns {utt: transcript} in file order.
    Raises ScoringError naming the file and 1-based line for bad ids, duplicates, bad
    UTF-8, malformed CTM or STM lines.
    """
    path = Path(path)
    lines = read_lines(path)
    fmt = _detect_format(path, lines)
    if fmt == "ctm":
        out_ctm: dict[str, list[CtmWord]] = {}
        for w in _read_ctm(path, lines):
            out_ctm.setdefault(w.file, []).append(w)
        return {utt: " ".join(w.word for w in sorted(ws, key=lambda w: w.start)) for utt, ws in out_ctm.items()}
    if fmt == "stm":
        return {seg.utt: seg.text for seg in _read_stm(path, lines) if not seg.ignored}
    out: dict[str, str] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip(_ASCII_SPACE) or (fmt == "trn" and line.startswith(";;")):
            continue
        where = f"{path} line {lineno}"
        if fmt == "trn":
            m = _TRN_ID.search(line)
            if m is None:
                raise ScoringError(
                    f"{where}: no '(utt-id)' at the end of the line, but at least half the lines of the file "
                    "have one (sclite trn format); fix this line"
                )
            utt, words = m.group(1).strip(_ASCII_SPACE), split_words(line[: m.start()])
            if len(split_words(utt)) != 1:
                raise ScoringError(f"{where}: bad utterance id '({m.group(1)})': must be one non-empty token")
        else:
            if line[0] in _ASCII_SPACE:
                raise ScoringError(f"{where}: line starts with whitespace; a Kaldi text line is '<utt-id> words...'")
            utt, *words = split_words(line)
        if utt in out:
            raise ScoringError(f"{where}: duplicate utterance id '{utt}'")
        out[utt] = " ".join(words)
    return out


@dataclass(frozen=True)
class CtmWord:
    """One CTM line: a hypothesis word of `file` (a recording or an utterance), times in seconds."""

    file: str
    channel: str
    start: float
    duration: float
    word: str


def _read_ctm(path: Path, lines: list[str]) -> list[CtmWord]:
    words = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip(_ASCII_SPACE) or line.startswith(";;"):
            continue
        parts = split_words(line)
        if not _is_ctm_line(parts):
            raise ScoringError(
                f"{path} line {lineno}: not a CTM line '<file> <channel> <start> <duration> <word> [<confidence>]': "
                f"'{line.strip()}'"
            )
        words.append(CtmWord(parts[0], parts[1], float(parts[2]), float(parts[3]), parts[4]))
    return words


@dataclass(frozen=True)
class StmSegment:
    """One STM reference segment: who spoke what, where and when (seconds)."""

    file: str
    channel: str
    speaker: str
    start: float
    end: float
    text: str

    @property
    def ignored(self) -> bool:
        """sclite does not score this stretch, and drops the hypothesis words in it."""
        return self.text.lower() == "ignore_time_segment_in_scoring"

    @property
    def utt(self) -> str:
        """A Kaldi-style segment id `<speaker>-<file>-<channel>-<start>-<end>` (centiseconds)."""
        return f"{self.speaker}-{self.file}-{self.channel}-{round(self.start * 100):07d}-{round(self.end * 100):07d}"


def _read_stm(path: Path, lines: list[str]) -> list[StmSegment]:
    segments, seen = [], {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip(_ASCII_SPACE) or line.startswith(";;"):
            continue
        parts = split_words(line)
        if not _is_stm_line(parts):
            raise ScoringError(
                f"{path} line {lineno}: not an STM line '<file> <channel> <speaker> <start> <end> [<label>] words...': "
                f"'{line.strip()}'"
            )
        words = parts[5:]
        if words and words[0].startswith("<") and words[0].endswith(">"):
            words = words[1:]  # the <label> field
        seg = StmSegment(parts[0], parts[1], parts[2], float(parts[3]), float(parts[4]), " ".join(words))
        if seg.end < seg.start:
            raise ScoringError(f"{path} line {lineno}: segment ends ({seg.end}) before it starts ({seg.start})")
        if seg.utt in seen and not seg.ignored:
            raise ScoringError(f"{path} line {lineno}: the same segment as line {seen[seg.utt]} ({seg.utt})")
        seen[seg.utt] = lineno
        segments.append(seg)
    return segments


def stm_ctm_transcripts(
    segments: list[StmSegment], words: list[CtmWord], ignore_extra: bool = False
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Pair CTM words with STM segments by time, as sclite does for `-r x.stm stm -h y.ctm ctm`.

    In each file and channel, a word belongs to the first segment (in order of start time)
    that ends after the word's midpoint, so a word in a gap goes to the next segment and
    one after the last segment to the last; words in an ignore_time_segment_in_scoring
    segment are dropped. Returns (refs, hyps, utt2spk) keyed by `StmSegment.utt`.
    Raises ScoringError for words of a file and channel without segments (sclite: "Hyp
    file has more data than ref file"), unless `ignore_extra`.
    """
    by_channel: dict[tuple[str, str], list[StmSegment]] = {}
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        by_channel.setdefault((seg.file, seg.channel), []).append(seg)
    scored = [seg for seg in segments if not seg.ignored]
    hyp_words: dict[str, list[str]] = {seg.utt: [] for seg in scored}
    ends = {key: list(accumulate((s.end for s in segs), max)) for key, segs in by_channel.items()}
    for w in sorted(words, key=lambda w: w.start):
        segs = by_channel.get((w.file, w.channel))
        if segs is None:
            if ignore_extra:
                continue
            raise ScoringError(
                f"hypothesis words of file '{w.file}' channel '{w.channel}' (first: '{w.word}' at {w.start}s) "
                "have no reference segment; check the files, or pass --ignore-extra"
            )
        seg = segs[min(bisect_right(ends[(w.file, w.channel)], w.start + w.duration / 2), len(segs) - 1)]
        if not seg.ignored:
            hyp_words[seg.utt].append(w.word)
    refs = {seg.utt: seg.text for seg in scored}
    return refs, {u: " ".join(ws) for u, ws in hyp_words.items()}, {seg.utt: seg.speaker for seg in scored}


def read_ref_hyp(
    ref_path: str | Path, hyp_path: str | Path, ignore_extra: bool = False
) -> tuple[dict[str, str], dict[str, str], dict[str, str] | None]:
    """(refs, hyps, speakers) for scoring: each file read by `read_transcripts`, except that
    an STM reference is paired with a CTM hypothesis by time (`stm_ctm_transcripts`) and
    gives the speakers; otherwise speakers is None."""
    ref_path, hyp_path = Path(ref_path), Path(hyp_path)
    ref_lines = read_lines(ref_path)
    if _detect_format(ref_path, ref_lines) != "stm":
        return read_transcripts(ref_path), read_transcripts(hyp_path), None
    hyp_lines = read_lines(hyp_path)
    if _detect_format(hyp_path, hyp_lines) != "ctm":
        raise ScoringError(f"{ref_path} is an STM file: its hypothesis must be a CTM file, which {hyp_path} is not")
    return stm_ctm_transcripts(_read_stm(ref_path, ref_lines), _read_ctm(hyp_path, hyp_lines), ignore_extra)



def write_text(path: str | Path, hyps: dict[str, str]) -> None:
    """Write a Kaldi text file sorted by id, words joined by one space; an empty transcript is the id alone."""
    atomic_write_lines(path, [" ".join([u, *split_words(hyps[u])]) for u in sorted(hyps)])


def write_trn(path: str | Path, hyps: dict[str, str], utt2spk: dict[str, str] | None = None) -> None:
    """Write an sclite trn file, `words (id)` per line sorted by utterance id.

    The id is the utterance id, prefixed with `<spk>-` when `utt2spk` is given and the id
    does not already start with it (ESPnet writes `(spk-utt)`); sclite `-i rm` needs the
    speaker before the first '-' or '_'. Our ids are `<spk>-...`, so nothing changes for them.
    """
    lines = []
    for utt in sorted(hyps):
        spk = speaker_of(utt, utt2spk) if utt2spk is not None else None
        tid = utt if spk is None or utt.startswith(f"{spk}-") else f"{spk}-{utt}"
        lines.append(" ".join([*split_words(hyps[utt]), f"({tid})"]))
    atomic_write_lines(path, lines)


def speaker_of(utt: str, utt2spk: dict[str, str] | None = None) -> str:
    """utt2spk[utt] when given, else sclite's `-i rm` speaker: the id up to its first '-' or '_'."""
    if utt2spk is None:
        return _SCLITE_SPEAKER.match(utt).group()
    if utt not in utt2spk:
        raise ScoringError(f"utterance '{utt}' has no speaker in utt2spk")
    return utt2spk[utt]
