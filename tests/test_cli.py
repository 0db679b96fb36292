"""The `asr` command: help texts, transcribe with good and bad inputs, score, validate-data-dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import speech_like

from asr.cli import build_parser, main
from asr.data.features import FbankConfig
from asr.data.tokens import build_token_table, write_tokens
from asr.nn.checkpoint import save_atomic
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.nn.modeldir import ModelDir


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """An untrained but complete model directory (config.yaml, tokens.txt, model.pt)."""
    d = tmp_path / "model"
    d.mkdir()
    tokens = build_token_table(["abc de"])
    write_tokens(d / "tokens.txt", tokens)
    cfg = ModelConfig(hidden=8, layers=1, vocab_size=len(tokens))
    ModelDir(d).write_config(cfg, FbankConfig())
    torch.manual_seed(0)
    save_atomic(BiLSTMCTC(cfg).state_dict(), d / "model.pt")
    return d


def test_every_subcommand_has_help_for_every_option():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"transcribe", "export", "score", "validate-data-dir"}
    for name, p in sub.choices.items():
        for action in p._actions:
            assert action.help, f"asr {name}: option {action.option_strings or action.dest} has no help"


def test_transcribe_all_good_exits_zero(model_dir, tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(str(wav), speech_like(0.7), 16000)
    assert main(["transcribe", "--model", str(model_dir), "--device", "cpu", str(wav)]) == 0
    assert capsys.readouterr().out.startswith(f"{wav}\t")


def test_transcribe_bad_model_dir(tmp_path, capsys):
    assert main(["transcribe", "--model", str(tmp_path), "x.wav"]) == 2
    assert "config.yaml" in capsys.readouterr().err


def test_score_kaldi_text_against_trn(tmp_path, capsys):
    ref, hyp = tmp_path / "ref.txt", tmp_path / "hyp.trn"
    ref.write_text("s1-a the cat sat\ns1-b on the mat\n")
    hyp.write_text("the cat sat down (s1-a)\non mat (s1-b)\n")
    assert main(["score", str(ref), str(hyp)]) == 0
    assert "%WER 33.33 [ 2 / 6, 1 ins, 1 del, 0 sub ]" in capsys.readouterr().out


def test_validate_data_dir(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text("u2 /x.wav\nu1 /y.wav\n")
    (d / "utt2spk").write_text("u1 s\nu2 s\n")
    assert main(["validate-data-dir", str(d), "--no-audio-check"]) == 1
    assert "wav.scp line 2" in capsys.readouterr().err


def test_console_help_runs():
    out = subprocess.run([sys.executable, "-m", "asr.cli", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("transcribe", "export", "score", "validate-data-dir"):
        assert cmd in out.stdout


def test_validate_a_segmented_data_dir(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text("rec1 /x.wav\n")
    (d / "segments").write_text("u1 rec1 0.0 1.5\nu2 rec1 1.5 3.0\n")
    (d / "text").write_text("u1 hello\nu2 world\n")
    (d / "utt2spk").write_text("u1 s\nu2 s\n")
    (d / "spk2utt").write_text("s u1 u2\n")
    assert main(["validate-data-dir", str(d), "--no-audio-check"]) == 0
    assert "2 utterances in 1 recordings" in capsys.readouterr().out
    (d / "segments").write_text("u1 rec2 0.0 1.5\nu2 rec1 1.5 3.0\n")
    assert main(["validate-data-dir", str(d), "--no-audio-check"]) == 1
    assert "segments" in capsys.readouterr().err
