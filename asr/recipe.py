"""A recipe is a short table of numbered stages; this runs a slice of it.

Each stage logs a header, runs, and writes `<marker_dir>/stage<N>.<name>.done` last (holding its
wall time). A stage with a marker is skipped on the next run; an interrupted stage left no marker,
so it runs again. `--stage/--stop-stage` pick the slice, `--force` reruns finished stages.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger("recipe")


@dataclass
class Stage:
    number: int
    name: str
    run: Callable[[], None]


def marker_path(marker_dir: Path, stage: Stage) -> Path:
    return marker_dir / f"stage{stage.number}.{stage.name}.done"


def stage_seconds(marker_dir: Path) -> dict[str, float]:
    """Wall time of each finished stage, from its marker: {'<N> <name>': seconds}."""
    out = {}
    for p in sorted(marker_dir.glob("stage*.done")):
        info = json.loads(p.read_text() or "{}")
        out[f"{info.get('number')} {info.get('name')}"] = float(info.get("seconds", 0.0))
    return out


def run_stages(stages: list[Stage], marker_dir: Path, first: int, last: int, force: bool = False) -> None:
    marker_dir.mkdir(parents=True, exist_ok=True)
    for stage in stages:
        if not first <= stage.number <= last:
            continue
        marker = marker_path(marker_dir, stage)
        if marker.exists() and not force:
            log.info("stage %d (%s): already done (%s), skipping", stage.number, stage.name, marker)
            continue
        log.info("==== stage %d: %s ====", stage.number, stage.name)
        t0 = time.time()
        stage.run()
        seconds = time.time() - t0
        marker.write_text(json.dumps({"number": stage.number, "name": stage.name, "seconds": round(seconds, 1)}))
        log.info("stage %d (%s) done in %.1f s", stage.number, stage.name, seconds)


def add_stage_args(parser: argparse.ArgumentParser, stages: list[Stage]) -> None:
    table = ", ".join(f"{s.number} {s.name}" for s in stages)
    parser.add_argument("--stage", type=int, default=stages[0].number, help=f"first stage to run ({table})")
    parser.add_argument("--stop-stage", type=int, default=stages[-1].number, help="last stage to run (inclusive)")
    parser.add_argument("--force", action="store_true", help="rerun the selected stages even if they are marked done")


def setup_logging(log_file: Path | None = None, verbose: bool = False) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=handlers,
        force=True,
    )
