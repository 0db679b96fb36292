"""Tests for asr/data/features.py: agreement with kaldi-native-fbank, shapes, CMVN statistics and files."""

from __future__ import annotations

import kaldi_native_fbank as knf  # a test dependency (pyproject [test]): missing means a broken install
import kaldiio
import numpy as np
import pytest
import torch

from asr.data.features import (
    INT16_SCALE,
    CmvnStats,
    FbankConfig,
    compute_fbank,
    read_cmvn,
    write_cmvn,
)


def _knf_fbank(wave: np.ndarray, cfg: FbankConfig) -> np.ndarray:
    """Reference features from kaldi-native-fbank with the options asr.data.features uses."""
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = cfg.sample_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.window_type = "povey"
    opts.frame_opts.frame_length_ms = cfg.frame_length_ms
    opts.frame_opts.frame_shift_ms = cfg.frame_shift_ms
    opts.mel_opts.num_bins = cfg.num_mel_bins
    opts.mel_opts.low_freq = cfg.low_freq
    opts.mel_opts.high_freq = cfg.high_freq
    opts.energy_floor = 0.0
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(cfg.sample_rate, (wave.astype(np.float64) * INT16_SCALE).tolist())
    fbank.input_finished()
    if fbank.num_frames_ready == 0:
        return np.zeros((0, cfg.num_mel_bins), dtype=np.float32)
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def test_matches_kaldi_native_fbank(speech):
    wave = speech(3.0, seed=3)
    cfg = FbankConfig()
    ours = compute_fbank(wave, cfg).numpy()
    ref = _knf_fbank(wave, cfg)
    assert ours.shape == ref.shape == (1 + (len(wave) - 400) // 160, 80)
    assert np.abs(ours - ref).max() < 1e-3
    # Not a degenerate comparison: the features vary over time and across bins.
    assert ours.std(axis=0).min() > 0.05 and ours.std(axis=1).min() > 0.5


def test_matches_kaldi_native_fbank_other_options(speech):
    wave = speech(1.0, seed=4)
    cfg = FbankConfig(num_mel_bins=40, low_freq=60.0, high_freq=-400.0)
    ours = compute_fbank(wave, cfg).numpy()
    ref = _knf_fbank(wave, cfg)
    assert ours.shape == ref.shape == (98, 40)
    assert np.abs(ours - ref).max() < 1e-3


@pytest.mark.parametrize("samples, frames", [(400, 1), (559, 1), (560, 2), (16000, 98), (16160, 99)])
def test_frame_count_is_snip_edges(samples, frames):
    wave = np.random.default_rng(0).uniform(-0.1, 0.1, samples).astype(np.float32)
    out = compute_fbank(wave)
    assert out.shape == (frames, 80) == (1 + (samples - 400) // 160, 80)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("samples", [0, 1, 399])
def test_shorter_than_window_gives_no_frames(samples):
    out = compute_fbank(np.zeros(samples, dtype=np.float32))
    assert out.shape == (0, 80)


def test_numpy_and_tensor_inputs_agree_and_are_deterministic(speech):
    wave = speech(0.5, seed=5)
    a = compute_fbank(wave)
    b = compute_fbank(torch.from_numpy(wave.copy()))
    assert torch.equal(a, b)
    assert torch.equal(a, compute_fbank(wave))


def test_louder_signal_raises_log_energy_by_log_gain(speech):
    # log-mel of 2x the signal = log-mel + 2 log 2 (a check that samples are not normalised away).
    wave = speech(0.5, seed=6)
    diff = compute_fbank(2 * wave) - compute_fbank(wave)
    np.testing.assert_allclose(diff.numpy(), 2 * np.log(2), atol=1e-3)


def test_cmvn_stats_equal_numpy_mean_std():
    rng = np.random.default_rng(1)
    chunks = [rng.normal(3.0, 2.0, (n, 5)) for n in (7, 13, 1, 30)]
    stats = CmvnStats.zeros(5)
    for c in chunks:
        stats.accumulate(c if len(c) % 2 else torch.from_numpy(c).float())
    allf = np.concatenate([c if len(c) % 2 else c.astype(np.float32) for c in chunks]).astype(np.float64)
    assert stats.count == 51
    mean, istd = stats.mean_istd()
    assert mean.dtype == np.float32 and istd.dtype == np.float32
    np.testing.assert_allclose(mean, allf.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(istd, 1.0 / allf.std(axis=0), rtol=1e-5)


def test_cmvn_constant_dimension_uses_floor():
    stats = CmvnStats.zeros(2)
    stats.accumulate(np.array([[1.0, 0.0], [1.0, 2.0]]))
    mean, istd = stats.mean_istd(floor=1e-4)
    np.testing.assert_allclose(mean, [1.0, 1.0])
    np.testing.assert_allclose(istd, [100.0, 1.0], rtol=1e-4)


def test_cmvn_empty_raises():
    with pytest.raises(ValueError, match="empty"):
        CmvnStats.zeros(3).mean_istd()


def _stats(seed: int = 2, dim: int = 4) -> CmvnStats:
    stats = CmvnStats.zeros(dim)
    stats.accumulate(np.random.default_rng(seed).normal(-7.123456789, 3.3, (17, dim)))
    return stats


def test_kaldi_matrix_layout():
    stats = _stats()
    mat = stats.to_kaldi_matrix()
    assert mat.shape == (2, 5)
    np.testing.assert_array_equal(mat[0, :4], stats.sum)
    np.testing.assert_array_equal(mat[1, :4], stats.sum_sq)
    assert mat[0, 4] == 17 and mat[1, 4] == 0
    back = CmvnStats.from_kaldi_matrix(mat)
    assert back.count == 17
    np.testing.assert_array_equal(back.sum, stats.sum)
    np.testing.assert_array_equal(back.sum_sq, stats.sum_sq)


def test_write_read_cmvn_round_trip_exact(tmp_path):
    stats = _stats()
    path = tmp_path / "cmvn.stats"
    write_cmvn(path, stats)
    back = read_cmvn(path)
    assert back.count == stats.count
    np.testing.assert_array_equal(back.sum, stats.sum)
    np.testing.assert_array_equal(back.sum_sq, stats.sum_sq)
    assert not list(tmp_path.glob("*.tmp"))
    # A Kaldi text matrix: kaldiio (and Kaldi's copy-matrix) read the same numbers.
    np.testing.assert_allclose(kaldiio.load_mat(str(path)), stats.to_kaldi_matrix())


def test_read_cmvn_rejects_malformed(tmp_path):
    path = tmp_path / "bad.stats"
    path.write_text(" [\n  1 2 3\n ]\n")
    with pytest.raises(ValueError, match="bad.stats"):
        read_cmvn(path)
