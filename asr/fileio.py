"""Atomic writes: a reader never sees half a file, and an interrupted run leaves no partial one.

    with atomic_output("exp/model.pt") as tmp:   # tmp: a temporary path in the same folder
        torch.save(state, tmp)                    # renamed over exp/model.pt on success, removed on error
    atomic_write_text("data/train/text", "utt1 hello\n")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | Path, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to `path` (same suffix, so writers that look at it still work);
    on success it is fsynced if asked and renamed over `path`; on any error it is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8, newlines as given) to `path` atomically."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def atomic_write_lines(path: str | Path, lines: Iterable[str]) -> None:
    """Write each line plus '\\n' to `path` atomically."""
    atomic_write_text(path, "".join(line + "\n" for line in lines))
