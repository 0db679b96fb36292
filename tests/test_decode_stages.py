"""Tests for asr/recipe/decode_stages.py: the recipe's decode stage writes what `asr transcribe` writes."""

from __future__ import annotations

import shutil

import torch

from asr.cli import main
from asr.data.datadir import read_table
from asr.decoding.base import DecoderConfig
from asr.lm import LMConfig
from asr.nn.modeldir import ModelDir
from asr.recipe.decode_stages import decode_stage, tune_lm_stage
from asr.recipe.stages import DecodingConfig, lm_stage
from asr.scoring.files import read_transcripts


def test_recipe_ctm_and_text_equal_asr_transcribe(digit_model_dir, tmp_path, capsys):
    exp = digit_model_dir
    data = exp.parent / "data"  # tests/digits.py trains through the recipe stages: data/ sits beside exp/
    decode_stage(data, exp, ["dev"], torch.device("cpu"), {"greedy": DecoderConfig("greedy"), "beam": DecoderConfig("beam")})
    for name, flags in (("greedy", []), ("beam", ["--beam", "8"])):
        out = exp / f"decode_dev_{name}"
        ctm = (out / "ctm").read_text()
        assert len(ctm.splitlines()) >= 48 * 2  # every dev utterance has 2-4 words
        capsys.readouterr()
        # whole utterances, as the recipe decodes them from feats.scp
        assert main(["transcribe", "--model", str(exp), "--device", "cpu", "--decoder", name, *flags, "--format", "ctm",
                     "--pause-seconds", "0", "--no-progress", str(data / "dev" / "wav.scp")]) == 0
        assert capsys.readouterr().out == ctm, name
        hyps = read_transcripts(out / "text")
        assert hyps == {u: " ".join(line.split()[4] for line in ctm.splitlines() if line.split()[0] == u) for u in hyps}
    refs = read_table(data / "dev" / "text")
    hyps = read_transcripts(exp / "decode_dev_greedy" / "text")
    assert sum(hyps[u] == refs[u] for u in refs) >= 0.9 * len(refs)  # the digits model really recognises


def test_two_decoding_processes_write_the_files_of_one(digit_model_dir, copy_digit_model, tmp_path):
    """decode_stage(nj=2): two spawned workers decode half of each set; the merged files are one process's."""
    data = digit_model_dir.parent / "data"
    exps = {}
    for nj in (1, 2):
        exp = exps[nj] = copy_digit_model(tmp_path / f"nj{nj}")
        decode_stage(data, exp, ["dev", "train"], torch.device("cpu"),
                     {"greedy": DecoderConfig("greedy"), "beam": DecoderConfig("beam")}, max_frames=2000, nj=nj)
    for s in ("dev", "train"):
        for name in ("greedy", "beam"):
            for f in ("text", "hyp.trn", "ctm"):
                assert (exps[1] / f"decode_{s}_{name}" / f).read_bytes() == (exps[2] / f"decode_{s}_{name}" / f).read_bytes()
    assert len((exps[2] / "decode_dev_greedy" / "text").read_text().splitlines()) == 48


def test_lm_tuning_in_two_processes_and_its_dev_decode(digit_model_dir, copy_digit_model, tmp_path):
    """tune_lm_stage(nj=2) writes one process's files; the chosen point's dev transcripts, kept from the
    grid instead of decoded again, are the files decode_stage writes with the chosen decoder."""
    src = digit_model_dir.parent / "data"
    data = tmp_path / "data"
    (data / "lang").mkdir(parents=True)
    for s in ("train", "dev"):
        (data / s).symlink_to(src / s)
    shutil.copy(src / "lang" / "tokens.txt", data / "lang" / "tokens.txt")
    lm_stage(data, LMConfig(order=2), ["dev"])
    cfg = DecodingConfig(decoder=DecoderConfig(beam=4, lm_beam=8), lm_weights=[0.5, 1.0], word_scores=[0.0],
                         unk_scores=[-3.0])
    exps = {}
    for nj in (1, 2):
        exp = exps[nj] = copy_digit_model(tmp_path / f"nj{nj}")
        tune_lm_stage(data, exp, ["dev", "train"], torch.device("cpu"), cfg, nj=nj)
    for f in ("decoder.yaml", "tune_lm_dev/wer_grid.tsv", *(f"decode_{s}_lm/{n}" for s in ("dev", "train")
                                                             for n in ("text", "hyp.trn", "ctm"))):
        assert (exps[1] / f).read_bytes() == (exps[2] / f).read_bytes(), f
    assert len((exps[1] / "tune_lm_dev" / "wer_grid.tsv").read_text().splitlines()) == 1 + 3  # 2 lexicon + 1 lexicon-free
    again = tmp_path / "again"
    shutil.copytree(exps[1], again)
    shutil.rmtree(again / "decode_dev_lm")
    decode_stage(data, again, ["dev"], torch.device("cpu"), {"lm": ModelDir(again).read_decoder_config()},
                 max_frames=cfg.max_frames)
    for f in ("text", "hyp.trn", "ctm"):
        assert (again / "decode_dev_lm" / f).read_bytes() == (exps[1] / "decode_dev_lm" / f).read_bytes()
