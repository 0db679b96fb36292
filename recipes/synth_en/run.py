#!/usr/bin/env python3
"""synth_en: BiLSTM-CTC on English speech that the toolkit synthesises itself.

Stages (files each one reads -> writes, under --work-dir):
  0 corpus    WordNet sentences + TTS voices -> corpus/<spk>/*.flac, data/{train,dev,test}
  1 features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/train/text -> data/lang/tokens.txt
  3 lm        data/train/text -> data/lang/{lm.arpa,lexicon.txt,lm_eval.txt} (word n-gram, perplexities)
  4 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  5 decode    exp/<tag>/model.pt, data/{dev,test} -> exp/<tag>/decode_<set>_{greedy,beam}/{text,hyp.trn,ctm}
  6 tune_lm   LM weight x word score grid on dev -> exp/<tag>/{decoder.yaml,lm.arpa,lexicon.txt},
              exp/<tag>/tune_lm_dev/wer_grid.tsv, exp/<tag>/decode_<set>_lm/{text,hyp.trn,ctm}
  7 score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/<tag>/RESULTS.md

Usage: python recipes/synth_en/run.py [--config conf/default.yaml] [--stage N] [--stop-stage M]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.data.datadir import read_datadir
from asr.decoding.decoders import DecoderConfig, DecodingConfig
from asr.data.features import FbankConfig
from asr.decoding.lm import LMConfig
from asr.nn.model import ModelConfig
from asr.recipe.runner import Stage, recipe_main, stage_seconds
from asr.recipe.stages import decode_sets_stage, features_stage, lm_stage, score_stage, tokens_stage, train_stage, tune_lm_stage
from asr.nn.train import TrainConfig
from data_prep.synth_en import SynthConfig, prepare_synth_en
from data_prep.tts_engines import Voice

RECIPE_DIR = Path(__file__).resolve().parent


@dataclass
class RecipeConfig:
    tag: str = "bilstm"  # experiment folder name: exp/<tag>
    nj: int = 2  # parallel jobs for synthesis and features
    corpus: SynthConfig = field(default_factory=SynthConfig)
    features: FbankConfig = field(default_factory=FbankConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    decode_sets: list[str] = field(default_factory=lambda: ["dev", "test"])


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    data, exp = work / "data", work / "exp" / cfg.tag
    sets = ["train", *cfg.decode_sets]

    def corpus() -> None:
        prepare_synth_en(work / "corpus", data, cfg.corpus, nj=cfg.nj)
        for s in sets:
            read_datadir(data / s)

    def score() -> None:
        heldout = [Voice.parse(v).speaker_id for v in cfg.corpus.heldout_voices]
        decoders = {"greedy": "greedy", "beam": "beam", "beam+LM": "lm"}
        score_stage(data, exp, cfg.decode_sets, heldout, stage_seconds(exp / ".stages"), command, decoders)

    no_lm_decoders = {"greedy": DecoderConfig("greedy"), "beam": DecoderConfig("beam", beam=cfg.decoding.beam)}

    return [
        Stage(0, "corpus", corpus),
        Stage(1, "features", lambda: features_stage(data, sets, cfg.features, cfg.nj)),
        Stage(2, "tokens", lambda: tokens_stage(data)),
        Stage(3, "lm", lambda: lm_stage(data, cfg.lm.order, cfg.decode_sets)),
        Stage(4, "train", lambda: train_stage(data, exp, cfg.model, cfg.features, cfg.train, device)),
        Stage(5, "decode", lambda: decode_sets_stage(data, exp, cfg.decode_sets, device, no_lm_decoders)),
        Stage(6, "tune_lm", lambda: tune_lm_stage(data, exp, cfg.decode_sets, device, cfg.decoding)),
        Stage(7, "score", score),
    ]


def main(argv: list[str] | None = None) -> None:
    recipe_main(__doc__, RECIPE_DIR, RecipeConfig, build_stages, argv)


if __name__ == "__main__":
    main()
