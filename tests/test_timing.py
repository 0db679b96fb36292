"""Word timings: forced alignment on hand-made posteriors, and within 100 ms of the truth on spoken digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asr.data.tokens import BLANK, TokenTable, build_token_table
from asr.transcribe.timing import (
    align_tokens,
    ctc_min_frames,
    refine_with_energy,
    word_groups,
    word_timings,
)
from asr.transcribe.transcript import Word


def peaky(T: int, V: int, path: list[int], p: float = 0.9) -> torch.Tensor:
    """Log-probs [T, V] whose best token at frame t is path[t]."""
    lp = torch.full((T, V), (1 - p) / (V - 1))
    for t, k in enumerate(path):
        lp[t, k] = p
    return lp.log()


def test_align_tokens_finds_the_runs_of_a_known_path():
    # blank a a blank b blank blank a  -> a:[1,3) b:[4,5) a:[7,8)
    lp = peaky(8, 3, [0, 1, 1, 0, 2, 0, 0, 1])
    spans = align_tokens(lp, [1, 2, 1])
    assert [(s, e) for s, e, _ in spans] == [(1, 3), (4, 5), (7, 8)]
    assert all(sc < 0 for *_, sc in spans)


def test_align_tokens_needs_a_blank_between_repeats():
    assert ctc_min_frames([1, 1, 2]) == 4
    with pytest.raises(ValueError, match="cannot be aligned"):
        align_tokens(peaky(3, 3, [1, 0, 1]), [1, 1, 2])


def test_word_timings_splits_on_the_word_separator_and_offsets():
    tokens = build_token_table(["ab c"])  # <blk> | a b c
    a, b, c, sep = 2, 3, 4, 1
    assert tokens.symbols[a] == "a" and tokens.symbols[sep] == "|"
    path = [0, a, 0, b, 0, sep, 0, 0, c, c, 0]
    words = word_timings(peaky(len(path), len(tokens), path), [a, b, sep, c], tokens, frame_seconds=0.03, offset=10.0)
    assert [w.word for w in words] == ["ab", "c"]
    assert words[0].start == pytest.approx(10.03) and words[0].end == pytest.approx(10.12)
    assert words[1].start == pytest.approx(10.24) and words[1].end == pytest.approx(10.30)
    assert all(0 < w.confidence <= 1 for w in words)


def test_words_of_bpe_and_phone_tables():
    bpe = TokenTable((BLANK, "\u2581the", "\u2581c", "at"), unit="bpe")
    assert word_groups([1, 2, 3], bpe) == [[0], [1, 2]]
    phones = TokenTable((BLANK, "k", "ae", "t"), unit="phone")
    assert word_groups([1, 2, 3], phones) == [[0], [1], [2]]


def test_refine_with_energy_snaps_edges_to_the_sound_and_not_into_neighbours():
    sr = 16000
    wave = np.zeros(sr, np.float32)
    rng = np.random.default_rng(0)
    wave[3200:6400] = 0.3 * rng.standard_normal(3200)  # sound 0.2-0.4 s
    wave[8000:9600] = 0.3 * rng.standard_normal(1600)  # sound 0.5-0.6 s
    words = [Word("a", 0.25, 0.30, 0.9), Word("b", 0.52, 0.55, 0.9)]
    out = refine_with_energy(words, wave, sr)
    assert (out[0].start, out[0].end) == (0.2, 0.4)
    assert (out[1].start, out[1].end) == (0.5, 0.6)
    # a word the alignment stretched over silence is trimmed to its sound
    out = refine_with_energy([Word("a", 0.0, 0.45, 0.9), Word("b", 0.45, 0.9, 0.9)], wave, sr)
    assert [(w.start, w.end) for w in out] == [(0.2, 0.4), (0.5, 0.6)]
    # continuous sound: the edges stop at the neighbour's
    wave[:] = 0.3 * rng.standard_normal(sr)
    wave[-800:] = 0
    out = refine_with_energy(words, wave, sr)
    assert out[0].end <= out[1].start


def test_spoken_digit_boundaries_are_within_100_ms(digit_model_dir, digit_speaker):
    """Words separated by known silences: every predicted start and end within 100 ms of the truth."""
    import asr

    model = asr.load_model(digit_model_dir, device="cpu")
    rng = np.random.default_rng(2024)
    spoken = [digit_speaker.random(rng) for _ in range(12)]
    results = model.transcribe([(s.wave, 16000) for s in spoken])
    right = [(s, r) for s, r in zip(spoken, results) if r.text == s.text]
    assert len(right) >= 10, [(s.text, r.text) for s, r in zip(spoken, results)]
    worst = 0.0
    for s, r in right:
        assert [w.word for w in r.words] == s.text.split()
        for (word, start, end), w in zip(s.words, r.words):
            worst = max(worst, abs(w.start - start), abs(w.end - end))
            assert abs(w.start - start) <= 0.1 and abs(w.end - end) <= 0.1, (word, start, end, w)
    print(f"worst boundary error {worst * 1000:.0f} ms over {sum(len(s.words) for s, _ in right)} words")


def test_align_a_known_transcript(digit_model_dir, digit_speaker):
    import asr

    model = asr.load_model(digit_model_dir, device="cpu")
    s = digit_speaker.say(["seven", "two", "nine"], np.random.default_rng(5))
    words = model.align(s.wave, s.text)
    assert [w.word for w in words] == ["seven", "two", "nine"]
    for (_, start, end), w in zip(s.words, words):
        assert abs(w.start - start) <= 0.1 and abs(w.end - end) <= 0.1
