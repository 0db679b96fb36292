"""Text for the word LM of the synthetic corpus, beyond its training transcripts: every WordNet
example sentence of the train split (the corpus reads only some of them) and the WordNet gloss
definitions, one normalised sentence per line.

Never in it: an example sentence of the dev or test split (by `split_of`, the corpus's own hash
split), nor any quoted example inside a gloss (the dev and test sentences live there).

    .venv/bin/python -m data_prep.lm_text data/local/lm_text.txt      # what stage 0 of synth_en writes
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from asr.fileio import atomic_write_lines
from data_prep.synth_en import load_wordnet_sentences, normalise_sentence, split_of

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


def synth_lm_sentences(wordnet_dir: Path, min_words: int = 4, max_words: int = 20) -> list[str]:
    """Train-split WordNet examples plus gloss definitions, minus every dev/test example sentence."""
    examples = load_wordnet_sentences(wordnet_dir, min_words, max_words)
    held = {s for s in examples if split_of(s) != "train"}
    train = [s for s in examples if split_of(s) == "train"]
    return train + [s for s in wordnet_definitions(wordnet_dir) if s not in held]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="text file to write, one sentence per line")
    p.add_argument("--wordnet-dir", type=Path, default=Path("/usr/share/wordnet"), help="holds data.noun etc.")
    args = p.parse_args(argv)
    sentences = synth_lm_sentences(args.wordnet_dir)
    atomic_write_lines(args.out, sentences)
    print(f"{args.out}: {len(sentences)} sentences, {sum(len(s.split()) for s in sentences)} words")


if __name__ == "__main__":
    main()
