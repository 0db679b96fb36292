"""Tests for asr/decoding/loop.py, the one features -> hypotheses loop: batching changes nothing,
empty inputs decode to nothing, every decoder sees the same forward pass, cached emissions decode alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asr.data.batching import FeatureSet
from asr.data.tokens import build_token_table
from asr.decoding.beam_search import BeamSearchDecoder
from asr.decoding.greedy import GreedyDecoder
from asr.decoding.greedy import greedy_decode
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.loop import (
    batch_of,
    cache_emissions,
    decode_batch,
    decode_batches,
    decode_cached,
    feature_batches,
)
from asr.nn.model import BiLSTMCTC, ModelConfig

TOKENS = build_token_table(["ab"])  # <blk>=0, |=1, a=2, b=3
CPU = torch.device("cpu")
DECODERS = {"greedy": GreedyDecoder(TOKENS), "beam": BeamSearchDecoder(TOKENS, beam=4)}


@pytest.fixture
def model_and_features(tmp_path, make_feature_dir):
    torch.manual_seed(0)
    model = BiLSTMCTC(ModelConfig(input_dim=5, stack=3, hidden=6, layers=1, dropout=0.0, vocab_size=len(TOKENS))).eval()
    rng = np.random.default_rng(0)
    feats = {f"u{i}": rng.standard_normal((n, 5)).astype(np.float32) * 3 for i, n in enumerate([4, 13, 30, 9, 1])}
    make_feature_dir(tmp_path, feats)
    return model, FeatureSet(tmp_path), feats


def _alone(model, f: np.ndarray) -> Hypothesis:
    with torch.no_grad():
        log_probs, out_lengths = model(torch.from_numpy(f)[None], torch.tensor([len(f)]))
    return greedy_decode(log_probs, out_lengths, TOKENS)[0]


def _decode_all(model, fs: FeatureSet, max_frames: int) -> dict[str, dict[str, Hypothesis]]:
    out: dict[str, dict[str, Hypothesis]] = {name: {} for name in DECODERS}
    for batch in decode_batches(model, feature_batches(fs, max_frames), DECODERS, CPU):
        assert batch.log_probs.shape[0] == len(batch.utts) == len(batch.lengths)
        for name, hyps in batch.hyps.items():
            out[name].update(zip(batch.utts, hyps))
    return out


def test_batched_decoding_equals_one_utterance_at_a_time(model_and_features):
    model, fs, feats = model_and_features
    one_by_one = _decode_all(model, fs, max_frames=1)  # a batch per utterance
    batched = _decode_all(model, fs, max_frames=10**6)  # everything in one padded batch
    assert len(list(feature_batches(fs, 10**6))) == 1 and len(list(feature_batches(fs, 1))) == len(feats)
    for name in DECODERS:
        assert sorted(one_by_one[name]) == sorted(batched[name]) == sorted(feats)
        for utt in feats:
            a, b = one_by_one[name][utt], batched[name][utt]
            assert (a.text, a.tokens, a.timesteps) == (b.text, b.tokens, b.timesteps), (name, utt)
            assert a.score == pytest.approx(b.score, abs=1e-4)
    for utt, f in feats.items():  # and both equal the model run on the utterance alone
        expected = _alone(model, f)
        got = batched["greedy"][utt]
        assert (got.text, got.tokens, got.timesteps) == (expected.text, expected.tokens, expected.timesteps)
        assert got.score == pytest.approx(expected.score, abs=1e-4)


def test_an_input_without_frames_decodes_to_nothing_beside_others(model_and_features):
    model, _, feats = model_and_features
    out = decode_batch(model, batch_of(["empty", "u2"], [torch.zeros(0, 5), torch.from_numpy(feats["u2"])]), DECODERS, CPU)
    assert out.lengths[0] == 0 and out.emission(0).shape[0] == 0
    for name in DECODERS:
        assert out.hyps[name][0] == Hypothesis.empty()
    assert out.hyps["greedy"][1].tokens == _alone(model, feats["u2"]).tokens
    only_empty = decode_batch(model, batch_of(["e"], [torch.zeros(0, 5)]), DECODERS, CPU)
    assert only_empty.hyps["greedy"] == [Hypothesis.empty()]


def test_cached_emissions_decode_like_the_loop(model_and_features):
    model, fs, feats = model_and_features
    decoded = list(decode_batches(model, feature_batches(fs, 20), DECODERS, CPU))
    cache = cache_emissions(decoded)
    assert sorted(cache) == sorted(feats)
    for name, decoder in DECODERS.items():
        again = decode_cached(decoder, cache, max_frames=7)
        for batch in decoded:
            for utt, hyp in zip(batch.utts, batch.hyps[name]):
                assert (again[utt].text, again[utt].timesteps) == (hyp.text, hyp.timesteps)
