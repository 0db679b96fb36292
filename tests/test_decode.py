"""Tests for asr/decoding/greedy.py: greedy CTC collapse on hand-made log-probs, and decoding a FeatureSet."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asr.data.batching import FeatureSet
from asr.decoding.greedy import Hypothesis, decode_featureset, greedy_decode
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.data.tokens import build_token_table

TOKENS = build_token_table(["ab"])  # <blk>=0, |=1, a=2, b=3
SYMBOL_ID = {"_": 0, "|": 1, "a": 2, "b": 3}


def _log_probs(paths: list[str], peak: float = 0.9) -> torch.Tensor:
    """One row per path string ('_' is blank); each frame puts `peak` on its symbol. -> [N, T, 4]"""
    t = max(len(p) for p in paths)
    probs = torch.full((len(paths), t, 4), (1 - peak) / 3)
    for i, path in enumerate(paths):
        for j, ch in enumerate(path.ljust(t, "_")):
            probs[i, j, SYMBOL_ID[ch]] = peak
    return probs.log()


def test_collapses_repeats_then_drops_blanks():
    [hyp] = greedy_decode(_log_probs(["aa_ab"]), torch.tensor([5]), TOKENS)
    assert hyp.text == "aab"  # a a _ a b -> (a)(_)(a)(b) -> a a b
    assert hyp.tokens == [2, 2, 3]
    assert hyp.timesteps == [0, 3, 4]
    assert hyp.score == pytest.approx(5 * math.log(0.9), abs=1e-5)


@pytest.mark.parametrize(
    "path, text, tokens, timesteps",
    [
        ("_aa__bb_", "ab", [2, 3], [1, 5]),
        ("a_a", "aa", [2, 2], [0, 2]),
        ("ab|_ba", "ab ba", [2, 3, 1, 3, 2], [0, 1, 2, 4, 5]),
        ("____", "", [], []),
        ("|a||b|", "a b", [1, 2, 1, 3, 1], [0, 1, 2, 4, 5]),
    ],
)
def test_greedy_paths(path, text, tokens, timesteps):
    [hyp] = greedy_decode(_log_probs([path]), torch.tensor([len(path)]), TOKENS)
    assert (hyp.text, hyp.tokens, hyp.timesteps) == (text, tokens, timesteps)


def test_frames_beyond_length_are_ignored_and_empty_length_gives_empty():
    hyps = greedy_decode(_log_probs(["ab_bb", "aaaaa", "bbbbb"]), torch.tensor([2, 0, 5]), TOKENS)
    assert [h.text for h in hyps] == ["ab", "", "b"]
    assert hyps[1] == Hypothesis("", [], 0.0, [])
    assert hyps[0].score == pytest.approx(2 * math.log(0.9), abs=1e-5)


def _tiny_model_and_features(tmp_path, make_feature_dir):
    torch.manual_seed(0)
    model = BiLSTMCTC(ModelConfig(input_dim=5, stack=3, hidden=6, layers=1, dropout=0.0, vocab_size=len(TOKENS)))
    rng = np.random.default_rng(0)
    feats = {f"u{i}": rng.standard_normal((n, 5)).astype(np.float32) * 3 for i, n in enumerate([4, 13, 30, 9, 1])}
    make_feature_dir(tmp_path, feats)
    return model, FeatureSet(tmp_path), feats


def test_decode_featureset_matches_decoding_each_utterance(tmp_path, make_feature_dir):
    model, fs, feats = _tiny_model_and_features(tmp_path, make_feature_dir)
    model.train()  # decode_featureset must switch to eval mode itself
    hyps = decode_featureset(model, fs, TOKENS, torch.device("cpu"), max_frames=1)  # one utt per batch
    assert not model.training
    assert sorted(hyps) == sorted(feats)
    for utt, f in feats.items():
        with torch.no_grad():
            log_probs, out_lengths = model(torch.from_numpy(f)[None], torch.tensor([len(f)]))
        [expected] = greedy_decode(log_probs, out_lengths, TOKENS)
        got = hyps[utt]
        assert (got.text, got.tokens, got.timesteps) == (expected.text, expected.tokens, expected.timesteps)
        assert got.score == pytest.approx(expected.score, abs=1e-4)


def test_decode_featureset_in_batches(tmp_path, make_feature_dir):
    model, fs, feats = _tiny_model_and_features(tmp_path, make_feature_dir)
    hyps = decode_featureset(model, fs, TOKENS, torch.device("cpu"), max_frames=10**6)
    assert sorted(hyps) == sorted(feats)
    for utt, hyp in hyps.items():
        assert 0 not in hyp.tokens
        assert hyp.text == TOKENS.decode(hyp.tokens)
        assert all(0 <= t < math.ceil(len(feats[utt]) / 3) for t in hyp.timesteps)
        assert hyp.timesteps == sorted(set(hyp.timesteps))
        assert hyp.score <= 0
