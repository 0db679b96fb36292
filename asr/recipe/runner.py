"""A recipe is a short table of numbered stages; this runs a slice of it.

Each stage logs a header, runs, and writes `<marker_dir>/stage<N>.<name>.done` last (holding its
wall time and the settings it ran with). A stage with a marker is skipped on the next run, with a
warning naming each setting that changed since it ran; an interrupted stage left no marker, so it
runs again. `--stage/--stop-stage` pick the slice, `--force` reruns finished stages.

Experiments of one work dir share its data/ (stages marked `shared`: corpus, features, tokens, LM) and
each has its own exp/<tag>/. A shared stage also leaves a marker beside the data, in data/.stages/, naming
the experiment and the settings it ran with; before an experiment uses data/ (any later stage, run or
skipped) its shared stages' data markers must hold its own settings, or the run stops with one line
naming the experiment that rewrote data/ and what differs. So rerunning stage 5 of an old experiment
never decodes another corpus's sets silently.
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
    distributed: bool = False  # under torchrun every rank runs it (training); otherwise rank 0 alone
    # the config its output depends on (dataclasses, lists, numbers, strings): kept in the marker, so that
    # skipping a finished stage whose settings have changed since can say so; None: not tracked
    settings: object = None
    shared: bool = False  # writes the work dir's data/, which the work dir's other experiments read too


def settings_dict(settings: object) -> object:
    """Settings as plain JSON data (dataclasses become dicts, tuples lists)."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(settings) and not isinstance(settings, type):
        settings = asdict(settings)
    if isinstance(settings, dict):
        return {str(k): settings_dict(v) for k, v in settings.items()}
    if isinstance(settings, (list, tuple)):
        return [settings_dict(v) for v in settings]
    return settings


def changed_settings(old: object, new: object, prefix: str = "") -> list[str]:
    """'key.path: old -> new' for every leaf that differs between two settings_dict results."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [c for k in sorted(set(old) | set(new), key=str)
                for c in changed_settings(old.get(k), new.get(k), f"{prefix}.{k}" if prefix else str(k))]
    return [] if old == new else [f"{prefix or 'settings'}: {json.dumps(old)} -> {json.dumps(new)}"]


def marker_path(marker_dir: Path, stage: Stage) -> Path:
    return marker_dir / f"stage{stage.number}.{stage.name}.done"


def stage_seconds(marker_dir: Path) -> dict[str, float]:
    """Wall time of each finished stage, from its marker: {'<N> <name>': seconds}."""
    out = {}
    for p in sorted(marker_dir.glob("stage*.done")):
        info = json.loads(p.read_text() or "{}")
        out[f"{info.get('number')} {info.get('name')}"] = float(info.get("seconds", 0.0))
    return out


class DataChangedError(Exception):
    """data/ was rewritten by another experiment after this one used it (see the module docstring)."""


def _data_marker(stage: Stage, data_marker_dir: Path | None) -> dict | None:
    """What data/.stages says about shared `stage` (tag, settings), or None when there is no marker."""
    marker = None if data_marker_dir is None else marker_path(data_marker_dir, stage)
    return json.loads(marker.read_text() or "{}") if marker is not None and marker.exists() else None


def check_shared_data(stage: Stage, data_marker_dir: Path, tag: str) -> None:
    """Raise DataChangedError when data/'s marker of shared `stage` holds other settings than `stage`'s
    (data/ was made for another experiment). No marker (data made before markers existed, or by hand): no check."""
    settings = settings_dict(stage.settings)
    made = _data_marker(stage, data_marker_dir)
    if settings is None or made is None:
        return
    if "settings" in made and made["settings"] != settings:
        changes = changed_settings(settings, made["settings"])
        raise DataChangedError(
            f"data/ holds what experiment '{made.get('tag', '?')}' made, not this config's ({tag}): its stage "
            f"{stage.number} ({stage.name}) ran with other settings ({'; '.join(changes[:3])}"
            f"{f'; {len(changes) - 3} more' if len(changes) > 3 else ''}); rerun this config's data stages "
            f"(--stage {stage.number} --force) or give each experiment its own --work-dir")


def _made_with(stage: Stage, data_marker_dir: Path | None, settings: object) -> str | None:
    """The experiment whose run of shared `stage` made data/ with exactly `settings`, else None."""
    made = _data_marker(stage, data_marker_dir) if stage.shared and settings is not None else None
    return made.get("tag", "?") if made is not None and made.get("settings") == settings else None


def run_stages(stages: list[Stage], marker_dir: Path, first: int, last: int, force: bool = False,
               data_marker_dir: Path | None = None, tag: str = "") -> None:
    """Run stages first..last, skipping those with a marker (unless force).

    With data_marker_dir (the work dir's data/.stages), a shared stage also marks the data it wrote; a
    shared stage that another experiment ran with exactly this config's settings is skipped (its data is
    what this one would make: fine-tuning passes of one corpus share data/); and before any stage runs or
    is skipped, the shared stages before it that this invocation did not rerun must have made data/ with
    this config's settings (check_shared_data).
    In a torchrun process group (asr.nn.distributed) a `distributed` stage runs on every rank and any
    other on rank 0 alone; rank 0 writes the markers, and every rank waits for the others after each stage.
    """
    from asr.nn.distributed import barrier, rank

    main = rank() == 0
    marker_dir.mkdir(parents=True, exist_ok=True)
    trusted: set[int] = set()  # shared stages rerun now, or whose data markers were checked
    for stage in stages:
        if not first <= stage.number <= last:
            continue
        if data_marker_dir is not None:
            for earlier in stages:
                if earlier.shared and earlier.number < stage.number and earlier.number not in trusted:
                    check_shared_data(earlier, data_marker_dir, tag)
                    trusted.add(earlier.number)
        marker = marker_path(marker_dir, stage)
        settings = settings_dict(stage.settings)
        made = _made_with(stage, data_marker_dir, settings)
        if made is not None and not marker.exists() and not force:
            # another experiment made data/ with these very settings: this one's copy would be the same
            log.info("stage %d (%s): data/ already made with this config's settings by experiment '%s', skipping",
                     stage.number, stage.name, made)
            if main:
                marker.write_text(json.dumps({"number": stage.number, "name": stage.name, "seconds": 0.0,
                                              "settings": settings, "made_by": made}))
            trusted.add(stage.number)
            continue
        if marker.exists() and not force:
            log.info("stage %d (%s): already done (%s), skipping", stage.number, stage.name, marker)
            done = json.loads(marker.read_text() or "{}")
            if settings is not None and "settings" in done and done["settings"] != settings:
                changes = changed_settings(done["settings"], settings)
                log.warning("stage %d (%s) ran with other settings than this config's (%s%s): its output is stale; "
                            "rerun it and the stages after it with --stage %d --force", stage.number, stage.name,
                            "; ".join(changes[:5]), f"; {len(changes) - 5} more" if len(changes) > 5 else "",
                            stage.number)
            continue
        log.info("==== stage %d: %s ====", stage.number, stage.name)
        t0 = time.time()
        if main or stage.distributed:
            stage.run()
        seconds = time.time() - t0
        if main:
            info = {"number": stage.number, "name": stage.name, "seconds": round(seconds, 1)}
            marker.write_text(json.dumps(info if settings is None else {**info, "settings": settings}))
            if stage.shared and data_marker_dir is not None:
                data_marker_dir.mkdir(parents=True, exist_ok=True)
                marker_path(data_marker_dir, stage).write_text(json.dumps({**info, "tag": tag, "settings": settings}))
        if stage.shared:
            trusted.add(stage.number)
        barrier()
        log.info("stage %d (%s) done in %.1f s", stage.number, stage.name, seconds)


def add_stage_args(parser: argparse.ArgumentParser, stages: list[Stage]) -> None:
    table = ", ".join(f"{s.number} {s.name}" for s in stages)
    parser.add_argument("--stage", type=int, default=stages[0].number, help=f"first stage to run ({table})")
    parser.add_argument("--stop-stage", type=int, default=stages[-1].number, help="last stage to run (inclusive)")
    parser.add_argument("--force", action="store_true", help="rerun the selected stages even if they are marked done")


def setup_logging(log_file: Path | None = None, verbose: bool = False, quiet: bool = False) -> None:
    """Log to stderr (and `log_file`); `quiet` (a torchrun rank other than 0): warnings only."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=handlers,
        force=True,
    )


def recipe_main(
    doc: str,
    recipe_dir: Path,
    config_cls: type,
    build_stages: Callable[..., list[Stage]],
    argv: list[str] | None = None,
    add_args: Callable[[argparse.ArgumentParser], None] | None = None,
    apply_args: Callable[[object, argparse.Namespace], None] | None = None,
) -> None:
    """The main() of a recipe: parse the common options, load the typed config, log, run the stages.

    Options: --config (relative paths resolve against recipe_dir/ when not found from the current
    directory), --work-dir (default recipe_dir), --device, --verbose, --stage/--stop-stage/--force.
    `build_stages(cfg, work_dir, device, command)` makes the stage table; the config needs `tag`
    (the exp folder name) and `train.num_threads`. `add_args` adds recipe options to the parser and
    `apply_args(cfg, args)` writes them into the loaded config. Logs to <work>/exp/<tag>/run.log.
    An asr.errors.AsrError (a problem with the user's data or config, whose message says what to
    do) is logged and ends the program with status 1, without a traceback; Ctrl-C ends it with 130
    (the interrupted stage left no marker, so the next run redoes it).
    """
    import shlex

    import torch

    from asr.config import load_yaml
    from asr.device import pick_device, set_threads
    from asr.errors import AsrError
    from asr.nn.distributed import init_torchrun, torchrun_env

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="conf/default.yaml",
                        help="YAML config; relative paths resolve against the recipe folder")
    parser.add_argument("--work-dir", default=str(recipe_dir), help="where data/ and exp/ go (default: the recipe folder)")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA if available), 'cpu' or 'cuda[:N]'")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    if add_args is not None:
        add_args(parser)
    add_stage_args(parser, build_stages(config_cls(), Path("."), torch.device("cpu"), ""))
    args = parser.parse_args(argv)

    config_path = Path(args.config)
    if not config_path.is_absolute() and not config_path.exists():
        config_path = recipe_dir / config_path
    try:
        cfg = load_yaml(config_cls, config_path)
        if apply_args is not None:
            apply_args(cfg, args)
    except (AsrError, OSError) as e:
        sys.exit(f"error: {e}")
    work = Path(args.work_dir).resolve()
    exp = work / "exp" / cfg.tag
    device = pick_device(args.device)
    env = torchrun_env()
    if env is not None:  # started by torchrun: join its process group; rank 0 alone logs to run.log
        env, device = init_torchrun(device)
    setup_logging(exp / "run.log" if env is None or env.rank == 0 else None, args.verbose,
                  quiet=env is not None and env.rank != 0)
    set_threads(cfg.train.num_threads)
    words = sys.argv if argv is None else [str(recipe_dir / "run.py"), *argv]
    command = " ".join(shlex.quote(a) for a in [sys.executable, *words])
    log.info("config %s, work dir %s, device %s", config_path, work, device)
    t0 = time.time()
    try:
        run_stages(build_stages(cfg, work, device, command), exp / ".stages", args.stage, args.stop_stage, args.force,
                   data_marker_dir=work / "data" / ".stages", tag=cfg.tag)
    except (AsrError, DataChangedError) as e:
        log.error("%s", e)
        sys.exit(1)
    except KeyboardInterrupt:
        log.error("interrupted; the next run redoes the unfinished stage")
        sys.exit(130)
    log.info("finished in %.1f s", time.time() - t0)
