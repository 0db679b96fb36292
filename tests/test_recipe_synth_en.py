"""The tiny synth_en recipe end to end (stage 0 to 5), then `asr transcribe` on one of its wavs.

This is the test CI relies on to show the spine works: corpus synthesis, features, tokens,
training, decoding, scoring and the CLI, all on data the toolkit makes itself.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asr.config import load_yaml, to_dict

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "synth_en"


def load_recipe_module():
    spec = importlib.util.spec_from_file_location("synth_en_run", RECIPE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


CONFS = sorted(p.name for p in (RECIPE / "conf").glob("*.yaml"))
EXPERIMENT_CONFS = sorted(p.name for p in (ROOT / "docs" / "experiments" / "synth_en").glob("*.yaml"))


@pytest.mark.parametrize("conf", CONFS + [f"experiments/{c}" for c in EXPERIMENT_CONFS])
def test_every_conf_loads_into_its_dataclass(conf):
    run = load_recipe_module()
    path = ROOT / "docs" / "experiments" / "synth_en" / conf[12:] if conf.startswith("experiments/") else RECIPE / "conf" / conf
    cfg = load_yaml(run.RecipeConfig, path)
    assert isinstance(cfg, run.RecipeConfig)
    assert cfg.model.stack >= 1 and cfg.train.epochs >= 1


def test_configs_merged_from_their_bases_are_the_ones_they_replaced():
    """conf/*.yaml became short changes to default.yaml (`base:`); each merged config must be, key for key,
    the standalone file it replaced (tests/fixtures/synth_en_configs.json: those files as loaded at 01a3e03),
    so that `make model` and `make demo` rebuild the same corpora and models."""
    run = load_recipe_module()
    before = json.loads((ROOT / "tests" / "fixtures" / "synth_en_configs.json").read_text())
    assert sorted(before) == sorted(c[:-5] for c in CONFS)
    for name, expected in before.items():
        # keys added since: model.arch (one architecture) and conv_stride (the conv front-end's stride, which
        # was `stack` until then: 3 in every config)
        expected["model"] = {"arch": "bilstm_ctc", "conv_stride": expected["model"]["stack"], **expected["model"]}
        if name == "default":  # the demo, cut to under 27 minutes on purpose (issue #30): 400 fewer
            # training utterances, no prefix-beam column, one LM tuning point
            expected["corpus"]["num_train"] = 12600
            expected["decoding"].update(decoders=["greedy", "lm"], word_scores=[0.0])
        merged = to_dict(load_yaml(run.RecipeConfig, RECIPE / "conf" / f"{name}.yaml"))
        assert json.loads(json.dumps(merged)) == expected, name
    assert sum(len((RECIPE / "conf" / c).read_text().splitlines()) for c in CONFS) <= 400


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
    assert "per-utterance mean normalisation" in results.split("## Error rates", 1)[0]  # tiny.yaml: utt_cmn
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


def test_corpus_stage_writes_audio_under_corpus_dir(tmp_path, monkeypatch):
    """corpus_dir (conf/long_ft2.yaml: corpus_seed1) is where stage 0 puts the audio: a corpus made with other
    settings than the work dir's corpus/ goes beside it instead of being refused."""
    import torch

    run = load_recipe_module()
    calls = []
    monkeypatch.setattr(run, "prepare_synth_en", lambda audio_dir, data, cfg, nj: calls.append(Path(audio_dir)))
    monkeypatch.setattr(run, "read_datadir", lambda d: None)
    monkeypatch.setattr(run, "synth_lm_sentences", lambda d: ["a sentence"])
    (tmp_path / "data").mkdir()
    for corpus_dir in ("corpus", "corpus_seed1"):
        cfg = run.RecipeConfig(corpus_dir=corpus_dir)
        stages = run.build_stages(cfg, tmp_path, torch.device("cpu"), "run.py")
        stages[0].run()
    assert calls == [tmp_path / "corpus", tmp_path / "corpus_seed1"]
    assert load_yaml(run.RecipeConfig, RECIPE / "conf" / "long_ft2.yaml").corpus_dir == "corpus_seed1"


def test_audio_made_with_other_settings_is_refused_naming_them(tmp_path):
    from data_prep.synth.corpus import SynthConfig, _check_config_stamp

    _check_config_stamp(tmp_path, SynthConfig(seed=0))
    _check_config_stamp(tmp_path, SynthConfig(seed=0, num_train=10))  # sizes may grow
    with pytest.raises(ValueError, match=r"other settings \(reverb_prob, seed\).*corpus_dir"):
        _check_config_stamp(tmp_path, SynthConfig(seed=1, reverb_prob=0.95))
