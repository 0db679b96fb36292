#!/usr/bin/env python3
"""timit: phone recognition on TIMIT with BiLSTM-CTC, scored as PER on the 39-phone set.

Stages (files each one reads -> writes, under --work-dir):
  0 prepare   corpus (the LDC TIMIT folder) -> data/local/{train,dev,test}, data/{train,dev,test}
              (text: phones folded 61 -> corpus.phones, 48 by default; SA sentences left out)
  1 features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/{train,dev}/text -> data/lang/tokens.txt (blank + the phones)
  3 lm        only when decoding.decoders has 'lm' (see asr/recipe/stages.py)
  4 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  5 decode    exp/<tag>/model.pt, data/{dev,test} -> exp/<tag>/decode_<set>_greedy/{text,hyp.trn,ctm}
  6 tune_lm   only with 'lm'
  7 score     decode dirs + data/<set>/text -> wer (= PER on the training phones), per_utt, ...;
              refs and hyps folded to 39 phones -> decode_<set>_greedy/per39/{per,wer,...}; exp/<tag>/RESULTS.md

Usage: python recipes/timit/run.py --corpus-dir /path/to/TIMIT [--config conf/default.yaml] [--stage N]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.recipe.decode_stages import score_stage
from asr.recipe.runner import Stage, recipe_main, stage_seconds
from asr.recipe.stages import ModelStagesConfig, TokenConfig
from asr.recipe.table import model_stages
from data_prep.sets import CorpusConfig, SetSpec, assemble_sets, corpus_dir_option
from data_prep.timit import SETS, prepare_timit
from data_prep.timit_phones import fold_map, per_stage

RECIPE_DIR = Path(__file__).resolve().parent


@dataclass
class TimitCorpusConfig(CorpusConfig):
    phones: int = 48  # phone set of the transcripts and the model: 61, 48 or 39 (scored on 39 either way)
    convert_to_wav: bool = False  # write every utterance as WAV (otherwise only what libsndfile cannot read)
    sets: list[SetSpec] = field(default_factory=lambda: [SetSpec(s, [s]) for s in SETS])


@dataclass
class RecipeConfig(ModelStagesConfig):
    corpus: TimitCorpusConfig = field(default_factory=TimitCorpusConfig)
    tokens: TokenConfig = field(default_factory=lambda: TokenConfig(unit="phone"))


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    data, exp, c = work / "data", work / "exp" / cfg.tag, cfg.corpus

    def prepare() -> None:
        prepare_timit(work / c.corpus_dir, data / "local", c.phones, convert=c.convert_to_wav,
                      max_bad_fraction=c.max_bad_fraction)
        assemble_sets(data / "local", data, c.sets)

    def score() -> None:
        score_stage(data, exp, cfg.decode_sets, [], stage_seconds(exp / ".stages"), command)
        per_stage(data, exp, cfg.decode_sets, fold_map(c.phones, 39), name="per39")

    *shared, _ = model_stages(cfg, work, device, command)  # stage 7 scores phones twice: as trained, and on 39
    return [Stage(0, "prepare", prepare, shared=True), *shared, Stage(7, "score", score)]


def main(argv: list[str] | None = None) -> None:
    corpus_args = corpus_dir_option("--corpus-dir", "the TIMIT folder (with TRAIN and TEST, any case)")
    recipe_main(__doc__, RECIPE_DIR, RecipeConfig, build_stages, argv, *corpus_args)


if __name__ == "__main__":
    main()
