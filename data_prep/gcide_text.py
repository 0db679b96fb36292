"""General English LM text from GCIDE (Debian `dict-gcide`: Webster's 1913 dictionary + WordNet 1.5):
its definitions and its quotations, normalised as the synthetic corpus's sentences are.

    gcide_entries(dict_path)   -> each entry's text, in the dictd index's order (00-* headers skipped)
    entry_sentences(entry)     -> the sentences of one entry: definitions, quotations, usage examples
    gcide_sentences(dict_path) -> every entry's sentences, unique, sorted
    gcide_lm_sentences(...)    -> the same without any that holds a dev or test WordNet example

GCIDE took in WordNet 1.5, examples included, so a synth_en dev or test sentence can sit inside one
of its definitions: `gcide_lm_sentences` drops every sentence that contains one (any span of 4-20
words equal to one). Measured as extra LM text for the synth_en demo (recipes/synth_en/README.md,
levers): lower perplexity, higher WER; no config uses it.

    apt-get install dict-gcide
    .venv/bin/python -m data_prep.gcide_text data/local/gcide_text.txt [--in-vocab data/local/lm_vocab.txt ...]
"""

from __future__ import annotations

import argparse
import gzip
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from asr.fileio import atomic_write_lines
from data_prep.wordnet_text import held_out_sentences, normalise_sentence

GCIDE_DICT = Path("/usr/share/dictd/gcide.dict.dz")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dictd_number(s: str) -> int:
    """A dictd index field (base 64, most significant digit first) as an int."""
    n = 0
    for ch in s:
        n = n * 64 + _B64.index(ch)
    return n


def gcide_entries(dict_path: Path = GCIDE_DICT) -> Iterator[str]:
    """Each entry of a dictd database (`X.dict.dz` or `X.dict`, with `X.index` beside it) once, in index
    order; the `00-database-*` header entries are skipped. Undecodable bytes become U+FFFD."""
    dict_path = Path(dict_path)
    index = dict_path.with_name(dict_path.name.split(".dict")[0] + ".index")
    for p in (dict_path, index):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: GCIDE not found (install the Debian package dict-gcide)")
    data = gzip.open(dict_path).read() if dict_path.suffix == ".dz" else dict_path.read_bytes()
    seen: set[int] = set()
    with open(index, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3:
                raise ValueError(f"{index}:{n}: expected 'headword<TAB>offset<TAB>length', got {line!r}")
            head, offset, length = fields[0], _dictd_number(fields[1]), _dictd_number(fields[2])
            if head.startswith("00-") or offset in seen:
                continue
            seen.add(offset)
            yield data[offset:offset + length].decode("utf-8", errors="replace")


_SOURCE_LINE = re.compile(r"\s*\[[^\]]*\]\s*")  # "[1913 Webster]", "[WordNet 1.5 +PJC]" on a line of their own
_HEADWORD = re.compile(r"^[^\s\\][^\\\n]*\\[^\\]*\\,?")  # Affect \Af*fect"\, (the pronunciation between backslashes)
_LABEL = re.compile(r"\((?:[A-Z][A-Za-z]*\.?(?:\s*(?:&|,|and)\s*)?)+\)")  # (Zool.), (Naut. & Mil.), (Law)
_CITATION = re.compile(r"--\s*[A-Z].*\Z", re.S)  # --Milton. / --Sir W. Scott. at a quotation's end
_NUMBER = re.compile(r"(?:^|\s)(?:\d+|\([a-z]\))\.?\s")  # sense numbers: "1. ", "(a) "


def _without_brackets(s: str) -> str:
    """Drop [...] spans, nested ones too (etymologies: "[OE. aferen, AS. [=a]f?ran.]")."""
    while True:
        t = re.sub(r"\[[^\[\]]*\]", " ", s)
        if t == s:
            return t.replace("[", " ").replace("]", " ")
        s = t


def entry_sentences(entry: str, min_words: int = 3, max_words: int = 40) -> list[str]:
    """The sentences of one GCIDE entry, normalised (`normalise_sentence`), min..max words.

    Paragraphs (blank-line separated) are definitions, quotations or notes. Dropped: the headword and
    its pronunciation, source lines, bracketed etymologies and notes, subject labels ("(Zool.)"),
    quotation citations ("--Milton."), synonym lists ("Syn: ..."), sense numbers and "as," before a
    usage example; then each paragraph splits at . ; : ! ?. A piece with GCIDE's '?' for an
    unconvertible letter inside a word ("?way") is dropped, not guessed."""
    out: list[str] = []
    for i, para in enumerate(re.split(r"\n\s*\n", entry.strip("\n"))):
        lines = [ln for ln in para.split("\n") if not _SOURCE_LINE.fullmatch(ln)]
        if not lines or lines[0].lstrip().startswith("Syn:"):
            continue
        text = "\n".join(ln.strip() for ln in lines)
        if i == 0:
            text = _HEADWORD.sub(" ", text)
        text = _CITATION.sub(" ", text).replace("\n", " ")
        text = _LABEL.sub(" ", _without_brackets(text)).replace("{", "").replace("}", "")
        text = re.sub(r"^\s*Note:", " ", text)
        for piece in re.split(r"[.;:!?](?=\s|$)", text):
            piece = re.sub(r"^\s*as,\s*", " ", _NUMBER.sub(" ", f" {piece} "))
            if "\ufffd" in piece or re.search(r"\?\w|\w\?", piece):
                continue
            s = normalise_sentence(piece)
            if s is not None and min_words <= len(s.split()) <= max_words:
                out.append(s)
    return out


def gcide_sentences(dict_path: Path = GCIDE_DICT, min_words: int = 3, max_words: int = 40) -> list[str]:
    """Every entry's sentences (`entry_sentences`), unique, sorted."""
    return sorted({s for e in gcide_entries(dict_path) for s in entry_sentences(e, min_words, max_words)})


def without_sentences(sentences: Iterable[str], held: set[str], min_span: int = 4, max_span: int = 20) -> list[str]:
    """`sentences` less every one that has a span of min..max words equal to a sentence of `held`."""
    def holds(s: str) -> bool:
        w = s.split()
        return any(" ".join(w[i:j]) in held
                   for i in range(len(w)) for j in range(i + min_span, min(len(w), i + max_span) + 1))
    return [s for s in sentences if not holds(s)]


def gcide_lm_sentences(dict_path: Path = GCIDE_DICT, wordnet_dir: Path = Path("/usr/share/wordnet"),
                       vocab: set[str] | None = None) -> list[str]:
    """GCIDE's sentences without any WordNet dev/test example inside (`without_sentences`); with `vocab`,
    only those whose every word is in it (so the LM's vocabulary stays the recipe's)."""
    held = held_out_sentences(wordnet_dir)
    sentences = gcide_sentences(dict_path)
    if vocab is not None:
        sentences = [s for s in sentences if all(w in vocab for w in s.split())]
    return without_sentences(sentences, held)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="text file to write, one sentence per line")
    p.add_argument("--dict", type=Path, default=GCIDE_DICT, help="the dictd database (its .index beside it)")
    p.add_argument("--wordnet-dir", type=Path, default=Path("/usr/share/wordnet"),
                   help="WordNet's data files: their dev/test examples are kept out")
    p.add_argument("--in-vocab", type=Path, nargs="*", default=None, metavar="FILE",
                   help="keep only sentences whose words all appear in these files (word lists or texts)")
    args = p.parse_args(argv)
    vocab = None
    if args.in_vocab is not None:
        vocab = {w for f in args.in_vocab for w in f.read_text(encoding="utf-8").split()}
    sentences = gcide_lm_sentences(args.dict, args.wordnet_dir, vocab)
    atomic_write_lines(args.out, sentences)
    print(f"{args.out}: {len(sentences)} sentences, {sum(len(s.split()) for s in sentences)} words")


if __name__ == "__main__":
    main()
