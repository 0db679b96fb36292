#!/usr/bin/env python3
"""yesno: BiLSTM-CTC on YESNO (OpenSLR 1), the corpus of Kaldi's smallest recipe.

Stages (files each one reads -> writes, under --work-dir):
  0 prepare   corpus/waves_yesno/*.wav (downloaded when corpus.download) -> data/local/{train_yesno,test_yesno},
              data/{train,dev,test} (dev and test are both test_yesno: Kaldi's recipe has no dev set)
  1 features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/train/text -> data/lang/tokens.txt
  3 lm        only when decoding.decoders has 'lm' (see asr/recipe/stages.py)
  4 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  5 decode    exp/<tag>/model.pt, data/test -> exp/<tag>/decode_test_greedy/{text,hyp.trn}
  6 tune_lm   only with 'lm'
  7 score     decode dir + data/test/text -> wer, cer, per_utt, per_spk; exp/<tag>/RESULTS.md

Usage: python recipes/yesno/run.py [--config conf/default.yaml] [--corpus-dir DIR] [--stage N] [--stop-stage M]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.recipe.runner import Stage, recipe_main
from asr.recipe.stages import ModelStagesConfig
from asr.recipe.table import model_stages
from data_prep.sets import CorpusConfig, SetSpec, assemble_sets, corpus_dir_option
from data_prep.yesno import download_yesno, prepare_yesno

RECIPE_DIR = Path(__file__).resolve().parent


def default_corpus() -> CorpusConfig:
    sets = [SetSpec("train", ["train_yesno"]), SetSpec("dev", ["test_yesno"]), SetSpec("test", ["test_yesno"])]
    return CorpusConfig(download=True, sets=sets)


@dataclass
class RecipeConfig(ModelStagesConfig):
    corpus: CorpusConfig = field(default_factory=default_corpus)


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    data, corpus = work / "data", work / cfg.corpus.corpus_dir

    def prepare() -> None:
        if cfg.corpus.download:
            download_yesno(corpus)
        prepare_yesno(corpus, data / "local", cfg.corpus.max_bad_fraction)
        assemble_sets(data / "local", data, cfg.corpus.sets)

    return [Stage(0, "prepare", prepare, shared=True), *model_stages(cfg, work, device, command)]


def main(argv: list[str] | None = None) -> None:
    corpus_args = corpus_dir_option("--corpus-dir", "folder with waves_yesno/ (overrides corpus.corpus_dir)")
    recipe_main(__doc__, RECIPE_DIR, RecipeConfig, build_stages, argv, *corpus_args)


if __name__ == "__main__":
    main()
