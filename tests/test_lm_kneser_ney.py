"""Tests for asr/lm/kneser_ney.py: the NumPy Kneser-Ney estimator is kaldingram's model (train_arpa)
when nothing is pruned; pruning (max_vocab, min_counts) keeps every history normalised and the ARPA
prefix-closed; .gz output; the LM stage with pruning."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

import asr.lm.kneser_ney as kn
from asr.data.tokens import build_token_table, write_tokens
from asr.decoding.lm import UNK, read_arpa, read_lexicon, train_arpa
from asr.lm import LMConfig
from asr.lm import KNError, train_kn_arpa
from asr.recipe.stages import lm_stage


def varied_text(n: int = 300, seed: int = 0) -> list[str]:
    """n sentences of 1..14 words: a Zipf-like vocabulary of 120 words plus repeated phrases (so n-grams
    of counts 1, 2 and more at every order), an apostrophe word, and a one-word sentence now and then."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(117)] + ["the", "it's", "of"]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    phrases = [["the", "cat", "sat"], ["on", "the", "mat"], ["it's", "a", "dog"]]
    out = []
    for _ in range(n):
        words = rng.choices(vocab, weights, k=rng.randint(1, 10))
        if rng.random() < 0.4:
            at = rng.randint(0, len(words))
            words[at:at] = rng.choice(phrases)
        out.append(" ".join(words))
    return out + ["", "  "]  # empty sentences are skipped by both


def read_both(tmp_path: Path, text: list[str], order: int, vocab=(), **kw):
    ref = tmp_path / "ref.arpa"
    ref.write_text(train_arpa(text, order, vocab))
    ours = tmp_path / "ours.arpa"
    stats = train_kn_arpa(text, ours, order, vocab=vocab, **kw)
    return read_arpa(ref), read_arpa(ours), stats


def assert_same_model(a, b, tol: float = 1e-4) -> None:
    assert a.prob.keys() == b.prob.keys()
    assert a.backoff.keys() == b.backoff.keys()
    assert max(abs(a.prob[k] - b.prob[k]) for k in a.prob) < tol
    assert max([abs(a.backoff[k] - b.backoff[k]) for k in a.backoff] or [0]) < tol


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("vocab", [(), ("zebra", "w3", UNK, "yak")])
def test_unpruned_model_is_kaldingrams(tmp_path, order, vocab):
    text = varied_text()
    ref, ours, stats = read_both(tmp_path, text, order, vocab)
    assert_same_model(ref, ours)
    assert (stats.sentences, stats.words) == (300, sum(len(t.split()) for t in text))
    assert stats.ngrams == [sum(1 for k in ours.prob if len(k) == n) for n in range(1, order + 1)]
    assert stats.bytes == (tmp_path / "ours.arpa").stat().st_size


@pytest.mark.parametrize("order", [2, 3, 4])
def test_counting_in_many_chunks_gives_the_same_model(tmp_path, monkeypatch, order):
    monkeypatch.setattr(kn, "CHUNK", 37)  # n-grams split across chunks, merged and indexed globally
    monkeypatch.setattr(kn, "BLOCK", 11)
    ref, ours, _ = read_both(tmp_path, varied_text(seed=3), order)
    assert_same_model(ref, ours)


def test_a_model_that_differs_fails_the_comparison(tmp_path):
    """The comparison can fail: one more sentence changes probabilities and back-off weights."""
    ref, _, _ = read_both(tmp_path, varied_text(), 3)
    _, other, _ = read_both(tmp_path, [*varied_text(), "the cat sat on the mat"], 3)
    with pytest.raises(AssertionError):
        assert_same_model(ref, other)


def histories(lm, text: list[str], n: int = 40) -> list[tuple[str, ...]]:
    """Contexts to check: the first histories of the text's sentences, unseen ones, one with an OOV."""
    out = [("<s>",), ("<s>", "the"), ("the", "cat"), ("nope", "the"), ("w0", "w1"), ("w1", "w0"), ()]
    for t in text:
        words = ["<s>", *t.split()]
        for i in range(1, len(words)):
            out.append(tuple(words[max(0, i - lm.order + 1):i]))
    return out[:n] + out[-n:]


def assert_normalised(lm, text: list[str]) -> None:
    words = sorted(lm.vocab - {"<s>"})
    for h in histories(lm, text):
        total = sum(10 ** lm.log10_prob(w, h) for w in words)
        assert total == pytest.approx(1.0, abs=1e-3), h


@pytest.mark.parametrize("order, min_counts", [(3, (1, 2, 2)), (3, (1, 3, 2)), (4, (0, 2, 2, 3)), (2, (1, 3))])
def test_count_pruning_keeps_each_history_normalised_and_prefixes(tmp_path, order, min_counts):
    text = varied_text()
    full, pruned, stats = read_both(tmp_path, text, order, min_counts=min_counts)
    assert_normalised(pruned, text)
    counts: Counter = Counter()
    for t in text:
        words = ["<s>", *t.split(), "</s>"] if t.strip() else []
        for k in range(2, order + 1):
            counts.update(tuple(words[i:i + k]) for i in range(len(words) - k + 1))
    kept = {ng for ng in pruned.prob if len(ng) > 1}
    dropped = {ng for ng in full.prob if len(ng) > 1} - kept
    assert dropped and kept <= set(full.prob)
    assert all(counts[ng] < min_counts[len(ng) - 1] for ng in dropped)  # at or above the minimum: kept
    needed = {ng[:-1] for ng in kept if len(ng) > 2}
    below = {ng for ng in kept if counts[ng] < min_counts[len(ng) - 1]}
    assert below <= needed  # kept below the minimum only as the history of a kept n-gram
    assert bool(below) == (min_counts == (1, 3, 2))  # bigrams of count 2 that start kept trigrams of count 2
    for ng in kept:
        assert ng[:-1] in pruned.prob  # prefix closure: ARPA keeps the back-off weight of the history
        assert pruned.prob[ng] == pytest.approx(full.prob[ng], abs=1e-6)  # kept n-grams keep their f
    assert {k for k in full.prob if len(k) == 1} == {k for k in pruned.prob if len(k) == 1}
    assert stats.ngrams[1:] == [sum(1 for k in kept if len(k) == n) for n in range(2, order + 1)]


def test_unpruned_models_are_normalised_too(tmp_path):
    text = varied_text(seed=5)
    _, ours, _ = read_both(tmp_path, text, 3, vocab=("zebra",))
    assert_normalised(ours, text)


def test_max_vocab_counts_the_rest_as_unk(tmp_path):
    text = ["a a a b b c", "b a d d e", "c c f g", "a d"]  # a:5, b c d:3, e f g:1
    stats = train_kn_arpa(text, tmp_path / "lm.arpa", 3, max_vocab=3, vocab=["e", "zed", "a"])
    lm = read_arpa(tmp_path / "lm.arpa")
    assert lm.vocab == {"<s>", "</s>", UNK, "a", "b", "c", "e", "zed"}  # b and c win the tie with d
    assert stats.unk_words == 6 and stats.words == 17 and stats.ngrams[0] == 8
    # <unk> has real n-gram statistics: "a d" and "b a d" were counted as "a <unk>", "b a <unk>"
    assert ("a", UNK) in lm.prob and ("b", "a", UNK) in lm.prob and (UNK, "</s>") in lm.prob
    assert lm.log10_prob("d", ("b", "a")) == lm.log10_prob(UNK, ("b", "a")) == lm.prob[("b", "a", UNK)]
    # e and zed (vocab words outside the kept three) share <unk>'s unigram probability evenly
    assert lm.prob[("e",)] == lm.prob[("zed",)] == lm.prob[(UNK,)]
    plain = train_kn_arpa(text, tmp_path / "plain.arpa", 3, max_vocab=3)
    assert 10 ** read_arpa(tmp_path / "plain.arpa").prob[(UNK,)] == pytest.approx(3 * 10 ** lm.prob[(UNK,)], rel=1e-5)
    assert plain.ngrams[0] == 6
    assert_normalised(lm, text)


def test_max_vocab_at_or_above_the_vocabulary_changes_nothing(tmp_path):
    text = varied_text()
    ref, ours, stats = read_both(tmp_path, text, 3, max_vocab=len({w for t in text for w in t.split()}))
    assert_same_model(ref, ours)
    assert stats.unk_words == 0


def test_max_vocab_with_count_pruning_on_varied_text(tmp_path):
    text = varied_text(seed=7)
    train_kn_arpa(text, tmp_path / "lm.arpa", 3, max_vocab=40, min_counts=(1, 2, 2))
    lm = read_arpa(tmp_path / "lm.arpa")
    assert len(lm.vocab) == 43
    assert_normalised(lm, text)


def test_gzipped_output_reads_back_the_same(tmp_path):
    text = varied_text()
    plain = train_kn_arpa(text, tmp_path / "lm.arpa", 3, min_counts=(1, 2))
    gz = train_kn_arpa(text, tmp_path / "lm.arpa.gz", 3, min_counts=(1, 2))
    assert (tmp_path / "lm.arpa.gz").read_bytes()[:2] == b"\x1f\x8b"
    a, b = read_arpa(tmp_path / "lm.arpa"), read_arpa(tmp_path / "lm.arpa.gz")
    assert a.prob == b.prob and a.backoff == b.backoff
    assert plain.ngrams == gz.ngrams and gz.bytes < plain.bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm.arpa", "lm.arpa.gz"]  # no temporary left


@pytest.mark.parametrize(
    "text, kw, message",
    [
        (["", " "], {}, "no text"),
        (["the <unk> sat"], {}, "contains <unk>"),
        (["the </s> sat"], {}, "contains <s> or </s>"),
        (["a b"], {"order": 6}, "order must be 1..5"),
        (["a b"], {"min_counts": (2, 2)}, "unigrams"),
        (["a b"], {"min_counts": (1, 2, 2, 2)}, "up to 3"),
    ],
)
def test_bad_input_is_refused(tmp_path, text, kw, message):
    kw = {"order": 3, **kw}
    with pytest.raises(KNError, match=message):
        train_kn_arpa(text, tmp_path / "lm.arpa", kw.pop("order"), **kw)
    assert not (tmp_path / "lm.arpa").exists()


def test_lm_stage_with_max_vocab_keeps_the_lexicon_to_the_lm_and_the_training_words(tmp_path):
    train = ["the cat sat on the mat", "the dog sat", "a cat ran"]
    tokens = build_token_table(train + ["horse ate hay"])
    data = tmp_path / "data"
    for s, lines in (("train", train), ("dev", ["the cat sat", "a horse sat"])):
        (data / s).mkdir(parents=True)
        (data / s / "text").write_text("".join(f"{s}-{i:03d} {t}\n" for i, t in enumerate(lines)))
    (data / "lang").mkdir()
    (data / "local").mkdir()
    write_tokens(data / "lang" / "tokens.txt", tokens)
    (data / "local" / "more.txt").write_text("the horse ate the hay\nthe horse sat\nthe horse ran\n")
    cfg = LMConfig(order=3, extra_text=["local/more.txt"], max_vocab=5, min_counts=[1, 1, 2])
    lm_stage(data, cfg, eval_sets=["dev"])
    lm = read_arpa(data / "lang" / "lm.arpa")
    assert lm.vocab - {"<s>", "</s>", UNK} == {"the", "horse", "sat", "cat", "ran"}  # the five most frequent
    lexicon = read_lexicon(data / "lang" / "lexicon.txt", tokens)
    assert set(lexicon) == {"the", "horse", "sat", "cat", "ran", "on", "mat", "dog", "a"}  # no 'ate', 'hay'
    assert "dev: 2 sentences, 6 words, 1 OOVs" in (data / "lang" / "lm_eval.txt").read_text()  # 'a'
