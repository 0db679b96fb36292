"""Tests for asr/nn/train.py (with asr/scoring/wer.py and asr/device.py): a tiny model trains,
writes its files, resumes after a stop, and follows the learning-rate schedule."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch

from asr.data.batching import FeatureSet
from asr.data.specaug import SpecAugConfig
from asr.data.tokens import build_token_table
from asr.device import pick_device, set_threads
from asr.nn.checkpoint import load_state
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.nn.launch import train
from asr.nn.schedule import TrainConfig, lr_at

TOKENS = build_token_table(["ab"])  # <blk>, |, a, b
DIM = 6
CPU = torch.device("cpu")


def _fake_set(root, make_feature_dir, n: int, seed: int):
    """n utterances whose features spell their tokens: each token is 6 frames of its own pattern."""
    rng = np.random.default_rng(seed)
    patterns = {1: np.eye(DIM)[0] * 3, 2: np.eye(DIM)[1] * 3, 3: np.eye(DIM)[2] * 3}
    feats, targets, texts = {}, {}, {}
    for i in range(n):
        words = ["".join(rng.choice(list("ab"), size=rng.integers(1, 3))) for _ in range(rng.integers(1, 3))]
        text = " ".join(words)
        ids = TOKENS.encode(text)
        frames = [np.tile(patterns[t], (6, 1)) for t in ids]
        x = np.concatenate([np.zeros((3, DIM)), *frames, np.zeros((3, DIM))])
        utt = f"utt{i:03d}"
        feats[utt] = (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
        targets[utt], texts[utt] = ids, text
    make_feature_dir(root, feats)
    return FeatureSet(root, targets), texts


@pytest.fixture
def sets(tmp_path, make_feature_dir):
    train_set, _ = _fake_set(tmp_path / "train", make_feature_dir, 20, seed=0)
    dev_set, dev_refs = _fake_set(tmp_path / "dev", make_feature_dir, 4, seed=1)
    return train_set, dev_set, dev_refs


@pytest.fixture(autouse=True)
def _restore_torch_globals():
    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    yield
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = mkldnn


def _cfg(epochs: int, **kw) -> TrainConfig:
    base = dict(
        epochs=epochs, max_frames=200, lr=1e-2, warmup_steps=3, seed=1, average_last=2,
        specaug=SpecAugConfig(max_freq_width=1, max_time_width=2),
    )
    base.update(kw)
    return TrainConfig(**base)


def _model() -> BiLSTMCTC:
    torch.manual_seed(0)
    return BiLSTMCTC(ModelConfig(input_dim=DIM, stack=3, hidden=12, layers=1, dropout=0.0, vocab_size=len(TOKENS)))


def _run(sets, exp_dir, cfg):
    train_set, dev_set, dev_refs = sets
    return train(_model(), train_set, dev_set, dev_refs, TOKENS, cfg, exp_dir, CPU)


def test_train_two_epochs_writes_files(tmp_path, sets):
    exp = tmp_path / "exp"
    exp.mkdir()
    out = _run(sets, exp, _cfg(2))
    assert out == exp / "model.pt"
    for name in ["epoch-1.pt", "epoch-2.pt", "last.pt", "model.pt", "curves.png"]:
        assert (exp / name).is_file() and (exp / name).stat().st_size > 0, name
    assert (exp / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in exp.iterdir() if "tmp" in p.name]

    last = load_state(exp / "last.pt")
    history = last["history"]
    assert [h["epoch"] for h in history] == [1, 2] and last["epoch"] == 3 and last["batch_idx"] == 0
    for h in history:
        assert np.isfinite([h["train_loss"], h["dev_loss"], h["dev_cer"]]).all()
        assert 0 <= h["dev_cer"]
    assert history[1]["train_loss"] < history[0]["train_loss"]  # it learns

    # model.pt: a plain state_dict, the average of epochs 1 and 2, loadable into the model.
    averaged = load_state(exp / "model.pt")
    e1, e2 = load_state(exp / "epoch-1.pt")["model"], load_state(exp / "epoch-2.pt")["model"]
    key = "output.weight"
    torch.testing.assert_close(averaged[key], (e1[key] + e2[key]) / 2)
    _model().load_state_dict(averaged)


def test_resume_continues_from_last_epoch(tmp_path, sets, caplog):
    exp = tmp_path / "exp"
    exp.mkdir()
    _run(sets, exp, _cfg(1))
    assert load_state(exp / "last.pt")["epoch"] == 2
    first = (exp / "epoch-1.pt").read_bytes()
    mtime = (exp / "epoch-1.pt").stat().st_mtime_ns

    # Count how many training batches the second run builds: only epoch 2's.
    train_set = sets[0]
    calls = []
    original_batch = train_set.batch
    train_set.batch = lambda utts: calls.append(utts) or original_batch(utts)
    with caplog.at_level(logging.INFO, logger="asr.nn.train"):
        _run(sets, exp, _cfg(2))
    assert "resuming" in caplog.text
    history = load_state(exp / "last.pt")["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert (exp / "epoch-1.pt").read_bytes() == first and (exp / "epoch-1.pt").stat().st_mtime_ns == mtime
    assert (exp / "epoch-2.pt").is_file()
    assert sorted(u for b in calls for u in b) == sorted(train_set.lengths)  # one epoch, each utt once


def test_resume_mid_epoch_skips_done_batches(tmp_path, sets):
    exp = tmp_path / "exp"
    exp.mkdir()
    train_set = sets[0]
    original_batch = train_set.batch
    calls = []

    def dying_batch(utts):
        calls.append(utts)
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed while building the 3rd batch
        return original_batch(utts)

    train_set.batch = dying_batch
    cfg = _cfg(1, save_every_minutes=0.0)  # save the resume state after every batch
    with pytest.raises(KeyboardInterrupt):
        _run(sets, exp, cfg)
    state = load_state(exp / "last.pt")
    assert (state["epoch"], state["batch_idx"], state["step"]) == (1, 2, 2)
    done = [u for b in calls[:2] for u in b]

    calls.clear()
    train_set.batch = lambda utts: calls.append(utts) or original_batch(utts)
    _run(sets, exp, cfg)
    redone = [u for b in calls for u in b]
    assert not set(done) & set(redone)
    assert sorted(done + redone) == sorted(train_set.lengths)
    assert load_state(exp / "last.pt")["history"][0]["epoch"] == 1


def test_long_utterances_are_skipped(tmp_path, sets):
    exp = tmp_path / "exp"
    exp.mkdir()
    train_set = sets[0]
    longest = max(train_set.lengths, key=train_set.lengths.get)
    calls = []
    original_batch = train_set.batch
    train_set.batch = lambda utts: calls.append(utts) or original_batch(utts)
    _run(sets, exp, _cfg(1, max_utt_frames=train_set.lengths[longest] - 1))
    seen = {u for b in calls for u in b}
    assert longest not in seen and len(seen) < len(train_set.lengths)


def test_lr_warmup_then_cosine_decay():
    cfg = TrainConfig(lr=1.0, warmup_steps=10, final_lr_ratio=0.05)
    total = 110
    lrs = [lr_at(s, total, cfg) for s in range(total + 5)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(lrs[:10], lrs[1:10]))  # linear warm-up
    assert lrs[10] == pytest.approx(1.0)
    decay = lrs[10 : total + 1]
    assert all(b <= a for a, b in zip(decay, decay[1:]))  # monotone decay
    assert lr_at(60, total, cfg) == pytest.approx(0.05 + 0.95 * 0.5)  # half way: cosine midpoint
    assert lrs[total] == pytest.approx(0.05) and lrs[-1] == pytest.approx(0.05)  # floor afterwards
    assert min(lrs) > 0


def test_pick_device():
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device(None) == pick_device("auto")
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            pick_device("cuda")


def test_set_threads():
    set_threads(1)
    assert torch.get_num_threads() == 1
    set_threads(0)  # 0 keeps the current setting
    assert torch.get_num_threads() == 1


def test_resume_after_kill_in_dev_evaluation_keeps_epoch_train_loss(tmp_path, sets):
    # With frequent saves, last.pt can say "epoch 1, all batches done" when the run dies in the
    # dev evaluation. The resumed run must still report epoch 1's real training loss.
    exp = tmp_path / "exp"
    exp.mkdir()
    dev_set = sets[1]
    original_batch = dev_set.batch

    def dying_dev_batch(utts):
        raise KeyboardInterrupt

    dev_set.batch = dying_dev_batch
    cfg = _cfg(1, save_every_minutes=0.0)
    with pytest.raises(KeyboardInterrupt):
        _run(sets, exp, cfg)
    state = load_state(exp / "last.pt")
    assert state["epoch"] == 1 and state["batch_idx"] == state["step"] > 0

    dev_set.batch = original_batch
    _run(sets, exp, cfg)
    [entry] = load_state(exp / "last.pt")["history"]
    assert entry["train_loss"] > 0


def test_data_parallel_processes_match_one_process(tmp_path, sets):
    """Two processes that split each batch and sum gradients train exactly like one process."""
    histories = {}
    for procs in (1, 2):
        exp = tmp_path / f"exp{procs}"
        exp.mkdir()
        _run(sets, exp, _cfg(2, num_procs=procs, specaug=SpecAugConfig(enabled=False)))
        histories[procs] = load_state(exp / "last.pt")["history"]
        assert "epoch 2: train loss" in (exp / "train.log").read_text()
    for a, b in zip(histories[1], histories[2]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["dev_loss"] == pytest.approx(b["dev_loss"], rel=1e-4)


def test_defaults_leave_the_blank_plateau_on_a_small_corpus(tmp_path, make_feature_dir, caplog):
    """The toolkit's default schedule makes a small model learn a small corpus: 64 utterances, 10 epochs.

    Before the caps (one 12000-frame batch per epoch, a 300-step warm-up) the same run made 10 updates
    at a tiny learning rate and stayed all blank (dev CER 100%), as YESNO did."""
    train_set, _ = _fake_set(tmp_path / "train", make_feature_dir, 64, seed=0)
    dev_set, dev_refs = _fake_set(tmp_path / "dev", make_feature_dir, 8, seed=1)
    no_specaug = SpecAugConfig(enabled=False)  # its default widths are for 80-dim speech, not these 6-dim toys

    def dev_cer(cfg: TrainConfig, name: str) -> float:
        torch.manual_seed(0)
        model = BiLSTMCTC(ModelConfig(input_dim=DIM, hidden=32, layers=2, vocab_size=len(TOKENS)))
        with caplog.at_level(logging.INFO, logger="asr.nn.train"):
            train(model, train_set, dev_set, dev_refs, TOKENS, cfg, tmp_path / name, CPU)
        return load_state(tmp_path / name / "last.pt")["history"][-1]["dev_cer"]

    assert dev_cer(TrainConfig(epochs=10, specaug=no_specaug), "defaults") < 20.0
    per_epoch = int(re.search(r"(\d+) updates \((\d+) per epoch", caplog.text).group(2))
    assert per_epoch >= 20
    old = TrainConfig(epochs=10, specaug=no_specaug, min_batches_per_epoch=1, max_warmup_fraction=1.0)
    assert dev_cer(old, "old") == 100.0


def test_conv_front_end_leaves_the_blank_plateau_with_the_defaults(tmp_path, make_feature_dir):
    """The conv front-end learns the small corpus the stacking model learns, with the default schedule.

    (This toy does not show why the front-end has a LayerNorm: it learns without one too. The demo
    corpus showed it: docs/experiments/synth_en/README.md, levers.)"""
    train_set, _ = _fake_set(tmp_path / "train", make_feature_dir, 64, seed=0)
    dev_set, dev_refs = _fake_set(tmp_path / "dev", make_feature_dir, 8, seed=1)
    torch.manual_seed(0)
    model = BiLSTMCTC(ModelConfig(input_dim=DIM, hidden=32, layers=2, frontend="conv", conv_channels=8,
                                  vocab_size=len(TOKENS)))
    train(model, train_set, dev_set, dev_refs, TOKENS, TrainConfig(epochs=10, specaug=SpecAugConfig(enabled=False)),
          tmp_path / "exp", CPU)
    assert load_state(tmp_path / "exp" / "last.pt")["history"][-1]["dev_cer"] < 20.0


def test_worker_processes_train_exactly_like_in_process_batches(tmp_path, sets):
    """Batches read and SpecAugmented (masks and warp) in 2 worker processes give bit-identical weights."""
    specaug = SpecAugConfig(max_freq_width=2, max_time_width=3, warp_prob=0.5, max_warp=0.1)
    weights = {}
    for workers in (0, 2):
        exp = tmp_path / f"exp{workers}"
        exp.mkdir()
        _run(sets, exp, _cfg(2, num_workers=workers, specaug=specaug))
        weights[workers] = load_state(exp / "model.pt")
    assert weights[0].keys() == weights[2].keys()
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[2][name]), name
