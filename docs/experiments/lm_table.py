"""One row of docs/experiments/real_speech.md's LM table: a pruned Kneser-Ney LM on the book text and the
train-clean-5 transcripts of the non-dev speakers, then its dev perplexity and OOV rate.

    python docs/experiments/lm_table.py CORPORA BOOKS_TXT ORDER MAX_VOCAB MIN_COUNTS OUT.arpa.gz
    python docs/experiments/lm_table.py ../shared/corpora $W/data/local/lm/books.txt 3 60000 1,4,4 /tmp/lm.arpa.gz

BOOKS_TXT is data_prep.lm_text's output (recipes/en writes it to data/local/lm/books.txt).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

from asr.decoding.lm import perplexity, read_arpa
from asr.lm import train_kn_arpa
from data_prep.common import RejectedText, normalise_text


def transcripts(corpora: Path, dev: bool) -> list[str]:
    """train-clean-5's transcripts of the dev speakers (dev) or of the others, normalised."""
    speakers = set((corpora / "splits" / "dev_speakers.txt").read_text().split())
    out = []
    for f in sorted((corpora / "LibriSpeech" / "train-clean-5").glob("*/*/*.trans.txt")):
        if (f.parts[-3] in speakers) == dev:
            for line in f.read_text().splitlines():
                try:
                    out.append(normalise_text(line.partition(" ")[2]))
                except RejectedText:
                    pass
    return out


def main() -> None:
    corpora, books, order, max_vocab, mins, out = sys.argv[1:7]
    train, dev = transcripts(Path(corpora), False), transcripts(Path(corpora), True)

    def sentences():
        yield from train
        with open(books, encoding="utf-8") as f:
            yield from f

    t0 = time.perf_counter()
    stats = train_kn_arpa(sentences(), out, int(order), max_vocab=int(max_vocab),
                          min_counts=[int(x) for x in mins.split(",")])
    seconds, peak_gb = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"order {order}, {max_vocab} words, min counts {mins}: n-grams {stats.ngrams}, {stats.bytes / 1e6:.1f} MB, "
          f"{seconds:.0f} s, peak {peak_gb:.2f} GB | {perplexity(read_arpa(out), dev).summary('dev')}")


if __name__ == "__main__":
    main()
