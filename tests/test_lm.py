"""Tests for asr/decoding/lm.py and the LM stage: ARPA training with <unk>, reading it back (ours and
KenLM's), perplexity, the lexicon, and errors that name the file and line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from asr.data.tokens import build_token_table, write_tokens
from asr.lm import LMConfig
from asr.decoding.lm import (
    UNK,
    LMError,
    SpellingModel,
    build_lexicon,
    perplexity,
    read_arpa,
    read_lexicon,
    train_arpa,
    write_arpa,
    write_lexicon,
)
from asr.recipe.stages import lm_stage

TRAIN = ["the cat sat on the mat", "the dog sat", "a cat ran", "the cat ran on the mat", "it's a dog"]
TOKENS = build_token_table(TRAIN)


@pytest.fixture
def arpa(tmp_path: Path) -> Path:
    path = tmp_path / "lm.arpa"
    write_arpa(path, TRAIN, order=3)
    return path


def test_trained_lm_has_unk_and_unigrams_sum_to_one(arpa):
    lm = read_arpa(arpa)
    assert lm.order == 3
    assert {UNK, "<s>", "</s>", "cat", "it's"} <= lm.vocab
    total = sum(10 ** p for ng, p in lm.prob.items() if len(ng) == 1 and ng != ("<s>",))
    assert total == pytest.approx(1.0, abs=1e-5)
    assert -3 < lm.prob[(UNK,)] < 0  # some mass, not all of it


@pytest.mark.parametrize("order", [1, 2, 4])
def test_other_orders_train_and_read(tmp_path, order):
    path = tmp_path / "lm.arpa"
    write_arpa(path, TRAIN, order=order)
    assert read_arpa(path).order == order


def test_in_context_words_are_likelier_and_oovs_fall_back_to_unk(arpa):
    lm = read_arpa(arpa)
    assert lm.log10_prob("sat", ("the", "cat")) > lm.log10_prob("mat", ("the", "cat"))
    assert lm.log10_prob("zebra", ("the",)) == lm.log10_prob(UNK, ("the",))


def test_perplexity_matches_kaldingram_and_counts_oovs(arpa):
    from kaldingram.ppl import compute_ppl
    from kaldingram.prune import ArpaParser

    text = ["the cat sat on a mat", "the zebra ran", ""]
    ours = perplexity(read_arpa(arpa), text)
    theirs = compute_ppl(ArpaParser().loadf(str(arpa))[0], text)
    assert (ours.sentences, ours.words, ours.oovs) == (2, 9, 1)
    assert ours.oov_rate == pytest.approx(100 / 9)
    assert ours.log10_prob == pytest.approx(theirs["logprob"], abs=1e-4)
    assert ours.ppl == pytest.approx(theirs["ppl"], rel=1e-5)


def _kenlm_sentence_score(path: Path, words: list[str]) -> float:
    """log10 P(<s> words </s>) through flashlight's KenLM (what the LM decoder uses)."""
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import create_word_dict

    word_dict = create_word_dict({w: [[w]] for w in [*words, UNK]})
    lm = KenLM(str(path), word_dict)
    state = lm.start(False)
    total = 0.0
    for w in words:
        state, s = lm.score(state, word_dict.get_index(w))
        total += s
    _, s = lm.finish(state)
    return total + s


def test_arpa_written_by_the_lm_stage_is_read_back_by_kenlm(tmp_path):
    data = tmp_path / "data"
    for s, lines in (("train", TRAIN), ("dev", ["the cat sat", "a zebra sat"])):
        (data / s).mkdir(parents=True)
        (data / s / "text").write_text("".join(f"{s}-{i:03d} {t}\n" for i, t in enumerate(lines)))
    (data / "lang").mkdir()
    write_tokens(data / "lang" / "tokens.txt", TOKENS)

    lm_stage(data, LMConfig(order=3), eval_sets=["dev"])

    path = data / "lang" / "lm.arpa"
    ours = read_arpa(path)
    for sentence in ["the cat sat on the mat", "a dog ran", "the zebra sat"]:
        words = sentence.split()
        assert _kenlm_sentence_score(path, words) == pytest.approx(ours.sentence_log10_prob(words), abs=1e-4)
    assert read_lexicon(data / "lang" / "lexicon.txt", TOKENS)["it's"] == ("i", "t", "'", "s", "|")
    report = (data / "lang" / "lm_eval.txt").read_text()
    assert "dev: 2 sentences, 6 words, 1 OOVs (16.67%)" in report


def _lm_data(tmp_path: Path) -> Path:
    """data/{train,dev}/text (dev has 'horse', which train lacks), data/lang/tokens.txt, an empty data/local."""
    data = tmp_path / "data"
    for s, lines in (("train", TRAIN), ("dev", ["the cat sat", "a horse sat"])):
        (data / s).mkdir(parents=True)
        (data / s / "text").write_text("".join(f"{s}-{i:03d} {t}\n" for i, t in enumerate(lines)))
    (data / "lang").mkdir()
    (data / "local").mkdir()
    write_tokens(data / "lang" / "tokens.txt", TOKENS)
    return data


def test_extra_lm_text_widens_the_vocabulary_and_never_reads_dev(tmp_path):
    data = _lm_data(tmp_path)
    (data / "local" / "more.txt").write_text("the horse ate\nthe zebra sat\n")  # no 'z' among the tokens
    lm_stage(data, LMConfig(order=2, extra_text=["local/more.txt"]), eval_sets=["dev"])
    report = (data / "lang" / "lm_eval.txt").read_text()
    assert "data/train/text + data/local/more.txt" in report and "dev: 2 sentences, 6 words, 0 OOVs" in report
    lexicon = read_lexicon(data / "lang" / "lexicon.txt", TOKENS)
    assert "horse" in lexicon and "ate" in lexicon and "zebra" not in lexicon and "dog" in lexicon
    lm = read_arpa(data / "lang" / "lm.arpa")
    assert lm.sentence_log10_prob(["the", "horse", "ate"]) > lm.sentence_log10_prob(["the", "horse", "ran"])


def test_extra_vocabulary_shares_the_unk_mass_and_stays_normalised():
    plain = _lm_from(train_arpa(TRAIN, order=3))
    wide = _lm_from(train_arpa(TRAIN, order=3, vocab=["horse", "zebra", "cat", UNK]))  # cat is in the text already
    assert {"horse", "zebra"} <= wide.vocab and "horse" not in plain.vocab
    total = sum(10 ** p for ng, p in wide.prob.items() if len(ng) == 1 and ng != ("<s>",))
    assert total == pytest.approx(1.0, abs=1e-5)
    # <unk>'s mass split three ways (<unk>, horse, zebra); the words of the text keep their probabilities
    assert 10 ** wide.prob[("horse",)] == pytest.approx(10 ** plain.prob[(UNK,)] / 3, rel=1e-4)
    assert wide.prob[("horse",)] == pytest.approx(wide.prob[(UNK,)], abs=1e-6)
    assert wide.log10_prob("sat", ("the", "cat")) == pytest.approx(plain.log10_prob("sat", ("the", "cat")), abs=1e-6)
    assert wide.log10_prob("horse", ("the",)) < wide.log10_prob("dog", ("the",))  # seen words stay likelier


def _lm_from(arpa_text: str):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".arpa") as f:
        f.write(arpa_text)
        f.flush()
        return read_arpa(f.name)


def test_lm_stage_extra_vocabulary_joins_lm_and_lexicon(tmp_path):
    data = _lm_data(tmp_path)
    (data / "local" / "words.txt").write_text("horse\nzebra\ncat\n")  # zebra: no 'z' among the tokens
    lm_stage(data, LMConfig(order=2, extra_vocab=["local/words.txt"]), eval_sets=["dev"])
    report = (data / "lang" / "lm_eval.txt").read_text()
    assert "1 of them only from the word lists data/local/words.txt" in report and "dev: 2 sentences, 6 words, 0 OOVs" in report
    lexicon = read_lexicon(data / "lang" / "lexicon.txt", TOKENS)
    assert "horse" in lexicon and "zebra" not in lexicon
    assert "zebra" not in read_arpa(data / "lang" / "lm.arpa").vocab


def test_train_rejects_empty_text_and_bad_order():
    with pytest.raises(ValueError, match="no text"):
        train_arpa(["", "  "])
    with pytest.raises(ValueError, match="order"):
        train_arpa(TRAIN, order=7)


GOOD_ARPA = """\\data\\
ngram 1=4
ngram 2=1

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.3
-0.5\t</s>
-0.4\tcat\t-0.2

\\2-grams:
-0.1\t<s> cat

\\end\\
"""


@pytest.mark.parametrize(
    "text, message",
    [
        ("hello\n", "no \\\\data\\\\ header"),
        (GOOD_ARPA.replace("ngram 1=4", "ngram 1=5"), "declares ngram 1=5 but the file has 4"),
        (GOOD_ARPA.replace("-0.4\tcat\t-0.2", "-0.4"), "line 9: a 1-gram line needs"),
        (GOOD_ARPA.replace("-0.1\t<s> cat", "x\t<s> cat"), "line 12: not a number"),
        (GOOD_ARPA.replace("-0.1\t<s> cat", "0.5\t<s> cat"), "line 12: log10 probability must be <= 0"),
        (GOOD_ARPA.replace("\\end\\\n", ""), "ends without \\\\end\\\\"),
        (GOOD_ARPA.replace("-1.0\t<unk>\n", "-1.0\tdog\n"), "no <unk> unigram"),
        (GOOD_ARPA.replace("ngram 2=1", "ngram 2=x"), "line 3: expected 'ngram N=COUNT'"),
        (GOOD_ARPA.replace("-0.5\t</s>", "-0.4\tcat"), "line 9: duplicate 1-gram 'cat'"),
    ],
)
def test_malformed_arpa_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(LMError, match=message) as err:
        read_arpa(path)
    assert str(path) in str(err.value)


def test_missing_arpa_and_good_arpa(tmp_path):
    with pytest.raises(LMError, match="ARPA file not found"):
        read_arpa(tmp_path / "nope.arpa")
    (tmp_path / "ok.arpa").write_text(GOOD_ARPA)
    lm = read_arpa(tmp_path / "ok.arpa")
    assert lm.log10_prob("cat", ("<s>",)) == pytest.approx(-0.1)
    assert lm.log10_prob("</s>", ("<s>",)) == pytest.approx(-0.3 - 0.5)  # back-off weight of <s>, then unigram
    assert lm.sentence_log10_prob([]) == pytest.approx(-0.8)
    assert math.isfinite(lm.log10_prob("dog", ("cat",)))


def test_lexicon_round_trip(tmp_path):
    lex = build_lexicon(["cat", "it's", "cat"], TOKENS)
    assert lex == {"cat": ("c", "a", "t", "|"), "it's": ("i", "t", "'", "s", "|")}
    write_lexicon(tmp_path / "lexicon.txt", lex)
    assert (tmp_path / "lexicon.txt").read_text() == "cat c a t |\nit's i t ' s |\n"
    assert read_lexicon(tmp_path / "lexicon.txt", TOKENS) == lex


def test_build_lexicon_rejects_unknown_character():
    with pytest.raises(LMError, match="'z'"):
        build_lexicon(["zoo"], TOKENS)


@pytest.mark.parametrize(
    "text, message",
    [
        ("cat c a t |\ndog d o g |\nzoo z o o |\n", "line 3: word 'zoo': token 'z' is not in tokens.txt"),
        ("cat c a t\n", "line 1: expected 'word t1 ... tn |'"),
        ("cat |\n", "line 1: expected"),
        ("cat c a t |\n\n", "line 2: empty line"),
        ("cat c a t |\ncat c a a t |\n", "line 2: duplicate word 'cat'"),
        ("cat c <blk> t |\n", "line 1: word 'cat': the blank"),
        ("cat c | t |\n", "line 1: word 'cat': '|' may only end"),
        ("", "empty lexicon"),
    ],
)
def test_malformed_lexicon_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "lexicon.txt"
    path.write_text(text)
    with pytest.raises(LMError, match=message) as err:
        read_lexicon(path, TOKENS)
    assert str(path) in str(err.value)


def test_missing_lexicon(tmp_path):
    with pytest.raises(LMError, match="lexicon file not found"):
        read_lexicon(tmp_path / "lexicon.txt", TOKENS)


def test_spelling_model_prefers_familiar_spellings_and_is_normalised():
    sp = SpellingModel(["cat", "car", "cart", "tar"])
    assert sp.log10_word("cat") > sp.log10_word("cqx")
    assert sp.log10_word("car") < sp.log10_prefix("car") < sp.log10_prefix("ca") < 0
    # Over every symbol it has seen follow 'a', plus the unseen slot, P(. | 'a') sums to 1.
    seen = {b for (a, b) in sp._pair if a == "a"}
    assert sum(10 ** sp.log10_next("a", b) for b in seen) + 10 ** sp.log10_next("a", "?") * (sp._n_out - len(seen)) == pytest.approx(1.0)


def test_gzipped_arpa_reads_the_same_and_kenlm_gets_a_plain_copy(arpa, tmp_path):
    import gzip

    from asr.decoding.lm import plain_path

    gz = tmp_path / "lm.arpa.gz"
    gz.write_bytes(gzip.compress(Path(arpa).read_bytes()))
    a, b = read_arpa(arpa), read_arpa(gz)
    assert a.prob == b.prob and a.backoff == b.backoff
    assert plain_path(arpa) == Path(arpa)
    plain = plain_path(gz)
    assert plain != gz and plain.read_bytes() == Path(arpa).read_bytes()
    assert plain_path(gz) == plain  # made once per LM
    (tmp_path / "bad.arpa.gz").write_bytes(b"not gzip")
    with pytest.raises(LMError, match="bad.arpa.gz"):
        read_arpa(tmp_path / "bad.arpa.gz")
