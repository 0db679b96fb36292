"""Tests for asr/recipe/decode_stages.py: the recipe's decode stage writes what `asr transcribe` writes."""

from __future__ import annotations

import torch

from asr.cli import main
from asr.data.datadir import read_table
from asr.decoding.base import DecoderConfig
from asr.recipe.decode_stages import decode_stage
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
