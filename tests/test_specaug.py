"""Tests for asr/data/specaug.py: masks stay inside each utterance, fill value, switches, determinism."""

from __future__ import annotations

import torch

from asr.data.specaug import SpecAugConfig, spec_augment

WIDE = SpecAugConfig(num_freq_masks=3, max_freq_width=6, num_time_masks=3, max_time_width=20, max_time_fraction=0.3)


def _feats():
    torch.manual_seed(0)
    return torch.randn(3, 50, 20) + torch.arange(20.0), torch.tensor([50, 30, 10])


def test_masks_only_inside_lengths_and_fill_with_utterance_mean():
    feats, lengths = _feats()
    original = feats.clone()
    changed_any = False
    for seed in range(10):
        out = spec_augment(feats, lengths, WIDE, torch.Generator().manual_seed(seed))
        assert torch.equal(feats, original)  # the input is not modified in place
        for i, n in enumerate(lengths.tolist()):
            assert torch.equal(out[i, n:], feats[i, n:])
            mean = feats[i, :n].mean(dim=0)
            changed = out[i, :n] != feats[i, :n]
            changed_any |= bool(changed.any())
            # Every changed cell holds its column's utterance mean.
            cols = changed.nonzero()[:, 1]
            torch.testing.assert_close(out[i, :n][changed], mean[cols])
    assert changed_any


def test_time_masks_respect_fraction():
    feats, lengths = _feats()
    cfg = SpecAugConfig(num_freq_masks=0, num_time_masks=2, max_time_width=100, max_time_fraction=0.1)
    for seed in range(20):
        out = spec_augment(feats, lengths, cfg, torch.Generator().manual_seed(seed))
        for i, n in enumerate(lengths.tolist()):
            masked_frames = int((out[i, :n] != feats[i, :n]).any(dim=1).sum())
            assert masked_frames <= 2 * int(0.1 * n)


def test_frequency_masks_cover_whole_bands():
    feats, lengths = _feats()
    cfg = SpecAugConfig(num_freq_masks=1, max_freq_width=5, num_time_masks=0)
    out = spec_augment(feats, lengths, cfg, torch.Generator().manual_seed(1))
    for i, n in enumerate(lengths.tolist()):
        changed_cols = (out[i, :n] != feats[i, :n]).any(dim=0)
        assert int(changed_cols.sum()) <= 5
        # a masked band is masked over the whole utterance
        assert torch.all((out[i, :n, changed_cols] != feats[i, :n, changed_cols]).all(dim=0))


def test_disabled_returns_input_unchanged():
    feats, lengths = _feats()
    out = spec_augment(feats, lengths, SpecAugConfig(enabled=False), torch.Generator().manual_seed(0))
    assert torch.equal(out, feats)


def test_deterministic_with_generator():
    feats, lengths = _feats()
    a = spec_augment(feats, lengths, WIDE, torch.Generator().manual_seed(5))
    b = spec_augment(feats, lengths, WIDE, torch.Generator().manual_seed(5))
    c = spec_augment(feats, lengths, WIDE, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_zero_length_utterance_is_left_alone():
    feats = torch.randn(2, 8, 4)
    out = spec_augment(feats, torch.tensor([8, 0]), WIDE, torch.Generator().manual_seed(0))
    assert torch.equal(out[1], feats[1])


def test_per_utterance_seeds_mask_an_utterance_alike_in_any_batch():
    from asr.data.specaug import utterance_seed

    feats, lengths = torch.randn(3, 50, 20), torch.tensor([50, 40, 30])
    seeds = [utterance_seed(1, 2, u) for u in ("a", "b", "c")]
    together = spec_augment(feats, lengths, WIDE, seeds=seeds)
    alone = spec_augment(feats[1:2], lengths[1:2], WIDE, seeds=seeds[1:2])
    assert torch.equal(together[1], alone[0]) and not torch.equal(together[1], feats[1])
    assert utterance_seed(1, 2, "b") != utterance_seed(1, 3, "b")  # new masks every epoch
