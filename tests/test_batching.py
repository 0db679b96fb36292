"""Tests for asr/data/batching.py: frame-budget bucketing, padding, and FeatureSet batches from an ark."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from asr.data.batching import FeatureSet, bucket_batches, pad_features


def _lengths(n: int = 60, seed: int = 0) -> dict[str, int]:
    rng = random.Random(seed)
    return {f"utt{i:03d}": rng.randint(5, 400) for i in range(n)}


def _check_budget(batches, lengths, max_frames):
    for b in batches:
        if len(b) > 1:
            assert len(b) * max(lengths[u] for u in b) <= max_frames, b


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_utt_once_and_budget_respected(shuffle):
    lengths = _lengths()
    lengths["long1"], lengths["long2"] = 1500, 999  # over and under the budget
    batches = bucket_batches(lengths, 1000, shuffle=shuffle, seed=3)
    flat = [u for b in batches for u in b]
    assert sorted(flat) == sorted(lengths) and len(flat) == len(set(flat))
    _check_budget(batches, lengths, 1000)
    assert ["long1"] in batches and ["long2"] in batches
    assert len(batches) < len(lengths) / 3  # it really does group utterances


def test_unshuffled_batches_are_sorted_by_length():
    lengths = _lengths()
    batches = bucket_batches(lengths, 1200)
    flat = [lengths[u] for b in batches for u in b]
    assert flat == sorted(flat)
    # Greedy filling: adding the next utterance to any batch would exceed the budget.
    for b, nxt in zip(batches, batches[1:]):
        assert (len(b) + 1) * lengths[nxt[0]] > 1200


def test_max_utts_caps_batch_size():
    lengths = {f"u{i}": 10 for i in range(25)}
    batches = bucket_batches(lengths, 10**6, max_utts=8)
    assert [len(b) for b in batches] == [8, 8, 8, 1]


def test_deterministic_for_a_seed_and_shuffled_across_seeds():
    lengths = _lengths()
    a = bucket_batches(lengths, 1000, shuffle=True, seed=7)
    assert a == bucket_batches(lengths, 1000, shuffle=True, seed=7)
    others = [bucket_batches(lengths, 1000, shuffle=True, seed=s) for s in (8, 9)]
    assert all(o != a for o in others)
    assert [b[0] for b in others[0]] != [b[0] for b in a]


def test_empty_lengths_give_no_batches():
    assert bucket_batches({}, 100) == []


def test_pad_features_shape_lengths_and_zero_padding():
    feats = [torch.full((3, 4), 1.0), torch.full((7, 4), 2.0), torch.full((1, 4), 3.0)]
    padded, lengths = pad_features(feats)
    assert padded.shape == (3, 7, 4)
    assert lengths.tolist() == [3, 7, 1] and lengths.dtype == torch.long
    for i, f in enumerate(feats):
        assert torch.equal(padded[i, : len(f)], f)
        assert torch.count_nonzero(padded[i, len(f) :]) == 0


def test_featureset_batch_from_real_ark(tmp_path, make_feature_dir):
    rng = np.random.default_rng(0)
    feats = {u: rng.standard_normal((n, 6)).astype(np.float32) for u, n in [("a", 5), ("b", 9), ("c", 2)]}
    make_feature_dir(tmp_path, feats)
    targets = {"a": [2, 3], "b": [4, 4, 5, 2], "c": [1]}
    fs = FeatureSet(tmp_path, targets)
    assert fs.lengths == {"a": 5, "b": 9, "c": 2}
    batch = fs.batch(["c", "a", "b"])
    assert batch.utts == ["c", "a", "b"]
    assert batch.feats.shape == (3, 9, 6) and batch.feats.dtype == torch.float32
    assert batch.feat_lengths.tolist() == [2, 5, 9]
    for i, u in enumerate(batch.utts):
        np.testing.assert_array_equal(batch.feats[i, : len(feats[u])].numpy(), feats[u])
        assert torch.count_nonzero(batch.feats[i, len(feats[u]) :]) == 0
    assert batch.targets.tolist() == [[1, 0, 0, 0], [2, 3, 0, 0], [4, 4, 5, 2]]
    assert batch.target_lengths.tolist() == [1, 2, 4]


def test_featureset_without_targets(tmp_path, make_feature_dir):
    make_feature_dir(tmp_path, {"x": np.ones((4, 3), np.float32)})
    batch = FeatureSet(tmp_path).batch(["x"])
    assert batch.target_lengths.tolist() == [0] and batch.targets.shape == (1, 1)
