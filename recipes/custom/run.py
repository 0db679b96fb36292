#!/usr/bin/env python3
"""custom: BiLSTM-CTC on your own recordings (a folder with transcripts beside the audio, or a manifest).

Stages (files each one reads -> writes, under --work-dir):
  0 prepare   --data PATH -> data/local/{train,dev,test,prepare.log}, data/{train,dev,test}
              (data_prep/custom.py: layouts, columns, and what is reported)
  1 features  data/<set>/wav.scp (+ segments) -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/train/text -> data/lang/tokens.txt (characters, or BPE with tokens.unit: bpe)
  3 lm        only when decoding.decoders has 'lm' (see asr/recipe/stages.py)
  4 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  5 decode    exp/<tag>/model.pt, data/{dev,test} -> exp/<tag>/decode_<set>_greedy/{text,hyp.trn,ctm}
  6 tune_lm   only with 'lm'
  7 score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/<tag>/RESULTS.md

Usage: python recipes/custom/run.py --data PATH [--config conf/default.yaml] [--work-dir DIR] [--stage N]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.recipe.runner import Stage, recipe_main
from asr.recipe.stages import ModelStagesConfig
from asr.recipe.table import model_stages
from data_prep.common import PrepError
from data_prep.sets import CorpusConfig, SetSpec, assemble_sets, corpus_dir_option
from data_prep.custom import SETS, prepare_custom

RECIPE_DIR = Path(__file__).resolve().parent


@dataclass
class CustomCorpusConfig(CorpusConfig):
    dev_fraction: float = 0.1  # share of the utterances (by hash) that the corpus does not put in a set
    test_fraction: float = 0.1
    split_by: str = "utterance"  # or "speaker": no speaker in two sets
    normalise: bool = True  # lower case, punctuation removed, digits refused (data_prep.common.normalise_text)
    sets: list[SetSpec] = field(default_factory=lambda: [SetSpec(s, [s]) for s in SETS])


@dataclass
class RecipeConfig(ModelStagesConfig):
    corpus: CustomCorpusConfig = field(default_factory=CustomCorpusConfig)


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    data, c = work / "data", cfg.corpus

    def prepare() -> None:
        if not c.corpus_dir:
            raise PrepError("no data: give --data PATH (your folder, or a .csv/.tsv/.jsonl manifest)")
        prepare_custom(work / c.corpus_dir, data / "local", c.dev_fraction, c.test_fraction, c.split_by, c.normalise,
                       c.max_bad_fraction)
        assemble_sets(data / "local", data, c.sets)

    return [Stage(0, "prepare", prepare, shared=True), *model_stages(cfg, work, device, command)]


def main(argv: list[str] | None = None) -> None:
    data_arg = corpus_dir_option("--data", "your folder, or a .csv/.tsv/.jsonl manifest (overrides corpus.corpus_dir)")
    recipe_main(__doc__, RECIPE_DIR, RecipeConfig, build_stages, argv, *data_arg)


if __name__ == "__main__":
    main()
