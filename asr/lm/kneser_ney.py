"""Back-off Kneser-Ney word n-gram LMs counted with NumPy: tens of millions of words, with pruning.

    train_kn_arpa(sentences, path, order=3, vocab=(), max_vocab=0, min_counts=()) -> KNStats

Unpruned, the model is asr.decoding.lm.train_arpa's, to float rounding (tests/test_lm_kneser_ney.py
compares every probability and back-off weight): kaldingram's unmodified back-off Kneser-Ney (SRILM
-ukndiscount), plus the `<unk>` unigram:
  * each sentence is `<s> w1 .. wn </s>`; no n-gram crosses a sentence;
  * order k >= 2 is discounted by D_k = max(0.1, n1) / (n1 + 2 n2) (n1, n2: k-grams of raw count 1, 2;
    0.1 when both are 0); unigrams are not discounted (D_1 = 0);
  * highest order: f(w | h) = max(c(h w) - D, 0) / c(h *); lower orders use continuation counts
    N1+(. h w) (distinct words seen before h w) for c, except after a history starting with `<s>`
    (it has no left context), where raw counts stay;
  * `<unk>`: the unigrams give up the Good-Turing unseen mass n1 / (N + n1) (n1: words of continuation
    count 1, N: all continuation counts; raw counts for order 1) to a `<unk>` unigram, shared evenly with
    the `vocab` words the text lacks;
  * bow(h) = (1 - sum_w f(w | h)) / (1 - sum_w p(w | h[1:])) over the w written after h; none (= 1)
    where no n-gram extends h or the denominator's sum reaches 1.

Pruning:
  * `max_vocab` keeps the N most frequent words (ties: the alphabetically first) and counts every other
    word as `<unk>`, before any n-gram is counted: `<unk>` then has real n-gram statistics (how often an
    unknown word follows "the", ends a sentence...), which the decoder scores an unknown word with. That
    `<unk>` takes no extra Good-Turing mass; `vocab` words outside the N share its unigram probability.
  * `min_counts[k-1]` drops the k-grams (k >= 2) of raw count below it from the ARPA after discounting,
    as SRILM's -gtNmin: discounts and continuation counts come from the full counts, the dropped
    n-grams' probability goes to their history's back-off weight, and every back-off weight is
    recomputed against the pruned lower orders, so each history stays normalised. Unigrams and every
    prefix of a written n-gram (ARPA holds the back-off weight there) are always kept.

Counting: words become int32 ids in one dict pass; the k-gram at each position is the int64 key
`index of its (k-1)-gram prefix * V + last word id`, so each order is one ascending array of distinct
keys (sorted by history, then word). Positions are counted CHUNK at a time with np.unique and merged.
Measured on 30.5 M words of book text (1.59 M sentences; `nice`, one core of a loaded 2-core machine),
max_vocab 60000: order 3 (14.7 M distinct trigrams) 45-62 s and 1.6 GB peak memory; order 4 85 s, 3.0 GB.
"""

from __future__ import annotations

import gzip
import logging
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.errors import AsrError
from asr.fileio import atomic_output

log = logging.getLogger(__name__)

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
BOS_ID, EOS_ID = 0, 1
CHUNK = 1 << 22  # positions per np.unique call (4 M: about 200 MB of temporaries)
BLOCK = 1 << 20  # n-grams formatted per write


class KNError(AsrError, ValueError):
    """The LM cannot be trained from this text or with these settings."""


@dataclass
class KNStats:
    """What train_kn_arpa read and wrote."""

    words: int  # running words of the text (no <s>, </s>)
    sentences: int  # non-empty sentences
    unk_words: int  # running words counted as <unk> (outside max_vocab)
    ngrams: list[int]  # n-grams written per order: [unigrams (<s> </s> <unk> included), bigrams, ...]
    bytes: int  # size of the written file (compressed for .gz)


@dataclass
class _Order:
    """The distinct n-grams of one order k, ascending by (history, word); m of them."""

    keys: np.ndarray  # (m,) int64: hist * V + word
    hist: np.ndarray  # (m,) int64: index of w1..w(k-1) among order k-1's n-grams (0 for unigrams)
    word: np.ndarray  # (m,) int64: id of wk
    count: np.ndarray  # (m,) int64: raw count
    suffix: np.ndarray | None = None  # (m,) int64: index of w2..wk among order k-1's n-grams (k >= 2)
    f: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (m,) float64: discounted probability
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (m,) bool: written to the ARPA
    bow: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (m,) float64 back-off weight; NaN: none


def train_kn_arpa(sentences: Iterable[str], path: str | Path, order: int = 3, *, vocab: Iterable[str] = (),
                  max_vocab: int = 0, min_counts: Sequence[int] = ()) -> KNStats:
    """Train a back-off Kneser-Ney LM on `sentences` (whitespace-separated words; empty ones skipped)
    and write it to `path` as ARPA (gzip-compressed when the name ends in .gz), atomically.

    `order`: 1..5. `vocab`: more words; those the LM's vocabulary lacks become unigrams sharing `<unk>`'s
    probability. `max_vocab`: keep this many words (0: all). `min_counts`: per order from 1, the raw
    count an n-gram needs to be written (missing or <= 1: keep all; unigrams are never dropped).
    """
    if not 1 <= order <= 5:
        raise KNError(f"LM order must be 1..5, got {order}")
    mins = [max(1, int(c)) for c in min_counts] + [1] * max(0, order - len(min_counts))
    if len(mins) > order or mins[0] != 1:
        raise KNError(f"min_counts {list(min_counts)}: one count per order up to {order}, and 1 (or 0) for "
                      "unigrams, which are never dropped (max_vocab limits the vocabulary)")
    t0 = time.perf_counter()
    tokens, words, n_sent = _encode(sentences)
    n_words = len(tokens) - 2 * n_sent
    tokens, words, n_unk = _limit_vocab(tokens, words, max_vocab)
    log.info("kn: %d sentences, %d words, %d distinct kept (%d running words as <unk>) in %.1f s",
             n_sent, n_words, len(words) - 2 - (words[-1] == UNK), n_unk, time.perf_counter() - t0)
    orders = _count(tokens, len(words), order)
    del tokens
    log.info("kn: counted %s n-grams in %.1f s", [len(o.keys) for o in orders], time.perf_counter() - t0)
    _estimate(orders)
    known = set(words)
    extra = sorted({w for w in vocab if w not in known and w not in (UNK, BOS, EOS)})
    words = _add_unk(orders, words, extra)
    _prune(orders, mins)
    _backoff(orders)
    with atomic_output(path) as tmp:
        ngrams = _write_arpa(tmp, str(path).endswith(".gz"), orders, words)
    size = Path(path).stat().st_size
    log.info("kn: wrote %s (%s n-grams, %.1f MB) in %.1f s", path, ngrams, size / 1e6, time.perf_counter() - t0)
    return KNStats(n_words, n_sent, n_unk, ngrams, size)


def _encode(sentences: Iterable[str]) -> tuple[np.ndarray, list[str], int]:
    """Sentences -> (tokens: (T,) int32 ids of `<s> w1 .. wn </s>` per sentence, id -> word, sentences)."""
    ids = {BOS: BOS_ID, EOS: EOS_ID}
    buf = array("i")
    n_sent = 0
    for sentence in sentences:
        words = sentence.split()
        if not words:
            continue
        n_sent += 1
        buf.append(BOS_ID)
        buf.extend([ids.setdefault(w, len(ids)) for w in words])
        buf.append(EOS_ID)
    if n_sent == 0:
        raise KNError("no text to train the LM on")
    if UNK in ids:
        raise KNError(f"the training text contains {UNK}; the LM adds it itself")
    tokens = np.frombuffer(buf, dtype=np.int32)
    specials = np.bincount(tokens[tokens <= EOS_ID], minlength=2)
    if specials[BOS_ID] != n_sent or specials[EOS_ID] != n_sent:
        raise KNError(f"the training text contains {BOS} or {EOS}; the LM adds them itself")
    return tokens, list(ids), n_sent


def _limit_vocab(tokens: np.ndarray, words: list[str], max_vocab: int) -> tuple[np.ndarray, list[str], int]:
    """Keep the `max_vocab` most frequent words (ties: alphabetical), the others become one `<unk>` id
    (the last). Returns (tokens, id -> word, running words mapped to <unk>)."""
    if max_vocab <= 0 or len(words) - 2 <= max_vocab:
        return tokens, words, 0
    counts = np.bincount(tokens, minlength=len(words)).tolist()
    ranked = sorted(range(2, len(words)), key=lambda i: (-counts[i], words[i]))
    kept, dropped = ranked[:max_vocab], ranked[max_vocab:]
    remap = np.full(len(words), max_vocab + 2, dtype=np.int32)
    remap[[BOS_ID, EOS_ID]] = [BOS_ID, EOS_ID]
    remap[kept] = np.arange(2, max_vocab + 2, dtype=np.int32)
    return remap[tokens], [BOS, EOS, *(words[i] for i in kept), UNK], sum(counts[i] for i in dropped)


# ---------------------------------------------------------------------------------------------
# Counting


def _count(tokens: np.ndarray, n_vocab: int, order: int) -> list[_Order]:
    """Distinct n-grams of orders 1..order with raw counts and suffix links. tokens: (T,) int32."""
    ids, unigrams = np.arange(n_vocab, dtype=np.int64), np.bincount(tokens, minlength=n_vocab)
    assert unigrams.min() > 0, "every word id occurs, so a unigram's index is its id"
    orders = [_Order(ids, np.zeros(n_vocab, np.int64), ids, unigrams)]
    index = tokens  # (T,) index of the (k-1)-gram starting at each position; -1: none
    for k in range(2, order + 1):
        keys, counts, index = _count_order(tokens, index, k, n_vocab, with_index=k < order)
        o = _Order(keys, keys // n_vocab, keys % n_vocab, counts)
        if k == 2:
            o.suffix = o.word
        else:
            prev = orders[-1]
            o.suffix = np.searchsorted(prev.keys, prev.suffix[o.hist] * n_vocab + o.word)
        orders.append(o)
    return orders


def _count_order(tokens: np.ndarray, prev: np.ndarray, k: int, n_vocab: int,
                 with_index: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The k-grams (k >= 2): (keys (m,) int64 ascending, counts (m,) int64, index (T,) int32 of the k-gram
    at each position, -1 where none, or None unless with_index). prev: (T,) index of the (k-1)-grams."""
    n_pos = len(tokens) - k + 1
    chunks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]] = []
    for a in range(0, max(n_pos, 0), CHUNK):
        b = min(n_pos, a + CHUNK)
        p = prev[a:b].astype(np.int64)
        valid = (p >= 0) & (tokens[a + k - 2:b + k - 2] != EOS_ID)  # no </s> inside: one sentence
        keys = np.where(valid, p * n_vocab + tokens[a + k - 1:b + k - 1], -1)
        if with_index:
            u, inv, c = np.unique(keys, return_inverse=True, return_counts=True)
            chunks.append((a, u, c, inv.astype(np.int32)))
        else:
            chunks.append((a, *np.unique(keys, return_counts=True), None))
    keys, counts = _merge([c[1] for c in chunks], [c[2] for c in chunks])
    if len(keys) and keys[0] < 0:
        keys, counts = keys[1:], counts[1:]
    if not with_index:
        return keys, counts, None
    index = np.full(len(tokens), -1, dtype=np.int32)
    for a, u, _, inv in chunks:
        g = np.searchsorted(keys, u).astype(np.int32)
        g[u < 0] = -1
        index[a:a + len(inv)] = g[inv]
    return keys, counts, index


def _merge(keys: list[np.ndarray], counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys of several (key, count) lists, ascending, with their summed counts (int64)."""
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if len(keys) == 1:
        return keys[0], counts[0].astype(np.int64)
    k, c = np.concatenate(keys), np.concatenate(counts).astype(np.int64)
    order = np.argsort(k, kind="stable")
    k, c = k[order], c[order]
    del order
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[start], np.add.reduceat(c, start)


# ---------------------------------------------------------------------------------------------
# Estimation


def _discount(count: np.ndarray) -> float:
    """kaldingram's D = max(0.1, n1) / (n1 + 2 n2) of one order's raw counts; 0.1 when n1 = n2 = 0."""
    n1, n2 = int((count == 1).sum()), int((count == 2).sum())
    return 0.1 if n1 + 2 * n2 == 0 else max(0.1, float(n1)) / (n1 + 2 * n2)


def _estimate(orders: list[_Order]) -> None:
    """Set each order's f: discounted raw counts at the highest order, continuation counts below."""
    for k, o in enumerate(orders, 1):
        d = 0.0 if k == 1 else _discount(o.count)
        n_hist = 1 if k == 1 else len(orders[k - 2].keys)
        total = np.bincount(o.hist, weights=o.count, minlength=n_hist)[o.hist]
        with np.errstate(divide="ignore", invalid="ignore"):
            o.f = np.maximum(o.count - d, 0.0) / total
            if k < len(orders):
                cont = np.bincount(orders[k].suffix, minlength=len(o.keys)).astype(np.float64)
                n_star = np.bincount(o.hist, weights=cont, minlength=n_hist)[o.hist]
                o.f = np.where(n_star > 0, np.maximum(cont - d, 0.0) / n_star, o.f)


def _add_unk(orders: list[_Order], words: list[str], extra: list[str]) -> list[str]:
    """Give `<unk>` and the `extra` words their unigrams; returns id -> word with them appended.

    A real `<unk>` (max_vocab) shares its own probability; otherwise the unigrams give up the Good-Turing
    unseen mass n1 / (N + n1) of their continuation counts (raw counts for order 1), <s> left out.
    """
    uni = orders[0]
    if words[-1] == UNK:
        share = uni.f[-1] / (len(extra) + 1)
        uni.f[-1] = share
        new = extra
    else:
        freqs = uni.count if len(orders) == 1 else np.bincount(orders[1].suffix, minlength=len(uni.keys))
        freqs = np.delete(freqs, BOS_ID)
        n1 = max(1, int((freqs == 1).sum()))
        p_unk = n1 / (int(freqs.sum()) + n1)
        uni.f = uni.f * (1.0 - p_unk)
        share = p_unk / (len(extra) + 1)
        new = [UNK, *extra]
    n = len(new)
    ids = np.arange(len(words), len(words) + n, dtype=np.int64)
    uni.keys, uni.word = np.r_[uni.keys, ids], np.r_[uni.word, ids]
    uni.hist, uni.count = np.r_[uni.hist, np.zeros(n, np.int64)], np.r_[uni.count, np.zeros(n, np.int64)]
    uni.f = np.r_[uni.f, np.full(n, share)]
    return [*words, *new]


def _prune(orders: list[_Order], mins: list[int]) -> None:
    """keep: raw count >= mins[k-1], or a prefix of a kept (k+1)-gram; every unigram."""
    orders[0].keep = np.ones(len(orders[0].keys), bool)
    for k in range(len(orders), 1, -1):
        o = orders[k - 1]
        o.keep = o.count >= mins[k - 1]
        if k < len(orders):
            up = orders[k]
            o.keep |= np.bincount(up.hist[up.keep], minlength=len(o.keys)) > 0


def _backoff(orders: list[_Order]) -> None:
    """Back-off weights from the kept n-grams, lowest order first, against the pruned lower model.

    p[i]: the probability the written model gives n-gram i of the current order (f where kept, else
    bow(history) * p(suffix)); bow(h) = (1 - sum f(w | h)) / (1 - sum p(w | h[1:])) over kept (h w).
    """
    p = orders[0].f
    for lo, hi in zip(orders, orders[1:]):
        hist, m = hi.hist[hi.keep], len(lo.keys)
        num = np.bincount(hist, weights=hi.f[hi.keep], minlength=m)
        den = np.bincount(hist, weights=p[hi.suffix[hi.keep]], minlength=m)
        ok = (np.bincount(hist, minlength=m) > 0) & (den < 1)
        lo.bow = np.full(m, np.nan)
        lo.bow[ok] = (1.0 - num[ok]) / (1.0 - den[ok])
        p = np.where(hi.keep, hi.f, np.where(ok, lo.bow, 1.0)[hi.hist] * p[hi.suffix])
    orders[-1].bow = np.full(len(orders[-1].keys), np.nan)


# ---------------------------------------------------------------------------------------------
# Writing


def _write_arpa(path: Path, gz: bool, orders: list[_Order], words: list[str]) -> list[int]:
    """Write the kept n-grams as ARPA (log10 values, 7 decimals, as kaldingram); returns the n-gram counts.

    The text of each kept n-gram is held only until the next order has used it as a prefix."""
    counts = [int(o.keep.sum()) for o in orders]
    f = gzip.open(path, "wt", encoding="utf-8", compresslevel=6) if gz else open(path, "w", encoding="utf-8")
    with f:
        f.write("\\data\\\n" + "".join(f"ngram {k}={n}\n" for k, n in enumerate(counts, 1)) + "\n")
        prev_idx, prev_text = np.zeros(0, np.int64), []
        for k, o in enumerate(orders, 1):
            f.write(f"\\{k}-grams:\n")
            kept, text = np.flatnonzero(o.keep), []
            for a in range(0, len(kept), BLOCK):
                idx = kept[a:a + BLOCK]
                if k == 1:
                    block = [words[w] for w in o.word[idx].tolist()]
                else:
                    pos = np.searchsorted(prev_idx, o.hist[idx]).tolist()  # a kept n-gram's prefix is kept
                    block = [prev_text[j] + " " + words[w] for j, w in zip(pos, o.word[idx].tolist())]
                with np.errstate(divide="ignore", invalid="ignore"):
                    logp = np.minimum(np.log10(np.maximum(o.f[idx], 1e-99)), 0.0).tolist()  # f = 0: -99
                    logb = np.log10(o.bow[idx]).tolist()  # NaN: no back-off weight
                f.write("".join(f"{p:.7f}\t{t}\n" if b != b else f"{p:.7f}\t{t}\t{b:.7f}\n"
                                for p, t, b in zip(logp, block, logb)))
                if k < len(orders):
                    text += block
            f.write("\n")
            prev_idx, prev_text = kept, text
        f.write("\\end\\\n")
    return counts
