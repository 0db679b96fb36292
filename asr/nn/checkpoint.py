"""One checkpoint format for training, resuming and inference.

Files (the model directory's other files: asr/nn/modeldir.py):

    model.pt       inference weights: a plain state_dict (loaded with weights_only=True)
    last.pt        training state for resuming (weights, optimizer, scheduler, position, history)
    epoch-N.pt     training state at the end of epoch N
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from asr.fileio import atomic_output


def save_atomic(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over `path`."""
    with atomic_output(path, fsync=True) as tmp:
        torch.save(obj, tmp)


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

