"""The recipe stages every corpus shares: features, tokens, train, decode, score.

Each function checks its inputs, reads and writes the documented files, and can be
called from any recipe's stage table (recipes/<corpus>/run.py):

    features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}; data/train/cmvn.stats
    tokens    data/train/text -> data/lang/tokens.txt
    train     data/{train,dev}, data/lang -> exp/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
    decode    exp/model.pt, data/<set>/feats.scp -> exp/decode_<set>_greedy/{text,hyp.trn}
    score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/RESULTS.md
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import torch

from asr.batching import FeatureSet
from asr.checkpoint import write_model_config
from asr.datadir import read_table
from asr.decode import decode_featureset
from asr.feature_store import compute_cmvn_stats, make_features
from asr.features import FbankConfig, read_cmvn, write_cmvn
from asr.inference import load_model
from asr.model import BiLSTMCTC, ModelConfig
from asr.results import write_results
from asr.scoring import write_text, write_trn
from asr.tokens import build_token_table, read_tokens, write_tokens
from asr.train import TrainConfig, train

log = logging.getLogger(__name__)


def require(*paths: Path) -> None:
    """Stop with a clear message if an input of the stage is missing."""
    for p in paths:
        if not Path(p).exists():
            sys.exit(f"missing input {p}: run the earlier stages first")


def features_stage(data: Path, sets: list[str], cfg: FbankConfig, nj: int) -> None:
    require(*(data / s / "wav.scp" for s in sets))
    for s in sets:
        make_features(data / s, cfg, nj=nj)
    write_cmvn(data / "train" / "cmvn.stats", compute_cmvn_stats(data / "train"))


def tokens_stage(data: Path) -> None:
    require(data / "train" / "text")
    (data / "lang").mkdir(parents=True, exist_ok=True)
    write_tokens(data / "lang" / "tokens.txt", build_token_table(read_table(data / "train" / "text").values()))


def _targets(data_dir: Path, table) -> dict[str, list[int]]:
    return {u: table.encode(t, utt=u) for u, t in read_table(data_dir / "text", allow_empty_value=True).items()}


def train_stage(
    data: Path, exp: Path, model_cfg: ModelConfig, fbank_cfg: FbankConfig, train_cfg: TrainConfig, device: torch.device
) -> None:
    require(data / "train" / "feats.scp", data / "dev" / "feats.scp", data / "lang" / "tokens.txt", data / "train" / "cmvn.stats")
    exp.mkdir(parents=True, exist_ok=True)
    table = read_tokens(data / "lang" / "tokens.txt")
    model_cfg.vocab_size, model_cfg.input_dim = len(table), fbank_cfg.num_mel_bins
    write_model_config(exp, model_cfg, fbank_cfg)
    shutil.copy(data / "lang" / "tokens.txt", exp / "tokens.txt")
    shutil.copy(data / "train" / "cmvn.stats", exp / "cmvn.stats")
    model = BiLSTMCTC(model_cfg)
    mean, istd = read_cmvn(exp / "cmvn.stats").mean_istd()
    model.cmvn.mean.copy_(torch.from_numpy(mean))
    model.cmvn.istd.copy_(torch.from_numpy(istd))
    log.info("model: %.2fM parameters, device %s", sum(p.numel() for p in model.parameters()) / 1e6, device)
    train(
        model,
        FeatureSet(data / "train", _targets(data / "train", table)),
        FeatureSet(data / "dev", _targets(data / "dev", table)),
        read_table(data / "dev" / "text", allow_empty_value=True),
        table,
        train_cfg,
        exp,
        device,
    )


def decode_stage(data: Path, exp: Path, sets: list[str], device: torch.device) -> None:
    require(exp / "model.pt", *(data / s / "feats.scp" for s in sets))
    rec = load_model(exp, str(device))
    for s in sets:
        hyps = decode_featureset(rec.model, FeatureSet(data / s), rec.tokens, device, progress=True)
        out = exp / f"decode_{s}_greedy"
        out.mkdir(exist_ok=True)
        write_text(out / "text", {u: h.text for u, h in hyps.items()})
        write_trn(out / "hyp.trn", {u: h.text for u, h in hyps.items()})


def score_stage(
    data: Path, exp: Path, sets: list[str], heldout_speakers: list[str], stage_times: dict[str, float], command: str
) -> None:
    decode_dirs = {s: exp / f"decode_{s}_greedy" for s in sets}
    require(*(d / "text" for d in decode_dirs.values()), *(data / s / "text" for s in sets))
    write_results(
        exp / "RESULTS.md",
        {s: (data / s, d) for s, d in decode_dirs.items()},
        exp,
        heldout_speakers=heldout_speakers,
        stage_times=stage_times,
        command=command,
    )
    print((exp / "RESULTS.md").read_text())
