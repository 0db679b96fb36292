"""Book text -> LM text: one normalised sentence per line, without the books that hold an eval transcript.

    python -m data_prep.lm_text BOOKS_DIR OUT_TXT [--exclude FILE ...] [--max-words N]

Each book (BOOKS_DIR/*.txt.xz, *.txt.gz, *.txt; sorted by name, so the output is deterministic):
  1. lines: a heading (letters, none lower case: "CHAPTER I. INTRODUCTORY.", "CONTENTS"), a line that is
     only a Roman numeral ("XIV.", "iv") and a line without letters ("* * *", a page number) are dropped
     and end the paragraph; the other lines are joined into paragraphs (a blank line ends one);
  2. [bracketed] spans go (illustrations, footnotes, transcriber's notes); "Mr." "Mrs." "Dr." become
     "Mister" "Missus" "Doctor", and "St." before a capitalised word "Saint", as LibriSpeech reads them;
  3. sentences: a paragraph splits after . ! or ? (and any closing quotes or brackets) followed by
     white space and a capital letter (after opening quotes); not after a single capital letter (an
     initial: "J. S. Mill") or one of ABBREVIATIONS ("Capt.", "Col.", "Mt."...);
  4. a sentence of one word is dropped, the others go through data_prep.common.normalise_text (lower
     case, letters and inner apostrophes); one it rejects (digits, nothing left) or that is left with
     one word is dropped too. Every drop is counted by reason in the report.
Leak check (--exclude): a book that shares any run of 8 consecutive words (of its kept sentences, read
as one stream) with a line of an excluded transcript, normalised the same way, is left out entirely.

Writes OUT_TXT atomically and OUT_TXT.report (books read and excluded, with titles from a books.tsv in
or beside BOOKS_DIR; sentences kept and dropped by reason; words).

Measured on /work/shared/lmtext/books (605 books, 185.5 M characters) with the 4 dev speakers' transcripts
of train-clean-5 excluded, `nice` on a loaded 2-core machine: 140 s wall, 85 s CPU, 74 MB peak memory;
1.59 M sentences, 30.4 M words written, 4 books left out.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import logging
import lzma
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.fileio import atomic_output
from data_prep.common import RejectedText, normalise_text

log = logging.getLogger(__name__)

LEAK_WORDS = 8  # a shared run of this many words marks a book as holding an excluded transcript
ABBREVIATIONS = ("Capt", "Col", "Gen", "Lieut", "Lt", "Sgt", "Rev", "Prof", "Hon", "Gov", "Esq", "Messrs",
                 "Mme", "Mlle", "Mons", "Mt", "Jr", "Sr", "Ft", "viz", "cf", "vs", "Co", "Bros")
_EXPAND = [(re.compile(r"\bMrs\b\.?"), "Missus"), (re.compile(r"\bMr\b\.?"), "Mister"),
           (re.compile(r"\bDr\b\.?(?=\s+[A-Z])"), "Doctor"), (re.compile(r"\bSt\b\.?(?=\s+[A-Z])"), "Saint")]
_BRACKETS = re.compile(r"\[[^\]]*\]")
_ROMAN = r"m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_ROMAN_LINE = re.compile(rf"(?:{_ROMAN}|{_ROMAN.upper()})\.?")  # XIV. / xiv (the regex also matches "")
_LETTER = re.compile(r"[^\W\d_]")
_BOUNDARY = re.compile(r"([.!?]" + "".join(rf"(?<!\b{a}\.)" for a in ABBREVIATIONS) + r"(?<!\b[A-Z]\.)"
                       r"[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[_]*[A-Z])")
SUFFIXES = (".txt.xz", ".txt.gz", ".txt")


@dataclass
class Counts:
    """What a run read, kept and dropped."""

    books: int = 0
    sentences: int = 0
    words: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> sentences (or lines, for line reasons)
    excluded: list[str] = field(default_factory=list)  # one report line per excluded book


def read_book(path: Path) -> str:
    """The text of a book file (.xz, .gz or plain UTF-8); errors name the file."""
    try:
        if path.name.endswith(".xz"):
            with lzma.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not valid UTF-8 ({e})") from None
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise ValueError(f"{path}: cannot read ({e})") from None


def line_drop_reason(line: str) -> str | None:
    """Why a (stripped, non-empty) line is no text: a Roman numeral, no letter, or a heading."""
    if _ROMAN_LINE.fullmatch(line):
        return "roman numeral line"
    if not _LETTER.search(line):
        return "line without letters"
    if line == line.upper() and line != line.lower():  # cased letters, none of them lower case
        return "heading line"
    return None


def paragraphs(text: str, dropped: Counter) -> Iterator[str]:
    """The paragraphs of a book, each a line; a blank or dropped line ends one (counted in `dropped`)."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        reason = line_drop_reason(line) if line else None
        if line and reason is None:
            lines.append(line)
            continue
        if reason:
            dropped[reason] += 1
        if lines:
            yield " ".join(lines)
            lines = []
    if lines:
        yield " ".join(lines)


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph: brackets removed, Mr. Mrs. Dr. St. spelt out, split at _BOUNDARY."""
    p = _BRACKETS.sub(" ", paragraph)
    for pattern, word in _EXPAND:
        p = pattern.sub(word, p)
    return _BOUNDARY.sub("\\1\n", p).split("\n")


def book_sentences(text: str, dropped: Counter) -> list[str]:
    """The normalised sentences of a book, in order; what is dropped is counted by reason."""
    out = []
    for para in paragraphs(text, dropped):
        for s in split_sentences(para):
            n_words = len(s.split())
            if n_words < 2:
                if n_words:
                    dropped["one word"] += 1
                continue
            try:
                norm = normalise_text(s)
            except RejectedText as e:
                dropped["digits" if str(e).startswith("contains digits") else "no letters"] += 1
                continue
            if " " not in norm:
                dropped["one word"] += 1
                continue
            out.append(norm)
    return out


class LeakIndex:
    """The 8-word runs of excluded transcripts; `hits(words)` finds them in a book's word stream.

    Words become ids of the transcripts' vocabulary (-1 for others), each window of 8 ids a 64-bit
    polynomial hash (NumPy), and only windows whose hash is a transcript's are compared as words.
    """

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self.ids: dict[str, int] = {}
        self.runs: dict[tuple[str, ...], str] = {}  # 8 words -> the first utterance (file: id) holding them
        self.lines = self.rejected = 0
        for where, text in lines:
            self.lines += 1
            try:
                words = normalise_text(text).split()
            except RejectedText:
                self.rejected += 1
                continue
            for w in words:
                self.ids.setdefault(w, len(self.ids))
            for i in range(len(words) - LEAK_WORDS + 1):
                self.runs.setdefault(tuple(words[i:i + LEAK_WORDS]), where)
        self._mult = np.random.default_rng(0).integers(1, 2**62, LEAK_WORDS, dtype=np.uint64) | np.uint64(1)
        runs = np.array([[self.ids[w] for w in run] for run in self.runs], dtype=np.uint64).reshape(-1, LEAK_WORDS)
        self.hashes = np.unique(self._hash(runs))

    def _hash(self, windows: np.ndarray) -> np.ndarray:
        """(n, 8) uint64 word ids -> (n,) uint64 hashes (wrapping arithmetic)."""
        return (windows * self._mult).sum(axis=1, dtype=np.uint64)

    def hits(self, words: list[str]) -> list[tuple[int, str]]:
        """(position, utterance) of each 8-word run of `words` that an excluded transcript holds."""
        if len(words) < LEAK_WORDS or not self.runs:
            return []
        get = self.ids.get
        ids = np.fromiter((get(w, -1) for w in words), dtype=np.int64, count=len(words))
        windows = np.lib.stride_tricks.sliding_window_view(ids, LEAK_WORDS)
        known = (windows >= 0).all(axis=1)
        cand = np.flatnonzero(known)
        cand = cand[np.isin(self._hash(windows[cand].astype(np.uint64)), self.hashes)]
        runs = ((int(i), self.runs.get(tuple(words[i:i + LEAK_WORDS]))) for i in cand)
        return [(i, utt) for i, utt in runs if utt is not None]


def transcript_lines(paths: Iterable[Path]) -> Iterator[tuple[str, str]]:
    """("file: utt-id", words) of each `<utt-id> words...` line of Kaldi text / LibriSpeech *.trans.txt
    files; a directory stands for every *.trans.txt and `text` file below it."""
    for path in paths:
        files = sorted([*path.rglob("*.trans.txt"), *path.rglob("text")]) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise ValueError(f"{path}: no *.trans.txt or text file below it")
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ValueError(f"{f}: cannot read the transcript file ({e})") from None
            for line in text.splitlines():
                utt, _, words = line.strip().partition(" ")
                if words.strip():
                    yield f"{f.name}: {utt}", words


def book_titles(books_dir: Path) -> dict[str, str]:
    """{file name without .xz/.gz: title} from books.tsv in or beside `books_dir` (empty without one)."""
    for tsv in (books_dir / "books.tsv", books_dir.parent / "books.tsv"):
        if tsv.is_file():
            with open(tsv, encoding="utf-8", newline="") as f:
                return {r["file"]: r.get("title", "") for r in csv.DictReader(f, delimiter="\t") if r.get("file")}
    return {}


def book_files(books_dir: Path) -> list[Path]:
    """The books of `books_dir`, sorted by name."""
    files = sorted(p for p in books_dir.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
    if not files:
        raise ValueError(f"{books_dir}: no {' / '.join('*' + s for s in SUFFIXES)} files")
    return files


def make_lm_text(books_dir: Path, out: Path, exclude: list[Path] = (), max_words: int = 0) -> Counts:
    """Write the sentences of every book of `books_dir` not excluded to `out` (atomically); returns the counts."""
    books, titles = book_files(books_dir), book_titles(books_dir)
    index = LeakIndex(transcript_lines(exclude)) if exclude else None
    if index is not None:
        log.info("leak check: %d transcript lines (%d rejected), %d distinct %d-word runs",
                 index.lines, index.rejected, len(index.runs), LEAK_WORDS)
    counts = Counts()
    with atomic_output(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for path in tqdm(books, desc="books", unit="book"):
            sentences = book_sentences(read_book(path), counts.dropped)
            counts.books += 1
            hits = index.hits([w for s in sentences for w in s.split()]) if index else []
            if hits:
                title = titles.get(path.name.removesuffix(".xz").removesuffix(".gz"), "")
                line = f"{path.name}\t{title}\t{len(hits)} shared {LEAK_WORDS}-word runs, first with {hits[0][1]}"
                log.warning("left out (leak): %s", line)
                counts.excluded.append(line)
                continue
            for s in sentences:
                f.write(s + "\n")
                counts.sentences += 1
                counts.words += s.count(" ") + 1
                if max_words and counts.words >= max_words:
                    break
            if max_words and counts.words >= max_words:
                break
    return counts


def report_text(books_dir: Path, out: Path, exclude: list[Path], counts: Counts, seconds: float) -> str:
    """The OUT_TXT.report file's text."""
    lines = [f"# data_prep.lm_text {books_dir} -> {out} ({seconds:.0f} s)",
             f"excluded transcripts: {' '.join(map(str, exclude)) or '-'}",
             f"books: {counts.books} read, {len(counts.excluded)} excluded, {counts.books - len(counts.excluded)} used",
             f"sentences: {counts.sentences} kept",
             f"words: {counts.words}"]
    lines += [f"dropped: {n} {reason}" for reason, n in sorted(counts.dropped.items())]
    lines += [f"excluded book: {line}" for line in counts.excluded]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("books_dir", type=Path, help="folder of books: *.txt.xz, *.txt.gz or *.txt (UTF-8)")
    p.add_argument("out", type=Path, help="text file to write, one normalised sentence per line")
    p.add_argument("--exclude", type=Path, action="extend", nargs="+", default=[], metavar="FILE",
                   help="transcripts whose books must stay out: Kaldi text or LibriSpeech *.trans.txt files "
                        "(`<utt-id> words...`), or folders holding them; may be given several times")
    p.add_argument("--max-words", type=int, default=0, metavar="N",
                   help="stop once N words are written (0: all books)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()
    try:
        counts = make_lm_text(args.books_dir, args.out, args.exclude, args.max_words)
    except ValueError as e:
        sys.exit(f"lm_text: {e}")
    report = report_text(args.books_dir, args.out, args.exclude, counts, time.perf_counter() - start)
    with atomic_output(Path(f"{args.out}.report")) as tmp:
        tmp.write_text(report, encoding="utf-8")
    print(report, end="")


if __name__ == "__main__":
    main()
