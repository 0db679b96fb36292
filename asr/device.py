"""Device choice: CUDA when available, else CPU; `--device` overrides."""

from __future__ import annotations

import torch


def pick_device(name: str | None = "auto") -> torch.device:
    """'auto' (or None) -> cuda if available else cpu; otherwise torch.device(name), checked."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    return dev


def set_threads(num_threads: int) -> None:
    """Set intra-op CPU threads; 0 keeps torch's default (all cores)."""
    if num_threads > 0:
        torch.set_num_threads(num_threads)
