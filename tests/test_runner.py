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


def _experiment(seed: int, calls: list[str], tag: str) -> list[Stage]:
    """A work dir's data stages (shared, settings = the corpus seed) and an experiment's own stage."""
    return [Stage(0, "corpus", lambda: calls.append(f"{tag}:corpus"), settings={"seed": seed}, shared=True),
            Stage(1, "features", lambda: calls.append(f"{tag}:features"), settings={"seed": seed}, shared=True),
            Stage(5, "decode", lambda: calls.append(f"{tag}:decode"))]


def test_an_experiment_refuses_data_another_one_rewrote(tmp_path):
    """Two experiments of one work dir: B's corpus stage rewrites data/; rerunning A's decode stage then
    stops with one line naming B and the setting, instead of decoding B's sets; A's data stages again fix it."""
    from asr.recipe.runner import DataChangedError

    data, calls = tmp_path / "data" / ".stages", []
    run_stages(_experiment(0, calls, "A"), tmp_path / "A", 0, 5, data_marker_dir=data, tag="A")
    run_stages(_experiment(0, calls, "A2"), tmp_path / "A2", 5, 5, data_marker_dir=data, tag="A2")  # same data: fine
    run_stages(_experiment(1, calls, "B"), tmp_path / "B", 0, 5, data_marker_dir=data, tag="B")
    assert calls == ["A:corpus", "A:features", "A:decode", "A2:decode", "B:corpus", "B:features", "B:decode"]
    assert json.loads((data / "stage0.corpus.done").read_text())["tag"] == "B"
    with pytest.raises(DataChangedError) as e:
        run_stages(_experiment(0, calls, "A"), tmp_path / "A", 5, 5, force=True, data_marker_dir=data, tag="A")
    msg = str(e.value)
    assert "\n" not in msg and "experiment 'B'" in msg and "(A)" in msg and "seed: 0 -> 1" in msg
    assert "--stage 0 --force" in msg and calls[-1] == "B:decode"
    # A's skipped stages (its own markers say done) do not hide it either
    with pytest.raises(DataChangedError):
        run_stages(_experiment(0, calls, "A"), tmp_path / "A", 0, 5, data_marker_dir=data, tag="A")
    run_stages(_experiment(0, calls, "A"), tmp_path / "A", 0, 5, force=True, data_marker_dir=data, tag="A")
    assert calls[-3:] == ["A:corpus", "A:features", "A:decode"]
    run_stages(_experiment(0, calls, "A"), tmp_path / "A", 5, 5, force=True, data_marker_dir=data, tag="A")
    assert calls[-1] == "A:decode"
    # data made before these markers existed (no data/.stages) is not checked
    run_stages(_experiment(1, calls, "C"), tmp_path / "C", 5, 5, data_marker_dir=tmp_path / "none", tag="C")
    assert calls[-1] == "C:decode"


def test_a_shared_stage_made_with_the_same_settings_is_not_made_again(tmp_path):
    """A second experiment on the same corpus (a fine-tuning pass) skips the data stages another one ran
    with its very settings, and runs them when its settings differ; --force reruns them."""
    data, calls = tmp_path / "data" / ".stages", []
    run_stages(_experiment(0, calls, "A"), tmp_path / "A", 0, 5, data_marker_dir=data, tag="A")
    run_stages(_experiment(0, calls, "B"), tmp_path / "B", 0, 5, data_marker_dir=data, tag="B")
    assert calls == ["A:corpus", "A:features", "A:decode", "B:decode"]
    assert json.loads((tmp_path / "B" / "stage0.corpus.done").read_text())["made_by"] == "A"
    run_stages(_experiment(0, calls, "B"), tmp_path / "B", 0, 1, force=True, data_marker_dir=data, tag="B")
    assert calls[-2:] == ["B:corpus", "B:features"]
    run_stages(_experiment(2, calls, "C"), tmp_path / "C", 0, 5, data_marker_dir=data, tag="C")
    assert calls[-3:] == ["C:corpus", "C:features", "C:decode"]
