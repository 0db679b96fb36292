"""Tests for asr/data/specaug.py: masks stay inside each utterance, fill value, switches, determinism."""

from __future__ import annotations

import math

import pytest
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


def test_warp_moves_a_formant_by_the_factor():
    """A peak at bin 40 of 80 (about 1.9 kHz) moves up for alpha > 1 and down for alpha < 1, by about alpha in Hz."""
    from asr.data.specaug import warp_mel_axis

    feats = torch.zeros(3, 80)
    feats[:, 40] = 1.0
    mel = lambda f: 1127.0 * math.log1p(f / 700.0)  # noqa: E731
    inv = lambda m: 700.0 * math.expm1(m / 1127.0)  # noqa: E731
    lo, hi = mel(20.0), mel(8000.0)
    hz = lambda b: inv(lo + (b + 1) * (hi - lo) / 81)  # noqa: E731
    for alpha in (0.9, 1.0, 1.1):
        out = warp_mel_axis(feats, alpha)
        centre = float((out[0] * torch.arange(80)).sum() / out[0].sum())
        assert hz(centre) == pytest.approx(hz(40) * alpha, rel=0.03)
    torch.testing.assert_close(warp_mel_axis(feats, 1.0), feats)


def test_warp_is_drawn_per_utterance_and_only_when_asked():
    feats, lengths = _feats()
    none = SpecAugConfig(num_freq_masks=0, num_time_masks=0)
    assert torch.equal(spec_augment(feats, lengths, none, seeds=[1, 2, 3]), feats)
    always = SpecAugConfig(num_freq_masks=0, num_time_masks=0, warp_prob=1.0, max_warp=0.1)
    out = spec_augment(feats, lengths, always, seeds=[1, 2, 3])
    for i, n in enumerate(lengths.tolist()):
        assert not torch.equal(out[i, :n], feats[i, :n])
        assert torch.equal(out[i, n:], feats[i, n:])  # padding untouched
    again = spec_augment(feats[1:2], lengths[1:2], always, seeds=[2])
    assert torch.equal(again[0], out[1])
