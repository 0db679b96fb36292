#!/usr/bin/env python3
"""synth_en: BiLSTM-CTC on English speech that the toolkit synthesises itself.

Stages (files each one reads -> writes, under --work-dir):
  0 corpus    WordNet sentences + TTS voices -> corpus/<spk>/*.flac, data/{train,dev,test}
  1 features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/train/text -> data/lang/tokens.txt
  3 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  4 decode    exp/<tag>/model.pt, data/{dev,test} -> exp/<tag>/decode_<set>_greedy/{text,hyp.trn}
  5 score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/<tag>/RESULTS.md

Usage: python recipes/synth_en/run.py [--config conf/default.yaml] [--stage N] [--stop-stage M]
"""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.batching import FeatureSet
from asr.checkpoint import write_model_config
from asr.config import load_yaml
from asr.datadir import read_datadir, read_table
from asr.decode import decode_featureset
from asr.device import pick_device, set_threads
from asr.feature_store import compute_cmvn_stats, make_features
from asr.features import FbankConfig, read_cmvn, write_cmvn
from asr.inference import load_model
from asr.model import BiLSTMCTC, ModelConfig
from asr.recipe import Stage, add_stage_args, run_stages, setup_logging, stage_seconds
from asr.results import write_results
from asr.scoring import write_text, write_trn
from asr.tokens import build_token_table, read_tokens, write_tokens
from asr.train import TrainConfig, train
from data_prep.synth_en import SynthConfig, prepare_synth_en
from data_prep.tts_engines import Voice

RECIPE_DIR = Path(__file__).resolve().parent
log = logging.getLogger("synth_en")


@dataclass
class RecipeConfig:
    tag: str = "bilstm"  # experiment folder name: exp/<tag>
    nj: int = 2  # parallel jobs for synthesis and features
    corpus: SynthConfig = field(default_factory=SynthConfig)
    features: FbankConfig = field(default_factory=FbankConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode_sets: list[str] = field(default_factory=lambda: ["dev", "test"])


def require(*paths: Path) -> None:
    """Stop with a clear message if an input of the stage is missing."""
    for p in paths:
        if not p.exists():
            sys.exit(f"missing input {p}: run the earlier stages first")


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    data, exp = work / "data", work / "exp" / cfg.tag
    sets = ["train", *cfg.decode_sets]

    def corpus() -> None:
        prepare_synth_en(work / "corpus", data, cfg.corpus, nj=cfg.nj)
        for s in sets:
            read_datadir(data / s)

    def features() -> None:
        require(*(data / s / "wav.scp" for s in sets))
        for s in sets:
            make_features(data / s, cfg.features, nj=cfg.nj)
        write_cmvn(data / "train" / "cmvn.stats", compute_cmvn_stats(data / "train"))

    def tokens() -> None:
        require(data / "train" / "text")
        (data / "lang").mkdir(parents=True, exist_ok=True)
        write_tokens(data / "lang" / "tokens.txt", build_token_table(read_table(data / "train" / "text").values()))

    def train_stage() -> None:
        require(data / "train" / "feats.scp", data / "dev" / "feats.scp", data / "lang" / "tokens.txt")
        exp.mkdir(parents=True, exist_ok=True)
        table = read_tokens(data / "lang" / "tokens.txt")
        cfg.model.vocab_size, cfg.model.input_dim = len(table), cfg.features.num_mel_bins
        write_model_config(exp, cfg.model, cfg.features)
        shutil.copy(data / "lang" / "tokens.txt", exp / "tokens.txt")
        shutil.copy(data / "train" / "cmvn.stats", exp / "cmvn.stats")
        model = BiLSTMCTC(cfg.model)
        mean, istd = read_cmvn(exp / "cmvn.stats").mean_istd()
        model.cmvn.mean.copy_(torch.from_numpy(mean))
        model.cmvn.istd.copy_(torch.from_numpy(istd))
        train_text = read_table(data / "train" / "text")
        targets = {u: table.encode(t, utt=u) for u, t in train_text.items()}
        log.info("model: %.2fM parameters, device %s", sum(p.numel() for p in model.parameters()) / 1e6, device)
        train(
            model,
            FeatureSet(data / "train", targets),
            FeatureSet(data / "dev", {u: table.encode(t, utt=u) for u, t in read_table(data / "dev" / "text").items()}),
            read_table(data / "dev" / "text"),
            table,
            cfg.train,
            exp,
            device,
        )

    def decode() -> None:
        require(exp / "model.pt")
        rec = load_model(exp, str(device))
        for s in cfg.decode_sets:
            require(data / s / "feats.scp")
            hyps = decode_featureset(rec.model, FeatureSet(data / s), rec.tokens, device, progress=True)
            out = exp / f"decode_{s}_greedy"
            out.mkdir(exist_ok=True)
            write_text(out / "text", {u: h.text for u, h in hyps.items()})
            write_trn(out / "hyp.trn", {u: h.text for u, h in hyps.items()})

    def score() -> None:
        decode_dirs = {s: exp / f"decode_{s}_greedy" for s in cfg.decode_sets}
        require(*(d / "text" for d in decode_dirs.values()))
        write_results(
            exp / "RESULTS.md",
            {s: (data / s, d) for s, d in decode_dirs.items()},
            exp,
            heldout_speakers=[Voice.parse(v).speaker_id for v in cfg.corpus.heldout_voices],
            stage_times=stage_seconds(work / "exp" / cfg.tag / ".stages"),
            command=command,
        )
        print((exp / "RESULTS.md").read_text())

    return [
        Stage(0, "corpus", corpus),
        Stage(1, "features", features),
        Stage(2, "tokens", tokens),
        Stage(3, "train", train_stage),
        Stage(4, "decode", decode),
        Stage(5, "score", score),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="conf/default.yaml", help="YAML config; relative paths resolve against the recipe folder")
    parser.add_argument("--work-dir", default=str(RECIPE_DIR), help="where data/, corpus/ and exp/ go (default: the recipe folder)")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA if available), 'cpu' or 'cuda[:N]'")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    stages_for_help = build_stages(RecipeConfig(), Path("."), torch.device("cpu"), "")
    add_stage_args(parser, stages_for_help)
    args = parser.parse_args(argv)

    config_path = Path(args.config)
    if not config_path.is_absolute() and not config_path.exists():
        config_path = RECIPE_DIR / config_path
    cfg = load_yaml(RecipeConfig, config_path)
    work = Path(args.work_dir).resolve()
    exp = work / "exp" / cfg.tag
    setup_logging(exp / "run.log", args.verbose)
    set_threads(cfg.train.num_threads)
    device = pick_device(args.device)
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    log.info("config %s, work dir %s, device %s", config_path, work, device)
    t0 = time.time()
    run_stages(build_stages(cfg, work, device, command), exp / ".stages", args.stage, args.stop_stage, args.force)
    log.info("finished in %.1f s", time.time() - t0)


if __name__ == "__main__":
    main()
