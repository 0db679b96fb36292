"""Tests for asr/data/feature_store.py: stored features (ark/scp), parallel jobs, CMVN stats, errors."""

from __future__ import annotations

import shutil

import kaldiio
import numpy as np
import pytest

from asr.data.audio import AudioError, load_audio
from asr.data.datadir import read_table
from asr.data.feature_store import compute_cmvn_stats, make_features
from asr.data.features import FbankConfig, compute_fbank

CFG = FbankConfig()


def _copy(data_dir, dest):
    shutil.copytree(data_dir, dest)
    return dest


def _load(data_dir) -> dict[str, np.ndarray]:
    return {u: np.asarray(m) for u, m in kaldiio.load_scp(str(data_dir / "feats.scp")).items()}


def test_make_features_nj1_and_nj2_agree(tmp_path, data_dir):
    one, two = _copy(data_dir, tmp_path / "one"), _copy(data_dir, tmp_path / "two")
    make_features(one, CFG, nj=1)
    make_features(two, CFG, nj=2, chunk_size=2)  # two chunks -> two arks, two worker processes
    assert sorted(p.name for p in (two / "feats").iterdir()) == ["feats.0.ark", "feats.1.ark"]
    assert sorted(p.name for p in (one / "feats").iterdir()) == ["feats.0.ark"]
    a, b = _load(one), _load(two)
    wav_scp = read_table(data_dir / "wav.scp")
    assert sorted(a) == sorted(b) == sorted(wav_scp)
    for utt in wav_scp:
        np.testing.assert_array_equal(a[utt], b[utt])


def test_stored_features_are_sorted_consistent_and_correct(tmp_path, data_dir):
    make_features(data_dir, CFG, nj=1)
    wav_scp = read_table(data_dir / "wav.scp")
    scp_keys = [line.split()[0] for line in (data_dir / "feats.scp").read_text().splitlines()]
    n2f_lines = (data_dir / "utt2num_frames").read_text().splitlines()
    assert scp_keys == sorted(scp_keys) == list(wav_scp)
    assert [line.split()[0] for line in n2f_lines] == scp_keys
    frames = {line.split()[0]: int(line.split()[1]) for line in n2f_lines}
    feats = _load(data_dir)
    for utt, path in wav_scp.items():
        wave = load_audio(path)
        assert frames[utt] == feats[utt].shape[0] == 1 + (len(wave) - 400) // 160
        assert feats[utt].shape[1] == 80
        np.testing.assert_array_equal(feats[utt], compute_fbank(wave, CFG).numpy())
    assert not [p for p in (data_dir / "feats").iterdir() if p.suffix == ".tmp"]
    # Recomputing replaces the arks; the scp still points at valid data.
    make_features(data_dir, CFG, nj=1)
    for utt, f in _load(data_dir).items():
        np.testing.assert_array_equal(f, feats[utt])


def test_compute_cmvn_stats_matches_numpy(tmp_path, data_dir):
    make_features(data_dir, CFG, nj=1)
    allf = np.concatenate(list(_load(data_dir).values())).astype(np.float64)
    stats = compute_cmvn_stats(data_dir)
    assert stats.count == allf.shape[0]
    np.testing.assert_allclose(stats.sum, allf.sum(axis=0), rtol=1e-9)
    np.testing.assert_allclose(stats.sum_sq, (allf**2).sum(axis=0), rtol=1e-9)
    mean, istd = stats.mean_istd()
    np.testing.assert_allclose(mean, allf.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(istd, 1 / allf.std(axis=0), rtol=1e-4)


def test_corrupted_audio_names_the_utterance(data_dir):
    path = read_table(data_dir / "wav.scp")["spk2-001"]
    with open(path, "r+b") as f:  # keep the file, destroy the header
        f.write(b"NOT AUDIO" * 8)
    with pytest.raises(AudioError) as e:
        make_features(data_dir, CFG, nj=1)
    assert "spk2-001" in str(e.value) and path in str(e.value)
    assert not (data_dir / "feats.scp").exists()


def test_cmvn_without_features_fails(tmp_path):
    (tmp_path / "feats.scp").write_text("")
    with pytest.raises(ValueError, match="feats.scp"):
        compute_cmvn_stats(tmp_path)
