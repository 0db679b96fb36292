"""Tests for asr/recipe/runner.py: stage slicing, markers, skipping, reruns after failure, --force."""

from __future__ import annotations

import argparse
import json
import logging

import pytest

from asr.recipe.runner import (
    Stage,
    add_stage_args,
    marker_path,
    run_stages,
    stage_seconds,
)


class Recorder:
    """Stages 1..4 that append their number to `calls`; stage `fail` raises while `failing`."""

    def __init__(self, fail: int | None = None) -> None:
        self.calls: list[int] = []
        self.fail = fail
        self.failing = True
        names = {1: "prepare", 2: "features", 3: "train", 4: "decode"}
        self.stages = [Stage(n, name, self._runner(n)) for n, name in names.items()]

    def _runner(self, n: int):
        def run() -> None:
            self.calls.append(n)
            if n == self.fail and self.failing:
                raise RuntimeError(f"stage {n} broke")

        return run


def _markers(marker_dir) -> list[str]:
    return sorted(p.name for p in marker_dir.glob("*.done"))


def test_runs_slice_in_order_and_writes_markers(tmp_path, caplog):
    rec = Recorder()
    with caplog.at_level(logging.INFO, logger="recipe"):
        run_stages(rec.stages, tmp_path / "m", 2, 3)
    assert rec.calls == [2, 3]
    assert _markers(tmp_path / "m") == ["stage2.features.done", "stage3.train.done"]
    info = json.loads(marker_path(tmp_path / "m", rec.stages[1]).read_text())
    assert info["number"] == 2 and info["name"] == "features" and info["seconds"] >= 0
    assert "stage 2: features" in caplog.text and "stage 3: train" in caplog.text


def test_second_run_skips_finished_stages(tmp_path):
    rec = Recorder()
    run_stages(rec.stages, tmp_path, 1, 4)
    assert rec.calls == [1, 2, 3, 4]
    run_stages(rec.stages, tmp_path, 1, 4)
    assert rec.calls == [1, 2, 3, 4]
    run_stages(rec.stages, tmp_path, 1, 4, force=True)
    assert rec.calls == [1, 2, 3, 4, 1, 2, 3, 4]


def test_force_reruns_only_the_slice(tmp_path):
    rec = Recorder()
    run_stages(rec.stages, tmp_path, 1, 4)
    run_stages(rec.stages, tmp_path, 3, 3, force=True)
    assert rec.calls == [1, 2, 3, 4, 3]


def test_failed_stage_leaves_no_marker_and_reruns(tmp_path):
    rec = Recorder(fail=2)
    with pytest.raises(RuntimeError, match="stage 2 broke"):
        run_stages(rec.stages, tmp_path, 1, 4)
    assert rec.calls == [1, 2]
    assert _markers(tmp_path) == ["stage1.prepare.done"]
    rec.failing = False
    run_stages(rec.stages, tmp_path, 1, 4)
    assert rec.calls == [1, 2, 2, 3, 4]
    assert len(_markers(tmp_path)) == 4


def test_stage_seconds_reads_markers(tmp_path):
    rec = Recorder()
    run_stages(rec.stages, tmp_path, 1, 2)
    marker_path(tmp_path, rec.stages[0]).write_text(json.dumps({"number": 1, "name": "prepare", "seconds": 12.5}))
    assert stage_seconds(tmp_path) == {"1 prepare": 12.5, "2 features": pytest.approx(0.0, abs=0.5)}
    assert stage_seconds(tmp_path / "none") == {}


def test_stage_args_default_to_whole_table():
    rec = Recorder()
    parser = argparse.ArgumentParser()
    add_stage_args(parser, rec.stages)
    args = parser.parse_args([])
    assert (args.stage, args.stop_stage, args.force) == (1, 4, False)
    args = parser.parse_args(["--stage", "2", "--stop-stage", "3", "--force"])
    assert (args.stage, args.stop_stage, args.force) == (2, 3, True)
    assert "3 train" in parser.format_help()


def test_skipped_stage_with_changed_settings_is_reported(tmp_path, caplog):
    """A finished stage is still skipped, but a warning names each setting that changed since it ran."""
    from asr.decoding.base import DecoderConfig

    calls = []
    made = lambda beam, sets: [  # noqa: E731
        Stage(1, "decode", lambda: calls.append(1), settings={"decoder": DecoderConfig(lm_beam=beam), "sets": sets}),
        Stage(2, "score", lambda: calls.append(2)),  # untracked: never reported
    ]
    run_stages(made(50, ("dev", "test")), tmp_path, 1, 2)
    info = json.loads(marker_path(tmp_path, made(50, [])[0]).read_text())
    assert info["settings"]["decoder"]["lm_beam"] == 50 and info["settings"]["sets"] == ["dev", "test"]
    with caplog.at_level(logging.INFO, logger="recipe"):
        run_stages(made(50, ["dev", "test"]), tmp_path, 1, 2)  # a tuple and a list are the same setting
    assert "other settings" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="recipe"):
        run_stages(made(200, ["dev"]), tmp_path, 1, 2)
    assert calls == [1, 2]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ['stage 1 (decode) ran with other settings than this config\'s (decoder.lm_beam: 50 -> 200; '
                      'sets: ["dev", "test"] -> ["dev"]): its output is stale; rerun it and the stages after it '
                      'with --stage 1 --force']
    run_stages(made(200, ["dev"]), tmp_path, 1, 1, force=True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="recipe"):
        run_stages(made(200, ["dev"]), tmp_path, 1, 1)
    assert calls == [1, 2, 1] and "other settings" not in caplog.text
