"""English text of the synthetic corpus, from WordNet (Debian wordnet-base): the example sentences it
reads, their train/dev/test split, and the extra text of its word LM.

    load_wordnet_sentences() -> the quoted examples in WordNet glosses, normalised (the corpus's sentences)
    split_of(sentence)       -> 'train' | 'dev' | 'test' by a hash of the sentence
    synth_lm_sentences()     -> every train-split example + the gloss definitions (the LM's extra text)
    wordnet_vocabulary()     -> WordNet's one-word lemmas and their forms (the LM's extra word list)

The LM text never holds an example sentence of the dev or test split, nor any quoted example
inside a gloss (the dev and test sentences live there).

    .venv/bin/python -m data_prep.synth.wordnet_text data/local/lm_text.txt      # what stage 0 of synth_en writes
    .venv/bin/python -m data_prep.synth.wordnet_text --vocab data/local/lm_vocab.txt
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

from asr.fileio import atomic_write_lines
from data_prep.synth.engines import check_text_source_allowed

_ROMAN = re.compile(r"m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
# Abbreviations that the engines expand ("etc" -> "et cetera"), so audio and text would differ.
_ABBREVIATIONS = {"etc", "eg", "ie", "inc", "co", "viz", "cf", "esp", "approx", "vol"}




def normalise_sentence(s: str) -> str | None:
    """Lowercase `s` to words of a-z and inner apostrophes, or None when it cannot be done cleanly.

    Hyphens, dashes and slashes become spaces; . , ; : ! ? quotes and brackets are dropped;
    apostrophes at word edges (quotes, plural possessives) are stripped. Rejected (None):
    digits or any other character ($ % & + = accented letters: nothing is expanded), and words
    a TTS engine reads differently from how they are written: single letters other than
    'a' and 'i' (initials, "u s"), words without a vowel ("mr", "tv"), roman numerals
    ("viii" -> "roman eight") and a few abbreviations ("etc").
    """
    t = s.lower().replace("`", "'").replace("\u2019", "'").replace("\u2018", "'")
    t = re.sub(r"[-\u2013\u2014/]", " ", t)
    t = re.sub(r"[.,;:!?\"()\[\]{}]", " ", t)
    if not re.fullmatch(r"[a-z' ]*", t):
        return None
    words = [w.strip("'") for w in t.split()]
    words = [w for w in words if w]
    for w in words:
        if (len(w) == 1 and w not in ("a", "i")) or not re.search(r"[aeiouy]", w) or "''" in w:
            return None
        if w in _ABBREVIATIONS or (len(w) > 1 and w != "mix" and _ROMAN.fullmatch(w)):
            return None
    return " ".join(words) or None


def load_wordnet_sentences(
    wordnet_dir: Path = Path("/usr/share/wordnet"), min_words: int = 4, max_words: int = 20
) -> list[str]:
    """The double-quoted examples in WordNet glosses, normalised, min..max words, unique, sorted."""
    check_text_source_allowed(wordnet_dir)
    found: set[str] = set()
    for pos in ("noun", "verb", "adj", "adv"):
        path = Path(wordnet_dir) / f"data.{pos}"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: WordNet data file not found (install the Debian package wordnet-base)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("  "):  # license header
                    continue
                _, bar, gloss = line.partition(" | ")
                for example in re.findall(r'"([^"]*)"', gloss) if bar else []:
                    s = normalise_sentence(example)
                    if s is not None and min_words <= len(s.split()) <= max_words:
                        found.add(s)
    return sorted(found)


def split_of(sentence: str, dev_fraction: float = 0.05, test_fraction: float = 0.05) -> str:
    """'train', 'dev' or 'test' from the SHA-1 of the sentence: stable across runs and machines."""
    u = int.from_bytes(hashlib.sha1(sentence.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return "test" if u < test_fraction else "dev" if u < test_fraction + dev_fraction else "train"


POS = ("noun", "verb", "adj", "adv")


def wordnet_definitions(wordnet_dir: Path, min_words: int = 3) -> list[str]:
    """The definitions of WordNet glosses (`| definition; "example"`), quotes removed, each `;`
    clause a sentence, normalised; unique, sorted."""
    found: set[str] = set()
    for pos in POS:
        path = Path(wordnet_dir) / f"data.{pos}"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: WordNet data file not found (install the Debian package wordnet-base)")
        with open(path, encoding="utf-8") as f:
            for line in f:
                _, bar, gloss = line.partition(" | ")
                if line.startswith("  ") or not bar:
                    continue
                for clause in re.sub(r'"[^"]*"', ";", gloss).split(";"):
                    s = normalise_sentence(clause.strip())
                    if s is not None and len(s.split()) >= min_words:
                        found.add(s)
    return sorted(found)


def held_out_sentences(wordnet_dir: Path, min_words: int = 4, max_words: int = 20) -> set[str]:
    """The dev and test split's example sentences: text that no LM may see."""
    return {s for s in load_wordnet_sentences(wordnet_dir, min_words, max_words) if split_of(s) != "train"}


def synth_lm_sentences(wordnet_dir: Path, min_words: int = 4, max_words: int = 20) -> list[str]:
    """Train-split WordNet examples plus gloss definitions, minus every dev/test example sentence."""
    held = held_out_sentences(wordnet_dir, min_words, max_words)
    train = [s for s in load_wordnet_sentences(wordnet_dir, min_words, max_words) if s not in held]
    return train + [s for s in wordnet_definitions(wordnet_dir) if s not in held]


def regular_forms(word: str, pos: str) -> list[str]:
    """The regular inflections of a lemma by spelling rule: a noun's plural, a verb's -s, -ed and -ing
    forms (box -> boxes, city -> cities; hope -> hoped, hoping; stop -> stopped; carry -> carried).
    Irregular forms come from WordNet's exception lists instead; a rule may make the odd non-word."""
    sibilant, cons_y = re.search(r"(s|x|z|ch|sh)$", word), re.search(r"[^aeiou]y$", word)
    third = word + "es" if sibilant else word[:-1] + "ies" if cons_y else word + "s"
    if pos == "noun":
        return [third]
    if pos != "verb":
        return []
    if word.endswith("e"):
        return [third, word + "d", word[:-1] + "ing"]
    if cons_y:
        return [third, word[:-1] + "ied", word + "ing"]
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", word):  # one syllable ending consonant-vowel-consonant
        return [third, word + word[-1] + "ed", word + word[-1] + "ing"]
    return [third, word + "ed", word + "ing"]


def wordnet_vocabulary(wordnet_dir: Path, inflect: bool = True) -> list[str]:
    """WordNet's one-word lemmas (index.noun etc.), the irregular forms of its exception lists
    (noun.exc: "geese") and, with `inflect`, the regular forms of its nouns and verbs of 3 letters or more
    (`regular_forms`), normalised as the corpus's words are; sorted. A dictionary's words, not its
    sentences: the words a lexicon should know even when no LM text uses them. (The corpus's examples
    illustrate these lemmas, so the list covers its dev and test words better than it would cover other
    speech: stage 3's lm_eval.txt gives the OOV rate with it.)"""
    found: set[str] = set()
    for pos in POS:
        for name in (f"index.{pos}", f"{pos}.exc"):
            path = Path(wordnet_dir) / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: WordNet file not found (install the Debian package wordnet-base)")
            with open(path, encoding="utf-8") as f:
                for line in f:
                    word = line.split(" ", 1)[0]
                    if line.startswith(" ") or "_" in word:  # license header; multi-word lemmas
                        continue
                    forms = [word]
                    if inflect and name.startswith("index") and len(word) >= 3 and re.fullmatch(r"[a-z]+", word):
                        forms += regular_forms(word, pos)
                    for form in forms:
                        w = normalise_sentence(form)
                        if w is not None and " " not in w:
                            found.add(w)
    return sorted(found)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="text file to write, one sentence (or with --vocab one word) per line")
    p.add_argument("--wordnet-dir", type=Path, default=Path("/usr/share/wordnet"), help="holds data.noun etc.")
    p.add_argument("--vocab", action="store_true", help="write the word list (wordnet_vocabulary) instead of the LM text")
    args = p.parse_args(argv)
    if args.vocab:
        words = wordnet_vocabulary(args.wordnet_dir)
        atomic_write_lines(args.out, words)
        print(f"{args.out}: {len(words)} words")
        return
    sentences = synth_lm_sentences(args.wordnet_dir)
    atomic_write_lines(args.out, sentences)
    print(f"{args.out}: {len(sentences)} sentences, {sum(len(s.split()) for s in sentences)} words")


if __name__ == "__main__":
    main()
