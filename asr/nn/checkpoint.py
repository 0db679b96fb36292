"""One checkpoint format for training, resuming and inference.

A model directory (exp/<tag>/) is self-contained:

    config.yaml    model + feature config (plain YAML)
    tokens.txt     token table
    cmvn.stats     global CMVN statistics (Kaldi text matrix; also inside the weights as buffers)
    model.pt       inference weights: a plain state_dict (loaded with weights_only=True)
    last.pt        training state for resuming (weights, optimizer, scheduler, position, history)
    epoch-N.pt     training state at the end of epoch N
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely: tensors and plain containers only, never arbitrary pickles."""
    return torch.load(str(path), map_location=map_location, weights_only=True)


def epoch_checkpoints(exp_dir: str | Path) -> list[tuple[int, Path]]:
    """Sorted [(epoch, path)] of epoch-N.pt files in exp_dir."""
    found = []
    for p in Path(exp_dir).glob("epoch-*.pt"):
        m = re.fullmatch(r"epoch-(\d+)\.pt", p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def average_state_dicts(paths: list[Path]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the 'model' weights of several training checkpoints."""
    avg: dict[str, torch.Tensor] = {}
    for p in paths:
        sd = load_state(p)["model"]
        for k, v in sd.items():
            if v.is_floating_point():
                avg[k] = avg.get(k, torch.zeros_like(v)) + v / len(paths)
            else:
                avg[k] = v
    return avg


MODEL_CONFIG = "config.yaml"


def write_model_config(exp_dir: str | Path, model_cfg: Any, fbank_cfg: Any) -> None:
    """Write config.yaml (model + features) so that the folder alone can rebuild the model."""
    from asr.config import save_yaml, to_dict

    save_yaml({"model": to_dict(model_cfg), "features": to_dict(fbank_cfg)}, Path(exp_dir) / MODEL_CONFIG)


def read_model_config(exp_dir: str | Path):
    """Read config.yaml -> (ModelConfig, FbankConfig)."""
    import yaml

    from asr.config import from_dict
    from asr.data.features import FbankConfig
    from asr.nn.model import ModelConfig

    path = Path(exp_dir) / MODEL_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model config; is {exp_dir} a model directory?")
    data = yaml.safe_load(path.read_text()) or {}
    return (
        from_dict(ModelConfig, data.get("model", {}), f"{path}:model"),
        from_dict(FbankConfig, data.get("features", {}), f"{path}:features"),
    )
