"""The tiny synth_en recipe end to end (stage 0 to 5), then `asr transcribe` on one of its wavs.

This is the test CI relies on to show the spine works: corpus synthesis, features, tokens,
training, decoding, scoring and the CLI, all on data the toolkit makes itself.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asr.config import load_yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "synth_en"


def load_recipe_module():
    spec = importlib.util.spec_from_file_location("synth_en_run", RECIPE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("conf", sorted(p.name for p in (RECIPE / "conf").glob("*.yaml")))
def test_every_conf_loads_into_its_dataclass(conf):
    run = load_recipe_module()
    cfg = load_yaml(run.RecipeConfig, RECIPE / "conf" / conf)
    assert isinstance(cfg, run.RecipeConfig)
    assert cfg.model.stack >= 1 and cfg.train.epochs >= 1


def _need_engines():
    missing = [b for b in ("espeak-ng", "flite", "text2wave") if shutil.which(b) is None]
    if missing:
        pytest.skip(f"TTS engines not installed: {missing} (run tools/install_deps.sh as root)")


def test_tiny_recipe_end_to_end(tmp_path):
    _need_engines()
    cmd = [sys.executable, str(RECIPE / "run.py"), "--config", "conf/tiny.yaml", "--work-dir", str(tmp_path)]
    subprocess.run(cmd, check=True, timeout=1200)
    exp = tmp_path / "exp" / "tiny"
    for f in ["config.yaml", "tokens.txt", "cmvn.stats", "model.pt", "last.pt", "epoch-1.pt", "train.log", "curves.png", "RESULTS.md"]:
        assert (exp / f).is_file(), f
    for s in ("dev", "test"):
        dec = exp / f"decode_{s}_greedy"
        for f in ("text", "hyp.trn", "ref.trn", "wer", "cer", "per_utt", "per_spk"):
            assert (dec / f).is_file(), dec / f
        assert re.fullmatch(r"%WER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \]\n", (dec / "wer").read_text())
    results = (exp / "RESULTS.md").read_text()
    assert "held out" in results and "| test | all |" in results
    family = results.split("## Per voice family", 1)[1].split("## Per voice (speaker)", 1)[0]
    assert "| espeak | seen |" in family and "| flite | seen |" in family  # WER per engine, seen and held out

    # A second run skips every finished stage.
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    assert out.stderr.count("already done") == 8

    # asr transcribe on one of the recipe's own wavs, plus a missing file.
    wav = (tmp_path / "data" / "test" / "wav.scp").read_text().split("\n")[0].split()[1]
    missing = tmp_path / "nope.wav"
    res = subprocess.run(
        [sys.executable, "-m", "asr.cli", "transcribe", "--model", str(exp), wav, str(missing)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(wav + "\t")
    assert str(missing) in res.stderr and "file not found" in res.stderr
