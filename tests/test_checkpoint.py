"""Tests for asr/nn/checkpoint.py: atomic saves, safe loading, averaging, epoch files, model config."""

from __future__ import annotations

import pickle

import pytest
import torch

from asr.nn.checkpoint import (
    average_state_dicts,
    epoch_checkpoints,
    load_state,
    read_model_config,
    save_atomic,
    write_model_config,
)
from asr.data.features import FbankConfig
from asr.nn.model import ModelConfig


class Sneaky:
    """An object whose unpickling has a side effect (it creates a file)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_save_atomic_leaves_only_the_file_and_loads_safely(tmp_path):
    state = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 3, "history": [{"loss": 1.5}]}
    path = tmp_path / "last.pt"
    save_atomic(state, path)
    save_atomic({**state, "epoch": 4}, path)  # overwriting works too
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    loaded = torch.load(path, weights_only=True)
    assert loaded["epoch"] == 4 and loaded["history"] == [{"loss": 1.5}]
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert load_state(path)["epoch"] == 4


def test_load_state_refuses_arbitrary_objects(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Sneaky(str(marker))}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_state(path)
    assert not marker.exists()


def test_load_state_maps_to_cpu(tmp_path):
    save_atomic({"x": torch.ones(2)}, tmp_path / "a.pt")
    assert load_state(tmp_path / "a.pt", map_location="cpu")["x"].device.type == "cpu"


def test_average_state_dicts(tmp_path):
    paths = []
    for i, (w, steps) in enumerate([(1.0, 10), (2.0, 20), (6.0, 30)]):
        p = tmp_path / f"epoch-{i + 1}.pt"
        save_atomic({"model": {"w": torch.full((2, 2), w), "b": torch.tensor([w, -w]), "n": torch.tensor(steps)}}, p)
        paths.append(p)
    avg = average_state_dicts(paths)
    torch.testing.assert_close(avg["w"], torch.full((2, 2), 3.0))
    torch.testing.assert_close(avg["b"], torch.tensor([3.0, -3.0]))
    assert int(avg["n"]) == 30  # integer buffers are taken from the last checkpoint
    one = average_state_dicts(paths[:1])
    assert torch.equal(one["w"], torch.full((2, 2), 1.0))


def test_epoch_checkpoints_sort_numerically(tmp_path):
    for name in ["epoch-10.pt", "epoch-9.pt", "epoch-2.pt", "epoch-1.pt", "epoch-x.pt", "epoch-3.pt.tmp", "last.pt"]:
        (tmp_path / name).write_bytes(b"")
    found = epoch_checkpoints(tmp_path)
    assert [e for e, _ in found] == [1, 2, 9, 10]
    assert [p.name for _, p in found] == ["epoch-1.pt", "epoch-2.pt", "epoch-9.pt", "epoch-10.pt"]
    assert epoch_checkpoints(tmp_path / "nothing-here") == []


def test_model_config_round_trip(tmp_path):
    model_cfg = ModelConfig(input_dim=40, stack=2, hidden=32, layers=1, proj=16, dropout=0.1, vocab_size=29)
    fbank_cfg = FbankConfig(num_mel_bins=40, low_freq=60.0, high_freq=-400.0)
    write_model_config(tmp_path, model_cfg, fbank_cfg)
    assert read_model_config(tmp_path) == (model_cfg, fbank_cfg)


def test_read_model_config_missing_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        read_model_config(tmp_path)
