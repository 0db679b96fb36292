#!/usr/bin/env python3
"""librispeech: EESEN-style 4x320 BiLSTM-CTC on LibriSpeech (100 h or 960 h), characters or BPE.

Stages (files each one reads -> writes, under --work-dir):
  0 prepare   corpus/LibriSpeech/<subset>/ (downloaded when corpus.download) -> data/local/<subset>/,
              data/<set> for each corpus.sets entry (e.g. data/train = train_clean_100)
  1 features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/{train,dev}/text -> data/lang/tokens.txt; with tokens.unit bpe: data/lang/bpe.model too
  3 lm        only when decoding.decoders has 'lm' (see asr/recipe/stages.py)
  4 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  5 decode    exp/<tag>/model.pt, data/<decode set> -> exp/<tag>/decode_<set>_greedy/{text,hyp.trn,ctm}
  6 tune_lm   only with 'lm'
  7 score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/<tag>/RESULTS.md

Usage: python recipes/librispeech/run.py [--config conf/default.yaml] [--corpus-dir DIR] [--stage N] [--stop-stage M]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.recipe.runner import Stage, recipe_main
from asr.recipe.stages import ModelStagesConfig
from asr.recipe.table import model_stages
from data_prep.sets import CorpusConfig, corpus_dir_option
from data_prep.librispeech import prepare_librispeech_sets

RECIPE_DIR = Path(__file__).resolve().parent


@dataclass
class RecipeConfig(ModelStagesConfig):
    corpus: CorpusConfig = field(default_factory=CorpusConfig)


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    c = cfg.corpus

    def prepare() -> None:
        prepare_librispeech_sets(work / c.corpus_dir, work / "data", c.sets, c.download, c.max_bad_fraction, cfg.nj)

    return [Stage(0, "prepare", prepare, shared=True), *model_stages(cfg, work, device, command)]


def main(argv: list[str] | None = None) -> None:
    corpus_args = corpus_dir_option("--corpus-dir", "folder holding LibriSpeech/ (overrides corpus.corpus_dir)")
    recipe_main(__doc__, RECIPE_DIR, RecipeConfig, build_stages, argv, *corpus_args)


if __name__ == "__main__":
    main()
