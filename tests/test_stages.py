"""Tests for asr/recipe/stages.py's tokens and train stages with train.init_from: fine-tuning keeps the
trained model directory's tokens, starts from its weights and CMVN, and refuses a mismatch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from asr.config import ConfigError
from asr.data.features import FbankConfig
from asr.data.specaug import SpecAugConfig
from asr.data.tokens import TokenError
from asr.errors import MissingInputError
from asr.nn.checkpoint import load_state
from asr.nn.modeldir import ModelDir
from asr.nn.schedule import TrainConfig
from asr.recipe.stages import TokenConfig, tokens_stage, train_stage

CPU = torch.device("cpu")


def _train_cfg(**kw) -> TrainConfig:
    base = dict(epochs=1, max_frames=2400, lr=3e-4, warmup_steps=5, final_lr_ratio=0.1, num_procs=1,
                average_last=1, specaug=SpecAugConfig(enabled=False))
    return TrainConfig(**{**base, **kw})


def _history(exp: Path) -> list[dict]:
    return load_state(exp / "last.pt")["history"]


def test_init_from_continues_the_trained_model(digit_model_dir, tmp_path):
    """One epoch from the digits model stays near its accuracy; one epoch from random weights is all blank."""
    data = digit_model_dir.parent / "data"
    model_cfg, fbank_cfg = ModelDir(digit_model_dir).read_config()
    tuned, scratch = tmp_path / "tuned", tmp_path / "scratch"
    train_stage(data, tuned, model_cfg, fbank_cfg, _train_cfg(init_from=str(digit_model_dir)), CPU)
    train_stage(data, scratch, model_cfg, fbank_cfg, _train_cfg(), CPU)
    base_cer = load_state(digit_model_dir / "last.pt")["history"][-1]["dev_cer"]
    assert _history(tuned)[0]["dev_cer"] <= base_cer + 5.0
    assert _history(scratch)[0]["dev_cer"] > 80.0
    assert (tuned / "cmvn.stats").read_text() == (digit_model_dir / "cmvn.stats").read_text()


def test_init_from_a_relative_path_is_read_from_the_work_dir(digit_model_dir, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(digit_model_dir.parent / "data", work / "data")
    shutil.copytree(digit_model_dir, work / "exp" / "base")
    # a different CMVN in the new data: the fine-tuned model must keep its own
    (work / "data" / "train" / "cmvn.stats").write_text((work / "data" / "train" / "cmvn.stats").read_text().replace("[", "[ 1", 1))
    model_cfg, fbank_cfg = ModelDir(digit_model_dir).read_config()
    train_stage(work / "data", work / "exp" / "tuned", model_cfg, fbank_cfg, _train_cfg(init_from="exp/base", lr=1e-9), CPU)
    base = ModelDir(digit_model_dir).load_weights()
    tuned = ModelDir(work / "exp" / "tuned").load_weights()
    assert all(torch.allclose(base[k], tuned[k], atol=1e-6) for k in base)
    assert (work / "exp" / "tuned" / "cmvn.stats").read_text() == (digit_model_dir / "cmvn.stats").read_text()


def test_init_from_refuses_another_model_features_or_tokens(digit_model_dir, tmp_path):
    data = digit_model_dir.parent / "data"
    model_cfg, fbank_cfg = ModelDir(digit_model_dir).read_config()
    with pytest.raises(ConfigError, match=r"config.yaml has another model section \(hidden: 96 there, 64 here\)"):
        bigger = type(model_cfg)(**{**vars(model_cfg), "hidden": 64})
        train_stage(data, tmp_path / "a", bigger, fbank_cfg, _train_cfg(init_from=str(digit_model_dir)), CPU)
    with pytest.raises(ConfigError, match=r"another features section \(low_freq: 20.0 there, 40.0 here\)"):
        train_stage(data, tmp_path / "b", model_cfg, FbankConfig(low_freq=40.0),
                    _train_cfg(init_from=str(digit_model_dir)), CPU)
    other = tmp_path / "other_tokens"
    shutil.copytree(digit_model_dir, other)
    lines = (other / "tokens.txt").read_text().splitlines()
    (a, i), (b, j) = lines[2].split(), lines[3].split()
    lines[2:4] = [f"{b} {i}", f"{a} {j}"]  # two letters swapped: same symbols, other ids
    (other / "tokens.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="other_tokens/tokens.txt is not this run's token table"):
        train_stage(data, tmp_path / "c", model_cfg, fbank_cfg, _train_cfg(init_from=str(other)), CPU)
    with pytest.raises(MissingInputError, match="missing"):
        train_stage(data, tmp_path / "d", model_cfg, fbank_cfg, _train_cfg(init_from=str(tmp_path / "nowhere")), CPU)


def test_tokens_stage_keeps_the_init_models_tokens(digit_model_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(digit_model_dir.parent / "data", data, ignore=shutil.ignore_patterns("lang"))
    tokens_stage(data, TokenConfig(unit="char"), ModelDir(digit_model_dir))
    assert (data / "lang" / "tokens.txt").read_text() == (digit_model_dir / "tokens.txt").read_text()
    text = (data / "dev" / "text").read_text().splitlines()
    text[1] = text[1].split()[0] + " quiet"  # no 'q' in the digit words
    (data / "dev" / "text").write_text("\n".join(text) + "\n")
    utt = text[1].split()[0]
    with pytest.raises(TokenError, match=rf"dev/text: utt '{utt}': character 'q' in 'quiet' is not in the token "
                                         r"table; train.init_from keeps the tokens of .*exp/tokens.txt"):
        tokens_stage(data, TokenConfig(unit="char"), ModelDir(digit_model_dir))
