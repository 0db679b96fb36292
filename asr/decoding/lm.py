"""Word n-gram language models (ARPA) and the pronunciation lexicon of a character model.

    train_arpa(sentences, order) -> ARPA text    Kneser-Ney through kaldingram, plus <unk>
    read_arpa(path) -> ArpaLM                    validating reader; errors name the file and line
    perplexity(lm, sentences) -> Perplexity      SRILM-style ppl (with </s>) and OOV rate
    build_lexicon / write_lexicon / read_lexicon lexicon.txt: `word c h a r s |`

All LM scores are log10 probabilities, as in ARPA files and in KenLM (so an LM weight means
the same thing for every decoder). A word missing from the LM is scored as `<unk>`.

The lexicon spells each word with its characters and ends the spelling with the word
boundary `|`, the layout torchaudio's `ctc_decoder` expects (sil_token='|'). The model emits
`|` only between words, so the LM decoder appends a virtual `|` frame at the end of each
utterance (see asr/decoding/flashlight.py).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from asr.data.tokens import WORD_SEP, TokenTable
from asr.errors import AsrError

UNK, BOS, EOS = "<unk>", "<s>", "</s>"


class LMError(AsrError, ValueError):
    """An ARPA or lexicon file is missing or malformed; the message names the file and line."""


# ---------------------------------------------------------------------------------------------
# Training


def train_arpa(sentences: Iterable[str], order: int = 3, vocab: Iterable[str] = ()) -> str:
    """Train a back-off Kneser-Ney n-gram LM (unmodified KN, as SRILM -ukndiscount); returns the ARPA text.

    `sentences` are whitespace-separated words, one sentence each (empty ones are skipped).
    Counting, discounting and back-off weights are kaldingram's.
    kaldingram leaves no mass for unseen words, so before the back-off weights are computed
    the unigrams give up the Good-Turing estimate of unseen mass, n1 / (N + n1) (n1: words
    seen in one context, N: all unigram continuation counts; the `+ n1` keeps it below 1/2
    on tiny texts), to a new `<unk>` unigram. The model stays normalised.

    `vocab`: more words; those the sentences lack become unigrams that share the unseen mass evenly
    with `<unk>` (k new words: p_unk / (k + 1) each), so an LM of 50k words can know 100k without
    text for them. They have no n-gram context: after any history they cost the back-off weight
    plus that unigram, as an unseen word does.
    """
    from kaldingram.train import NgramCounts

    if not 1 <= order <= 5:
        raise ValueError(f"LM order must be 1..5 (kaldingram's range), got {order}")
    counts = NgramCounts(order)
    n_lines = 0
    for sentence in sentences:
        words = sentence.split()
        if words:
            counts.add_raw_counts_from_line(" ".join(words))
            n_lines += 1
    if n_lines == 0:
        raise ValueError("no text to train the LM on")
    if UNK in counts.counts[0][()].word_to_count:
        raise ValueError(f"the training text contains {UNK}; the LM adds it itself")
    out = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()):  # kaldingram draws progress bars for each step
        counts.cal_discounting_constants()
        counts.cal_f()
        seen = counts.counts[0][()].word_to_count
        _add_unk_unigram(counts, order, sorted({w for w in vocab if w not in seen and w not in (UNK, BOS, EOS)}))
        counts.cal_bow()
        counts.print_as_arpa(fout=out)
    return out.getvalue()


def _add_unk_unigram(counts, order: int, new_words: list[str] = ()) -> None:
    unigrams = counts.counts[0][()]
    if order == 1:  # plain relative frequencies: use raw counts
        freqs = {w: c for w, c in unigrams.word_to_count.items() if w != BOS}
    else:  # Kneser-Ney continuation counts (<s> has none)
        freqs = {w: len(unigrams.word_to_context[w]) for w in unigrams.word_to_count if w != BOS}
    n_total = sum(freqs.values())
    n1 = max(1, sum(1 for v in freqs.values() if v == 1))
    p_unk = n1 / (n_total + n1)
    for w in unigrams.word_to_f:
        unigrams.word_to_f[w] *= 1.0 - p_unk
    share = p_unk / (len(new_words) + 1)
    for w in [UNK, *new_words]:
        unigrams.word_to_count[w] = 0  # print_as_arpa lists the words that have a count entry
        unigrams.word_to_f[w] = share


def write_arpa(path: str | Path, sentences: Iterable[str], order: int = 3, vocab: Iterable[str] = ()) -> None:
    """train_arpa, written to `path` (UTF-8)."""
    Path(path).write_text(train_arpa(sentences, order, vocab), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Reading and scoring


@dataclass
class ArpaLM:
    """A back-off n-gram LM held in dicts; fine for the small LMs a recipe trains.

    prob[ngram] and backoff[ngram] are log10 values; ngram is a tuple of words.
    """

    order: int
    prob: dict[tuple[str, ...], float]
    backoff: dict[tuple[str, ...], float]

    def __post_init__(self) -> None:
        self.vocab = frozenset(ng[0] for ng in self.prob if len(ng) == 1)

    def log10_prob(self, word: str, context: tuple[str, ...] = ()) -> float:
        """log10 P(word | context); words outside the LM (in either) count as <unk>."""
        word = word if word in self.vocab else UNK
        context = context[-(self.order - 1) :] if self.order > 1 else ()
        context = tuple(w if w in self.vocab else UNK for w in context)
        penalty = 0.0
        while True:
            p = self.prob.get(context + (word,))
            if p is not None:
                return penalty + p
            if not context:  # only reachable for an LM without <unk>; read_arpa refuses those
                return -math.inf
            penalty += self.backoff.get(context, 0.0)
            context = context[1:]

    def sentence_log10_prob(self, words: list[str]) -> float:
        """log10 P(<s> words </s>), </s> included."""
        context: tuple[str, ...] = (BOS,)
        total = 0.0
        for w in [*words, EOS]:
            total += self.log10_prob(w, context)
            context = (context + (w,))[-(self.order - 1) :] if self.order > 1 else ()
        return total


def _read_text(path: Path, what: str = "ARPA file") -> str:
    """The text of a file, gzip-compressed when its name ends in .gz; errors name the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LMError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as e:
        raise LMError(f"{path}: not valid UTF-8 ({e})") from None
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise LMError(f"{path}: cannot read ({e})") from None


def plain_path(path: str | Path) -> Path:
    """A path a C++ reader (KenLM, flashlight's lexicon) can open: `path` itself, or for `*.gz` a
    decompressed copy in the temp folder.

    The copy is named by the SHA-1 of the compressed file, so it is made once per file and never
    stale; it is written atomically, so concurrent loaders never read half a file.
    """
    path = Path(path)
    if path.suffix != ".gz":
        return path
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    plain = Path(tempfile.gettempdir()) / f"asr-{digest}-{path.stem}"  # lm.arpa.gz -> asr-<sha>-lm.arpa
    if not plain.is_file():
        fd, tmp = tempfile.mkstemp(dir=plain.parent, prefix=plain.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(_read_text(path, "file"))
            os.replace(tmp, plain)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return plain


def read_arpa(path: str | Path) -> ArpaLM:
    """Read and check an ARPA file (gzip-compressed if named *.gz): header counts, sections, fields,
    <s>, </s> and <unk>.

    Raises LMError naming the file and the 1-based line of the first problem.
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    declared: dict[int, int] = {}
    prob: dict[tuple[str, ...], float] = {}
    backoff: dict[tuple[str, ...], float] = {}
    seen: dict[int, int] = {}
    section = "start"  # start -> data -> n-grams (n) -> end
    n = 0
    ended = False
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        where = f"{path} line {lineno}"
        if not line:
            continue
        if ended:
            raise LMError(f"{where}: text after \\end\\")
        if section == "start":
            if line == "\\data\\":
                section = "data"
            continue  # ARPA allows free text before \data\
        if line == "\\end\\":
            ended = True
            continue
        if line.startswith("\\") and line.endswith("-grams:"):
            try:
                n = int(line[1:-len("-grams:")])
            except ValueError:
                raise LMError(f"{where}: bad section header {line!r}") from None
            if n not in declared:
                raise LMError(f"{where}: section {line!r} has no 'ngram {n}=' count in \\data\\")
            if seen and n != max(seen) + 1 or not seen and n != 1:
                raise LMError(f"{where}: section {line!r} out of order")
            section, seen[n] = "ngrams", 0
            continue
        if section == "data":
            key, _, value = line.partition("=")
            parts = key.split()
            if len(parts) != 2 or parts[0] != "ngram" or not parts[1].isdigit() or not value.strip().isdigit():
                raise LMError(f"{where}: expected 'ngram N=COUNT' in \\data\\, got {line!r}")
            declared[int(parts[1])] = int(value)
            continue
        fields = line.split()
        if len(fields) not in (n + 1, n + 2):
            raise LMError(f"{where}: a {n}-gram line needs 'log10prob w1..w{n} [backoff]', got {line!r}")
        try:
            values = [float(fields[0])] + ([float(fields[-1])] if len(fields) == n + 2 else [])
        except ValueError:
            raise LMError(f"{where}: not a number in {line!r}") from None
        if any(math.isnan(v) or v > 0 for v in values[:1]):
            raise LMError(f"{where}: log10 probability must be <= 0, got {fields[0]}")
        ngram = tuple(fields[1 : n + 1])
        if ngram in prob:
            raise LMError(f"{where}: duplicate {n}-gram {' '.join(ngram)!r}")
        prob[ngram] = values[0]
        if len(values) == 2:
            backoff[ngram] = values[1]
        seen[n] += 1
    if section == "start":
        raise LMError(f"{path}: no \\data\\ header; not an ARPA file")
    if not ended:
        raise LMError(f"{path} line {len(lines)}: file ends without \\end\\ (truncated?)")
    for k, count in declared.items():
        if seen.get(k, 0) != count:
            raise LMError(f"{path}: \\data\\ declares ngram {k}={count} but the file has {seen.get(k, 0)} {k}-grams")
    if not declared or sorted(declared) != list(range(1, max(declared) + 1)):
        raise LMError(f"{path}: \\data\\ must declare ngram 1..N counts, got {sorted(declared)}")
    for w in (BOS, EOS, UNK):
        if (w,) not in prob:
            raise LMError(f"{path}: no {w} unigram (the decoders need {BOS}, {EOS} and {UNK})")
    return ArpaLM(max(declared), prob, backoff)


@dataclass
class Perplexity:
    sentences: int
    words: int  # running words, </s> not counted
    oovs: int  # words not in the LM (scored as <unk>)
    log10_prob: float  # total, </s> included

    @property
    def ppl(self) -> float:
        """10 ** (-log10_prob / (words + sentences)): SRILM's ppl, one </s> per sentence."""
        return 10 ** (-self.log10_prob / max(1, self.words + self.sentences))

    @property
    def oov_rate(self) -> float:
        """OOV words as a percentage of running words."""
        return 100.0 * self.oovs / max(1, self.words)

    def summary(self, name: str) -> str:
        return (
            f"{name}: {self.sentences} sentences, {self.words} words, {self.oovs} OOVs "
            f"({self.oov_rate:.2f}%), logprob= {self.log10_prob:.2f} ppl= {self.ppl:.1f}"
        )


def perplexity(lm: ArpaLM, sentences: Iterable[str]) -> Perplexity:
    """Perplexity of `lm` on sentences (OOV words are scored as <unk>, as SRILM's -unk)."""
    n_sent = n_words = n_oov = 0
    total = 0.0
    for sentence in sentences:
        words = sentence.split()
        if not words:
            continue
        n_sent += 1
        n_words += len(words)
        n_oov += sum(1 for w in words if w not in lm.vocab)
        total += lm.sentence_log10_prob(words)
    return Perplexity(n_sent, n_words, n_oov, total)


class SpellingModel:
    """Character bigram over the LM's words (add-one smoothed): log10 P(spelling | <unk>).

    Lexicon-free decoding scores a word the LM does not know as P(<unk>) times the probability
    of its spelling, so an unknown word costs more the longer it is, as it should.
    """

    def __init__(self, words: Iterable[str]) -> None:
        pair: dict[tuple[str, str], int] = {}
        first: dict[str, int] = {}
        for w in words:
            for a, b in zip("^" + w, w + "$"):
                pair[(a, b)] = pair.get((a, b), 0) + 1
                first[a] = first.get(a, 0) + 1
        self._pair, self._first = pair, first
        self._n_out = len({b for _, b in pair}) + 1  # possible next symbols, plus one unseen

    def log10_next(self, prev: str, ch: str) -> float:
        """log10 P(ch | prev); '^' starts a word, '$' ends it."""
        return math.log10((self._pair.get((prev, ch), 0) + 1) / (self._first.get(prev, 0) + self._n_out))

    def log10_prefix(self, prefix: str) -> float:
        """log10 P(the spelling starts with `prefix`)."""
        return sum(self.log10_next(a, b) for a, b in zip("^" + prefix, prefix))

    def log10_word(self, word: str) -> float:
        """log10 P(the spelling is exactly `word`)."""
        return self.log10_prefix(word) + self.log10_next(word[-1] if word else "^", "$")


# ---------------------------------------------------------------------------------------------
# Lexicon


def build_lexicon(words: Iterable[str], table: TokenTable) -> dict[str, tuple[str, ...]]:
    """Spell each word with its characters, then `|`: {'cat': ('c', 'a', 't', '|')}.

    Raises LMError for a character the token table lacks.
    """
    lexicon = {}
    for word in sorted(set(words)):
        missing = [ch for ch in word if ch not in table.symbols or ch in (WORD_SEP, table.symbols[0])]
        if missing:
            raise LMError(f"word {word!r}: character(s) {missing} not in the token table")
        lexicon[word] = (*word, WORD_SEP)
    return lexicon


def write_lexicon(path: str | Path, lexicon: dict[str, tuple[str, ...]]) -> None:
    """One `word t1 t2 ... |` line per word, sorted."""
    Path(path).write_text("".join(f"{w} {' '.join(lexicon[w])}\n" for w in sorted(lexicon)), encoding="utf-8")


def read_lexicon(path: str | Path, table: TokenTable) -> dict[str, tuple[str, ...]]:
    """Read and check lexicon.txt (gzip-compressed if named *.gz) against the token table.

    Each line is `word t1 ... tn |`: at least one token before the final `|`, every token in
    tokens.txt, no blank, no `|` inside a spelling, no duplicate word.
    Raises LMError naming the file and the 1-based line.
    """
    path = Path(path)
    lines = _read_text(path, "lexicon file").splitlines()
    known = set(table.symbols)
    lexicon: dict[str, tuple[str, ...]] = {}
    for lineno, line in enumerate(lines, 1):
        where = f"{path} line {lineno}"
        fields = line.split()
        if not fields:
            raise LMError(f"{where}: empty line")
        word, spelling = fields[0], tuple(fields[1:])
        if len(spelling) < 2 or spelling[-1] != WORD_SEP:
            raise LMError(f"{where}: expected 'word t1 ... tn {WORD_SEP}' (spelling ending with the word boundary), got {line!r}")
        for tok in spelling:
            if tok not in known:
                raise LMError(f"{where}: word {word!r}: token {tok!r} is not in tokens.txt")
            if tok == table.symbols[0]:
                raise LMError(f"{where}: word {word!r}: the blank {tok!r} cannot be part of a spelling")
        if WORD_SEP in spelling[:-1]:
            raise LMError(f"{where}: word {word!r}: {WORD_SEP!r} may only end a spelling")
        if word in lexicon:
            raise LMError(f"{where}: duplicate word {word!r} (one spelling per word)")
        lexicon[word] = spelling
    if not lexicon:
        raise LMError(f"{path}: empty lexicon")
    return lexicon
