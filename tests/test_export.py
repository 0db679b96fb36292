"""`asr export`: a self-contained model directory that loads without unpickling and transcribes the same."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import asr
from asr.cli import main
from asr.data.tokens import read_tokens
from asr.decoding.base import DecoderConfig
from asr.decoding.lm import build_lexicon, write_arpa, write_lexicon
from asr.nn.modeldir import ModelDir
from asr.transcribe.export import ExportError, export_model


@pytest.fixture
def exp_dir(digit_model_dir, tmp_path):
    """A copy of the digits model laid out like a recipe's exp/<tag>: training files, RESULTS.md, an LM decoder."""
    exp = tmp_path / "exp"
    shutil.copytree(digit_model_dir, exp)
    (exp / "last.pt").write_bytes(b"training state: not exported")
    (exp / "epoch-1.pt").write_bytes(b"not exported either")
    (exp / "train.log").write_text("log\n")
    (exp / "RESULTS.md").write_text("# Results\n\n| set | WER |\n|---|---|\n| test | 1.0 |\n")
    lang = tmp_path / "lang"
    lang.mkdir()
    sentences = ["one two one", "two one", "one one two", "two two"]
    write_arpa(lang / "lm.arpa", sentences, order=2)
    write_lexicon(lang / "lexicon.txt", build_lexicon(["one", "two"], read_tokens(exp / "tokens.txt")))
    ModelDir(exp).write_decoder_config(DecoderConfig(kind="lm", lm=str(lang / "lm.arpa"), lexicon=str(lang / "lexicon.txt"),
                                            lm_weight=0.5))
    return exp


def test_export_writes_only_what_transcription_needs(exp_dir, tmp_path):
    out = export_model(exp_dir, tmp_path / "model")
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "cmvn.stats", "config.yaml", "decoder.yaml", "lexicon.txt", "lm.arpa", "model.pt",
                     "tokens.txt"]
    cfg = ModelDir(out).read_decoder_config()
    assert (cfg.kind, cfg.lm, cfg.lexicon, cfg.lm_weight) == ("lm", "lm.arpa", "lexicon.txt", 0.5)
    readme = (out / "README.md").read_text()
    assert "| test | 1.0 |" in readme and "sha256" in readme
    state = torch.load(out / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary folder left


def test_exported_model_transcribes_like_the_original(exp_dir, tmp_path, digit_speaker):
    out = export_model(exp_dir, tmp_path / "model")
    s = digit_speaker.say(["one", "two", "one"], np.random.default_rng(1))
    a = asr.load_model(exp_dir, device="cpu").transcribe(s.wave, sample_rate=16000, decoder="greedy")[0]
    b = asr.load_model(out, device="cpu").transcribe(s.wave, sample_rate=16000, decoder="greedy")[0]
    assert a.text == b.text == "one two one"
    assert a.words == b.words
    # the exported LM decoder loads from the directory alone
    shutil.rmtree(tmp_path / "lang")
    assert asr.load_model(out, device="cpu").transcribe(s.wave, sample_rate=16000)[0].text == "one two one"


def test_export_refuses_incomplete_or_occupied_dirs(exp_dir, tmp_path, capsys):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_model(exp_dir, out)
    assert main(["export", str(exp_dir), str(out), "--force"]) == 0
    assert not (out / "keep.txt").exists()
    (exp_dir / "model.pt").unlink()
    assert main(["export", str(exp_dir), str(tmp_path / "other")]) == 1
    err = capsys.readouterr().err
    assert "model.pt" in err and "has training finished" in err
    assert not (tmp_path / "other").exists()


def test_export_rejects_a_pickled_object(exp_dir, tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    (exp_dir / "model.pt").write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(ExportError, match="cannot load"):
        export_model(exp_dir, tmp_path / "model")


def test_half_weights_and_gzipped_lm_transcribe_the_same(exp_dir, tmp_path, digit_speaker):
    full = export_model(exp_dir, tmp_path / "full")
    small = export_model(exp_dir, tmp_path / "small", half=True, gzip_lm=True)
    assert sorted(p.name for p in small.iterdir()) == ["README.md", "cmvn.stats", "config.yaml", "decoder.yaml",
                                                       "lexicon.txt.gz", "lm.arpa.gz", "model.pt", "tokens.txt"]
    assert ModelDir(small).read_decoder_config().lm == "lm.arpa.gz"
    assert ModelDir(small).read_decoder_config().lexicon == "lexicon.txt.gz"
    state = torch.load(small / "model.pt", weights_only=True)
    assert {v.dtype for k, v in state.items() if not k.startswith("cmvn.")} == {torch.float16}
    assert {v.dtype for k, v in state.items() if k.startswith("cmvn.")} == {torch.float32}
    assert (small / "model.pt").stat().st_size < 0.6 * (full / "model.pt").stat().st_size
    s = digit_speaker.say(["two", "one", "two"], np.random.default_rng(2))
    for decoder in ("greedy", None):  # None: decoder.yaml, the LM decoder reading lm.arpa.gz and lexicon.txt.gz
        a = asr.load_model(full, device="cpu").transcribe(s.wave, sample_rate=16000, decoder=decoder)[0]
        b = asr.load_model(small, device="cpu").transcribe(s.wave, sample_rate=16000, decoder=decoder)[0]
        assert a.text == b.text == "two one two"
    # the same LM gives the same compressed bytes (no timestamp inside)
    again = export_model(exp_dir, tmp_path / "again", half=True, gzip_lm=True)
    assert (again / "lm.arpa.gz").read_bytes() == (small / "lm.arpa.gz").read_bytes()
    assert (again / "lexicon.txt.gz").read_bytes() == (small / "lexicon.txt.gz").read_bytes()


def test_note_opens_the_readme(exp_dir, tmp_path, capsys):
    note = tmp_path / "note.md"
    note.write_text("**Trained only on synthetic speech.**\n")
    assert main(["export", str(exp_dir), str(tmp_path / "model"), "--note", str(note)]) == 0
    readme = (tmp_path / "model" / "README.md").read_text()
    assert readme.index("**Trained only on synthetic speech.**") < readme.index("Exported from")
    assert main(["export", str(exp_dir), str(tmp_path / "other"), "--note", str(tmp_path / "nope.md")]) == 1
    assert "nope.md" in capsys.readouterr().err and not (tmp_path / "other").exists()
