"""Tests for asr/decoding/beam_search.py and asr/decoding/registry.py on hand-made emissions: prefix beam search
against brute force and greedy, the LM decoders (lexicon and lexicon-free), empty input, bad
LM/lexicon files, the model directory's default decoder, and CTM output."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from asr.data.features import FbankConfig
from asr.data.tokens import build_token_table, write_tokens
from asr.decoding.base import DecoderConfig, DecoderError
from asr.decoding.beam_search import prefix_beam_search
from asr.decoding.beam_search import BeamSearchDecoder
from asr.decoding.greedy import GreedyDecoder
from asr.decoding.registry import build_decoder
from asr.decoding.flashlight import LexiconLMDecoder
from asr.decoding.greedy import greedy_decode
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.lm import LMError, build_lexicon, write_arpa, write_lexicon
from asr.decoding.loop import decode_cached
from asr.nn.checkpoint import save_atomic
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.nn.modeldir import ModelDir
from asr.transcribe.recognizer import decoder_config, load_recognizer
from asr.transcribe.timing import timed_words

TRAIN = ["the cat sat on the mat", "the cat ran", "a dog sat on the mat", "the dog ran to the cat"]
TOKENS = build_token_table(["abcdefghijklmnopqrstuvwxyz"])
BLANK = "_"


def emissions(frames: list[dict[str, float]]) -> torch.Tensor:
    """One frame per dict {symbol: probability} ('_' is blank; the rest of the mass is spread
    evenly over the other tokens) -> log-probs [1, T, V]."""
    v = len(TOKENS)
    out = torch.empty(1, len(frames), v)
    for t, probs in enumerate(frames):
        rest = (1.0 - sum(probs.values())) / (v - len(probs))
        row = torch.full((v,), rest)
        for sym, p in probs.items():
            row[0 if sym == BLANK else TOKENS.symbols.index(sym)] = p
        out[0, t] = row.log()
    return out


def spell(text: str, peak: float = 0.95) -> list[dict[str, float]]:
    """Peaky frames for `text` as our model emits it: each symbol, then a blank; '|' between words."""
    frames = []
    for ch in text.replace(" ", "|"):
        frames += [{ch: peak}, {BLANK: peak}]
    return frames


@pytest.fixture(scope="module")
def lm_files(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("lm")
    write_arpa(d / "lm.arpa", TRAIN, order=3)
    write_lexicon(d / "lexicon.txt", build_lexicon({w for t in TRAIN for w in t.split()}, TOKENS))
    return d / "lm.arpa", d / "lexicon.txt"


def lm_decoder(lm_files, lexicon: bool = True, **kw):
    lm, lex = lm_files
    cfg = DecoderConfig(kind="lm", lm=str(lm), lexicon=str(lex) if lexicon else None, lm_beam=20, **kw)
    return build_decoder(cfg, TOKENS)


def decode_one(decoder, em: torch.Tensor) -> Hypothesis:
    return decoder.decode(em, torch.tensor([em.shape[1]]))[0]


# ----------------------------------------------------------------------------- prefix beam search


def best_labelling_by_brute_force(log_probs: torch.Tensor) -> tuple[tuple[int, ...], float]:
    """Sum the probability of every alignment [T] into its labelling; return the best one."""
    t_len, v = log_probs.shape
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(v), repeat=t_len):
        p = math.exp(sum(float(log_probs[t, c]) for t, c in enumerate(path)))
        label = tuple(c for t, c in enumerate(path) if c != 0 and (t == 0 or path[t - 1] != c))
        totals[label] = totals.get(label, 0.0) + p
    best = max(totals, key=totals.get)
    return best, math.log(totals[best])


def test_prefix_search_finds_the_best_labelling_where_greedy_is_wrong():
    # Two frames, P(a) = 0.4, P(blank) = 0.6: greedy's best path is "_ _" (0.36), but "a" has
    # three paths (aa, a_, _a) worth 0.64 together.
    lp = torch.tensor([[[0.6, 0.0, 0.4], [0.6, 0.0, 0.4]]]).clamp(min=1e-12).log()
    assert greedy_decode(lp, torch.tensor([2]), build_token_table(["a"]))[0].tokens == []
    [[best]] = prefix_beam_search(lp, torch.tensor([2]), beam=4)
    assert best.tokens == [2]
    assert best.score == pytest.approx(math.log(0.64), abs=1e-5)


@pytest.mark.parametrize("seed", range(30))
def test_prefix_search_matches_brute_force_on_random_emissions(seed):
    g = torch.Generator().manual_seed(seed)
    lp = (torch.randn(1, 5, 3, generator=g) * 1.5).log_softmax(-1)
    label, score = best_labelling_by_brute_force(lp[0])
    [[best]] = prefix_beam_search(lp, torch.tensor([5]), beam=16)
    assert tuple(best.tokens) == label
    assert best.score == pytest.approx(score, abs=1e-4)


def test_beam_one_equals_greedy_on_peaky_emissions():
    # A trained CTC model puts most of each frame's mass on one token; then beam 1 is greedy
    # (tokens and frames alike). Lengths include 0 and utterances shorter than the batch.
    g = torch.Generator().manual_seed(0)
    n, t, v = 16, 40, len(TOKENS)
    best = torch.randint(0, v, (n, t), generator=g)
    best[torch.rand(n, t, generator=g) < 0.5] = 0  # half the frames blank, as CTC emits
    logits = torch.randn(n, t, v, generator=g).scatter(2, best.unsqueeze(2), 9.0)
    lp = logits.log_softmax(-1)
    assert float(lp.exp().max(-1).values.min()) > 0.9
    lengths = torch.randint(0, t + 1, (n,), generator=g)
    lengths[0] = 0
    greedy = GreedyDecoder(TOKENS).decode(lp, lengths)
    beam = BeamSearchDecoder(TOKENS, beam=1).decode(lp, lengths)
    assert [(h.tokens, h.timesteps, h.text) for h in beam] == [(h.tokens, h.timesteps, h.text) for h in greedy]


def test_nbest_is_sorted_and_distinct():
    em = emissions([{"a": 0.5, "b": 0.3}, {BLANK: 0.6}, {"c": 0.5, "d": 0.4}])
    [nbest] = BeamSearchDecoder(TOKENS, beam=8, nbest=4).decode_nbest(em, torch.tensor([3]))
    assert [h.text for h in nbest][:2] == ["ac", "ad"]
    assert len({h.text for h in nbest}) == len(nbest) == 4
    assert [h.score for h in nbest] == sorted((h.score for h in nbest), reverse=True)


# ----------------------------------------------------------------------------- LM decoders


def misspelled_cat() -> torch.Tensor:
    """'the kat sat': the frame of 'cat's first letter says k (0.55) more than c (0.4)."""
    frames = spell("the kat sat")
    k = next(i for i, f in enumerate(frames) if "k" in f)
    frames[k] = {"k": 0.55, "c": 0.4}
    return emissions(frames)


def test_lm_decoder_prefers_a_word_in_the_vocabulary_over_a_misspelling(lm_files):
    em = misspelled_cat()
    assert decode_one(GreedyDecoder(TOKENS), em).text == "the kat sat"
    assert decode_one(BeamSearchDecoder(TOKENS, beam=8), em).text == "the kat sat"
    assert decode_one(lm_decoder(lm_files), em).text == "the cat sat"
    assert decode_one(lm_decoder(lm_files, lexicon=False, lm_weight=1.0, unk_score=-2.0), em).text == "the cat sat"


def test_lexicon_free_decoding_keeps_words_outside_the_lexicon(lm_files):
    em = emissions(spell("the cow sat"))  # 'cow' is in neither the lexicon nor the LM
    assert decode_one(lm_decoder(lm_files, lexicon=False), em).text == "the cow sat"
    assert "cow" not in decode_one(lm_decoder(lm_files), em).text.split()


@pytest.mark.parametrize("lexicon", [True, False])
def test_lm_hypothesis_tokens_and_frames_follow_our_layout(lm_files, lexicon):
    # The last word needs no trailing '|' from the model; tokens hold '|' only between words.
    em = emissions(spell("the cat sat"))
    hyp = decode_one(lm_decoder(lm_files, lexicon=lexicon), em)
    assert hyp.text == "the cat sat"
    assert hyp.tokens == TOKENS.encode("the cat sat")
    assert hyp.timesteps == list(range(0, 2 * len("the cat sat"), 2))
    assert math.isfinite(hyp.score)


def test_lm_decoders_with_nbest(lm_files):
    [nbest] = lm_decoder(lm_files, nbest=3).decode_nbest(misspelled_cat(), torch.tensor([misspelled_cat().shape[1]]))
    assert nbest[0].text == "the cat sat" and 1 <= len(nbest) <= 3
    assert [h.score for h in nbest] == sorted((h.score for h in nbest), reverse=True)


@pytest.mark.parametrize("cfg", ["greedy", "beam", "lm", "lm-free"])
def test_empty_utterances_decode_to_empty_hypotheses(lm_files, cfg):
    decoder = lm_decoder(lm_files, lexicon=cfg == "lm") if cfg.startswith("lm") else build_decoder(DecoderConfig(cfg), TOKENS)
    assert decoder.decode(torch.zeros(1, 0, len(TOKENS)), torch.tensor([0])) == [Hypothesis("", [], 0.0, [])]
    em = emissions(spell("the cat"))
    batch = torch.cat([em, em])
    hyps = decoder.decode(batch, torch.tensor([0, em.shape[1]]))
    assert hyps[0] == Hypothesis("", [], 0.0, []) and hyps[1].text == "the cat"


def test_decode_emissions_batches_by_length(lm_files):
    ems = {f"u{i}": emissions(spell(t))[0] for i, t in enumerate(["the cat", "a dog sat on the mat", "ran"])}
    ems["empty"] = torch.zeros(0, len(TOKENS))
    for decoder in (BeamSearchDecoder(TOKENS, beam=4), lm_decoder(lm_files)):
        hyps = decode_cached(decoder, ems, max_frames=50)
        assert {u: h.text for u, h in hyps.items()} == {"u0": "the cat", "u1": "a dog sat on the mat", "u2": "ran", "empty": ""}


def test_lexicon_decoders_share_the_lm_and_trie_and_match_torchaudios_ctc_decoder(lm_files, tmp_path):
    """Decoders over the same files share one KenLM and trie (the LM tuning's grid points); each decodes as
    torchaudio's ctc_decoder built from scratch with its weights does, on random emissions."""
    from torchaudio.models.decoder import ctc_decoder

    grid = [dict(lm_weight=w, word_score=ws) for w in (0.5, 2.0) for ws in (-1.0, 0.0)]
    decoders = [lm_decoder(lm_files, nbest=2, **kw) for kw in grid]
    assert all(d.search is decoders[0].search for d in decoders)
    gen = torch.Generator().manual_seed(0)
    for d, kw in zip(decoders, grid):
        reference = ctc_decoder(lexicon=str(lm_files[1]), tokens=list(TOKENS.symbols), lm=str(lm_files[0]), nbest=2,
                                beam_size=20, beam_size_token=8, beam_threshold=25.0, blank_token="<blk>",
                                sil_token="|", unk_word="<unk>", **kw)
        for _ in range(5):
            em = torch.randn(1, 12, len(TOKENS), generator=gen).mul(3).log_softmax(-1)
            em = torch.cat([em[0], torch.full((1, len(TOKENS)), -1e4).index_fill(1, torch.tensor([TOKENS.word_sep_id]), 0.0)])
            ours = d._search(em.contiguous())
            theirs = [(r.tokens.tolist(), r.timesteps.tolist(), list(r.words), float(r.score)) for r in reference(em[None])[0]]
            assert ours == theirs
    # a rewritten LM is read again; other files make another search
    lm2 = tmp_path / "lm.arpa"
    write_arpa(lm2, TRAIN[:2], order=2)
    other = build_decoder(DecoderConfig(kind="lm", lm=str(lm2), lexicon=str(lm_files[1])), TOKENS)
    assert other.search is not decoders[0].search and other.search.lm is not decoders[0].search.lm
    assert build_decoder(DecoderConfig(kind="lm", lm=str(lm2), lexicon=str(lm_files[1])), TOKENS).search is other.search
    write_arpa(lm2, TRAIN, order=3)
    assert build_decoder(DecoderConfig(kind="lm", lm=str(lm2), lexicon=str(lm_files[1])), TOKENS).search is not other.search


# ----------------------------------------------------------------------------- bad input


def test_lexicon_token_missing_from_tokens_names_file_and_line(lm_files, tmp_path):
    lex = tmp_path / "lexicon.txt"
    lex.write_text("cat c a t |\ncafé c a f é |\n")
    cfg = DecoderConfig(kind="lm", lm=str(lm_files[0]), lexicon=str(lex))
    with pytest.raises(LMError, match=rf"{lex} line 2: word 'café': token 'é' is not in tokens.txt"):
        build_decoder(cfg, TOKENS)


def test_malformed_or_missing_arpa_names_the_file(lm_files, tmp_path):
    bad = tmp_path / "bad.arpa"
    bad.write_text(lm_files[0].read_text().replace("\\2-grams:", "\\7-grams:"))
    for lexicon in (str(lm_files[1]), None):
        with pytest.raises(LMError, match=rf"{bad} line \d+: section .* has no 'ngram 7=' count"):
            build_decoder(DecoderConfig(kind="lm", lm=str(bad), lexicon=lexicon), TOKENS)
        with pytest.raises(LMError, match="nope.arpa: ARPA file not found"):
            build_decoder(DecoderConfig(kind="lm", lm=str(tmp_path / "nope.arpa"), lexicon=lexicon), TOKENS)


def test_unknown_decoder_kind():
    with pytest.raises(DecoderError, match="unknown decoder 'viterbi'"):
        build_decoder(DecoderConfig(kind="viterbi"), TOKENS)


# ----------------------------------------------------------------------------- model directory defaults


@pytest.fixture
def model_dir(tmp_path: Path, lm_files) -> Path:
    d = tmp_path / "model"
    d.mkdir()
    write_tokens(d / "tokens.txt", TOKENS)
    cfg = ModelConfig(hidden=8, layers=1, vocab_size=len(TOKENS))
    ModelDir(d).write_config(cfg, FbankConfig())
    save_atomic(BiLSTMCTC(cfg).state_dict(), d / "model.pt")
    for f in lm_files:
        (d / f.name).write_bytes(f.read_bytes())
    return d


def test_model_directory_decoder_yaml_is_the_default(model_dir):
    assert load_recognizer(model_dir, "cpu").decoder_cfg.kind == "greedy"  # no decoder.yaml
    ModelDir(model_dir).write_decoder_config(DecoderConfig(kind="lm", lm_weight=0.7, word_score=1.5))
    rec = load_recognizer(model_dir, "cpu")
    assert (rec.decoder_cfg.kind, rec.decoder_cfg.lm_weight, rec.decoder_cfg.word_score) == ("lm", 0.7, 1.5)
    assert isinstance(rec.decoder, LexiconLMDecoder)  # built from the directory's lm.arpa and lexicon.txt
    em = emissions(spell("the cta", peak=0.6))  # a misspelt word: only the lexicon can mend it
    words = rec.decoder.decode(em, torch.tensor([em.shape[1]]))[0].text.split()
    assert words[:2] == ["the", "cat"] and set(words) <= set(" ".join(TRAIN).split())
    assert GreedyDecoder(TOKENS).decode(em, torch.tensor([em.shape[1]]))[0].text == "the cta"
    # Options override the stored defaults; given paths are taken from the current directory.
    assert decoder_config(model_dir, kind="greedy").kind == "greedy"
    free = decoder_config(model_dir, no_lexicon=True, lm_weight=2.0)
    assert (free.kind, free.lexicon, free.lm_weight, free.word_score) == ("lm", None, 2.0, 1.5)
    other = decoder_config(model_dir, lm="other.arpa")
    assert Path(other.lm) == Path("other.arpa").resolve()


def test_transcribe_cli_decoder_options(model_dir, tmp_path, capsys):
    import soundfile as sf

    from asr.cli import main

    wav = tmp_path / "a.wav"
    sf.write(wav, torch.zeros(16000).numpy(), 16000)
    for flags in ([], ["--decoder", "beam", "--beam", "4"], ["--decoder", "lm"], ["--no-lexicon"]):
        assert main(["transcribe", "--model", str(model_dir), "--device", "cpu", *flags, str(wav)]) == 0, flags
        assert capsys.readouterr().out.startswith(f"{wav}\t")
    bad_lex = tmp_path / "lex.txt"
    bad_lex.write_text("cat c a t\n")
    assert main(["transcribe", "--model", str(model_dir), "--lexicon", str(bad_lex), str(wav)]) == 2
    assert f"{bad_lex} line 1" in capsys.readouterr().err


def test_word_times_fall_back_to_the_decoder_frames_when_alignment_cannot_spell_the_words():
    hyp = Hypothesis("ab c", TOKENS.encode("ab c"), 0.0, [1, 3, 6, 9])
    two_frames = torch.zeros(2, len(TOKENS))  # too short to align 3 tokens: the decoder's own frames are used
    words = timed_words(hyp, two_frames, TOKENS, 0.03, np.zeros(3200, np.float32), 16000)
    assert [(w.word, w.start, w.end, w.confidence) for w in words] == [("ab", 0.03, 0.12, 0.0), ("c", 0.27, 0.3, 0.0)]
    assert timed_words(Hypothesis.empty(), two_frames, TOKENS, 0.03, np.zeros(3200, np.float32), 16000) == []


def test_the_registry_is_what_the_cli_and_the_recipe_read():
    """Every DecoderConfig option belongs to a registered decoder and is an `asr transcribe` flag; unknown
    names and options fail with the choices named."""
    from dataclasses import fields

    from asr.cli import build_parser
    from asr.decoding.base import DecoderConfig, DecoderError
    from asr.decoding.registry import DECODERS, DecoderEntry, decoder_entry, register, used_by
    from asr.recipe.stages import DecodingConfig

    assert list(DECODERS) == ["greedy", "beam", "lm"]
    options = [f.name for f in fields(DecoderConfig) if f.name != "kind"]
    assert all(used_by(o) for o in options)
    args = build_parser().parse_args(["transcribe", "x.wav", "--lm-beam", "700", "--beam-threshold", "40",
                                      "--beam-size-token", "0", "--unk-score", "-3", "--nbest", "2"])
    assert (args.lm_beam, args.beam_threshold, args.beam_size_token, args.unk_score, args.nbest) == (700, 40.0, 0, -3.0, 2)
    with pytest.raises(DecoderError, match="unknown decoder 'viterbi'; choose one of greedy, beam, lm"):
        decoder_entry("viterbi")
    with pytest.raises(ValueError, match="not DecoderConfig fields"):
        register(DecoderEntry("x", ("temperature",), "m:f", "x", "x"))
    with pytest.raises(ValueError, match="registered twice"):
        register(DecoderEntry("beam", (), "m:f", "x", "x"))
    dec = DecodingConfig(decoders=["greedy", "lm", "beam"])
    assert dec.uses_lm and list(dec.no_lm_decoders()) == ["greedy", "beam"]
    assert not DecodingConfig(decoders=["beam"]).uses_lm
