#!/usr/bin/env python3
"""synth_en: BiLSTM-CTC on English speech that the toolkit synthesises itself.

Stages (files each one reads -> writes, under --work-dir):
  0 corpus    WordNet sentences + TTS voices -> corpus/<spk>/*.flac, data/{train,dev,test},
              data/local/lm_text.txt (train-split WordNet examples + gloss definitions, for the LM),
              data/local/lm_vocab.txt (WordNet's one-word lemmas and their forms, for the LM's vocabulary)
  1 features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/{train,dev}/text -> data/lang/tokens.txt
  3 lm        data/train/text (+ lm.extra_text, lm.extra_vocab) -> data/lang/{lm.arpa,lexicon.txt,lm_eval.txt} (word n-gram, perplexities)
  4 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  5 decode    exp/<tag>/model.pt, data/{dev,test} -> exp/<tag>/decode_<set>_{greedy,beam}/{text,hyp.trn,ctm}
  6 tune_lm   LM weight x word score grid on dev -> exp/<tag>/{decoder.yaml,lm.arpa,lexicon.txt},
              exp/<tag>/tune_lm_dev/wer_grid.tsv, exp/<tag>/decode_<set>_lm/{text,hyp.trn,ctm}
  7 score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/<tag>/RESULTS.md

Stages 1-7 are the shared ones (asr/recipe/table.py); only the corpus is this recipe's own.

Usage: python recipes/synth_en/run.py [--config conf/default.yaml] [--stage N] [--stop-stage M]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.data.datadir import read_datadir
from asr.fileio import atomic_write_lines
from asr.recipe.runner import Stage, recipe_main
from asr.recipe.stages import DecodingConfig, ModelStagesConfig
from asr.recipe.table import model_stages
from data_prep.synth.corpus import SynthConfig, prepare_synth_en
from data_prep.synth.engines import Voice
from data_prep.synth.wordnet_text import synth_lm_sentences, wordnet_vocabulary

RECIPE_DIR = Path(__file__).resolve().parent


@dataclass
class RecipeConfig(ModelStagesConfig):
    corpus: SynthConfig = field(default_factory=SynthConfig)
    # the audio folder in the work dir: audio made with other corpus settings (seed, voices, augmentation)
    # needs its own, since stage 0 refuses to add utterances to a folder made with other settings
    corpus_dir: str = "corpus"
    decoding: DecodingConfig = field(default_factory=lambda: DecodingConfig(decoders=["greedy", "beam", "lm"]))


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    data = work / "data"

    def corpus() -> None:
        prepare_synth_en(work / cfg.corpus_dir, data, cfg.corpus, nj=cfg.nj)
        for s in ["train", *cfg.decode_sets]:
            read_datadir(data / s)
        # text for the word LM beyond the transcripts: never a dev or test sentence (data_prep/synth/wordnet_text.py)
        (data / "local").mkdir(exist_ok=True)
        atomic_write_lines(data / "local" / "lm_text.txt", synth_lm_sentences(Path(cfg.corpus.wordnet_dir)))
        atomic_write_lines(data / "local" / "lm_vocab.txt", wordnet_vocabulary(Path(cfg.corpus.wordnet_dir)))

    heldout = [Voice.parse(v).speaker_id for v in cfg.corpus.heldout_voices]
    return [Stage(0, "corpus", corpus, settings={"corpus": cfg.corpus, "decode_sets": cfg.decode_sets}, shared=True),
            *model_stages(cfg, work, device, command, heldout)]


def main(argv: list[str] | None = None) -> None:
    recipe_main(__doc__, RECIPE_DIR, RecipeConfig, build_stages, argv)


if __name__ == "__main__":
    main()
