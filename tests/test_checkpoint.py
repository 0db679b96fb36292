"""Tests for asr/nn/checkpoint.py (atomic saves, safe loading, averaging, epoch files) and asr/nn/modeldir.py."""

from __future__ import annotations

import pickle

import pytest
import torch

from asr.data.features import FbankConfig
from asr.errors import MissingInputError
from asr.nn.checkpoint import (
    average_state_dicts,
    epoch_checkpoints,
    load_state,
    save_atomic,
)
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.nn.modeldir import ModelDir, ModelDirError


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


def test_load_state_honours_map_location(tmp_path):
    save_atomic({"x": torch.ones(2)}, tmp_path / "a.pt")  # saved from the CPU: only the mapping can move it
    assert load_state(tmp_path / "a.pt")["x"].device.type == "cpu"
    assert load_state(tmp_path / "a.pt", map_location=torch.device("meta"))["x"].device.type == "meta"


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
    ModelDir(tmp_path).write_config(model_cfg, fbank_cfg)
    assert ModelDir(tmp_path).read_config() == (model_cfg, fbank_cfg)


def test_model_dir_missing_files_name_the_path(tmp_path):
    with pytest.raises(MissingInputError, match="config.yaml"):
        ModelDir(tmp_path).read_config()
    (tmp_path / "config.yaml").touch()
    (tmp_path / "tokens.txt").touch()
    with pytest.raises(MissingInputError, match="model.pt.*has training finished"):
        ModelDir(tmp_path).check_complete()


def test_model_dir_builds_the_saved_model_and_names_a_corrupt_file(tmp_path):
    cfg = ModelConfig(input_dim=8, hidden=4, layers=1, vocab_size=5)
    md = ModelDir(tmp_path)
    md.write_config(cfg, FbankConfig(num_mel_bins=8))
    model = BiLSTMCTC(cfg)
    save_atomic(model.state_dict(), md / ModelDir.WEIGHTS)
    built = md.build_model("cpu")
    assert not built.training
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), model.state_dict().values()))
    (md / ModelDir.WEIGHTS).write_bytes(b"not a checkpoint")
    with pytest.raises(ModelDirError, match="model.pt: cannot load"):
        md.load_weights()
