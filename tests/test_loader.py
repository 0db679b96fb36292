"""Tests for asr/data/loader.py: worker processes make the same batches, in order, from any start."""

from __future__ import annotations

import numpy as np
import torch

from asr.data.batching import FeatureSet, bucket_batches
from asr.data.loader import RankBatches, rank_batches
from asr.data.specaug import SpecAugConfig


def _set(root, make_feature_dir) -> FeatureSet:
    rng = np.random.default_rng(0)
    feats = {f"u{i:02d}": rng.standard_normal((int(rng.integers(5, 40)), 8)).astype(np.float32) for i in range(23)}
    make_feature_dir(root, feats)
    return FeatureSet(root, {u: [1, 2, 3][: 1 + i % 3] for i, u in enumerate(sorted(feats))})


def test_workers_give_the_in_process_batches_in_order_from_any_start(tmp_path, make_feature_dir):
    fs = _set(tmp_path / "d", make_feature_dir)
    batches = bucket_batches(fs.lengths, 80, shuffle=True, seed=3)
    assert len(batches) > 4
    specaug = SpecAugConfig(max_freq_width=3, max_time_width=4, warp_prob=0.5)
    for rank, world in ((0, 1), (1, 2)):
        ds = RankBatches(fs, batches, rank, world, specaug, seed=1, epoch=2)
        here = list(rank_batches(ds, first=2))
        there = list(rank_batches(ds, first=2, num_workers=2))
        assert len(here) == len(there) == len(batches) - 2
        for i, (a, b) in enumerate(zip(here, there), start=2):
            share = batches[i][rank::world]
            if not share:
                assert a is None and b is None
                continue
            assert a.utts == b.utts == share
            for name in ("feats", "feat_lengths", "targets", "target_lengths"):
                assert torch.equal(getattr(a, name), getattr(b, name)), name
    plain = next(rank_batches(RankBatches(fs, batches, 0, 1, SpecAugConfig(enabled=False), 1, 1)))
    assert torch.equal(plain.feats, fs.batch(batches[0]).feats)  # nothing but reading and padding
