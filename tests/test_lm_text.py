"""Tests for data_prep/lm_text.py: book text -> normalised LM sentences, and the leak check that leaves
out a book sharing 8 consecutive words with an excluded transcript (but not one sharing 7)."""

from __future__ import annotations

import gzip
import lzma
from collections import Counter
from pathlib import Path

import pytest

from data_prep.lm_text import LeakIndex, book_sentences, main, split_sentences

BOOK_A = """THE TALE OF TWO DOGS

by A. N. Author


CONTENTS

CHAPTER I. THE BEGINNING

I.

It was the best of times, it was the
worst of times. Mr. Lorry and Mrs. Cruncher met
Dr. Manette at St. Paul's, and Capt. Hook
was there.  “Come here,” said he. “I
will not!” She had 5 pounds.   Yes.

* * *

xiv.

The dog barked at the well-
known cat [Illustration: a cat] and J. S. Mill laughed! Then all was quiet.
"""

# shares "the quick brown fox jumps over the lazy" (8 words, across a sentence end) with trans.txt
BOOK_B = """A plain story.

We saw the quick brown fox. Jumps over the lazy dog were common there.
"""

# shares only 7 words, "the quick brown fox jumps over the", with trans.txt
BOOK_C = """Another story.

Look at the quick brown fox jumps over the moon and the stars above.
"""

TRANS = "103-1240-0000 THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG\n103-1240-0001 NUMBER 7 IS A DIGIT\n"
KALDI_TEXT = "utt-a nothing here that any book says at all in this place\n"


def write_books(tmp_path: Path) -> Path:
    books = tmp_path / "books"
    books.mkdir()
    (books / "a_book.txt.xz").write_bytes(lzma.compress(BOOK_A.encode()))
    (books / "b_book.txt.gz").write_bytes(gzip.compress(BOOK_B.encode()))
    (books / "c_book.txt").write_text(BOOK_C)
    (books / "notes.md").write_text("not a book")
    (tmp_path / "books.tsv").write_text("file\ttitle\tauthor\nb_book.txt\tThe Fox Book\tSomeone\n")
    (tmp_path / "103-1240.trans.txt").write_text(TRANS)
    (tmp_path / "text").write_text(KALDI_TEXT)
    return books


def test_book_sentences_join_lines_drop_headings_and_digits():
    dropped: Counter = Counter()
    sentences = book_sentences(BOOK_A, dropped)
    assert sentences == [
        "by a n author",
        "it was the best of times it was the worst of times",
        "mister lorry and missus cruncher met doctor manette at saint paul's and capt hook was there",
        "come here said he",
        "i will not",
        "the dog barked at the well known cat and j s mill laughed",
        "then all was quiet",
    ]
    assert dropped == Counter({"heading line": 3, "roman numeral line": 2, "line without letters": 1,
                               "digits": 1, "one word": 1})


def test_sentences_split_after_quotes_but_not_after_initials_or_abbreviations():
    assert split_sentences("He went. “Why?” she asked. Col. Brandon and J. Smith came! (Then) all left") == [
        "He went.", "“Why?” she asked.", "Col. Brandon and J. Smith came!", "(Then) all left"]
    assert split_sentences("It is 3 p.m. now. and on") == ["It is 3 p.m. now. and on"]  # no capital: no split


def test_leak_index_finds_8_word_runs_only():
    index = LeakIndex([("t: u1", "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG")])
    assert index.hits("we saw the quick brown fox jumps over the lazy dog".split()) == [(2, "t: u1"), (3, "t: u1")]
    assert index.hits("we saw the quick brown fox jumps over the moon".split()) == []
    assert index.hits("quick brown".split()) == []


def test_cli_writes_text_and_report_and_leaves_out_the_leaking_book(tmp_path, capsys):
    books = write_books(tmp_path)
    out = tmp_path / "out" / "lm.txt"
    out.parent.mkdir()
    main([str(books), str(out), "--exclude", str(tmp_path / "103-1240.trans.txt"), "--exclude", str(tmp_path / "text")])
    lines = out.read_text().splitlines()
    assert lines[0] == "by a n author" and "then all was quiet" in lines
    assert "look at the quick brown fox jumps over the moon and the stars above" in lines  # 7 words: kept
    assert not any("lazy" in line for line in lines)  # book b left out entirely
    assert "a plain story" not in lines
    report = Path(f"{out}.report").read_text()
    assert "books: 3 read, 1 excluded, 2 used" in report
    assert ("excluded book: b_book.txt.gz\tThe Fox Book\t2 shared 8-word runs, "
            "first with 103-1240.trans.txt: 103-1240-0000") in report
    assert f"sentences: {len(lines)} kept" in report and f"words: {sum(len(s.split()) for s in lines)}" in report
    assert "dropped: 1 digits" in report and "dropped: 3 heading line" in report
    assert "books: 3 read" in capsys.readouterr().out


def test_cli_without_exclusions_keeps_every_book_and_stops_at_max_words(tmp_path):
    books = write_books(tmp_path)
    main([str(books), str(tmp_path / "all.txt")])
    assert "we saw the quick brown fox" in (tmp_path / "all.txt").read_text().splitlines()
    main([str(books), str(tmp_path / "few.txt"), "--max-words", "20"])
    few = (tmp_path / "few.txt").read_text().splitlines()
    assert sum(len(s.split()) for s in few) >= 20 and len(few) == 3  # 4 + 12 + 16 words
    assert "words: 32" in (tmp_path / "few.txt.report").read_text()


def test_unreadable_book_is_named(tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "bad.txt.xz").write_bytes(b"not xz at all")
    with pytest.raises(SystemExit, match="bad.txt.xz: cannot read"):
        main([str(books), str(tmp_path / "out.txt")])
    assert not (tmp_path / "out.txt").exists()
