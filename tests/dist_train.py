"""Helper of tests/test_distributed.py: train a toy model on a toy corpus, alone or as a torchrun rank.

    python tests/dist_train.py DATA EXP [--kill-rank R --kill-at-step K]
    python -m torch.distributed.run --nproc_per_node=2 tests/dist_train.py DATA EXP

DATA holds train/ and dev/ feature dirs (feats.scp, utt2num_frames, text) written by the test.
The global batch is the same for any number of processes (asr.nn.train splits each batch).
--kill-at-step makes rank R SIGKILL itself when it reaches that update (a crash mid-epoch).
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import torch

from asr.data.batching import FeatureSet
from asr.data.datadir import read_table
from asr.data.specaug import SpecAugConfig
from asr.data.tokens import build_token_table
from asr.nn import train as train_module
from asr.nn.distributed import init_torchrun, torchrun_env
from asr.nn.model import BiLSTMCTC, ModelConfig
from asr.nn.launch import train
from asr.nn.schedule import TrainConfig

TOKENS = build_token_table(["ab"])
DIM = 6


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data", type=Path)
    p.add_argument("exp", type=Path)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--kill-rank", type=int, default=-1)
    p.add_argument("--kill-at-step", type=int, default=-1)
    args = p.parse_args()
    torch.set_num_threads(1)
    device, rank = torch.device("cpu"), 0
    if torchrun_env() is not None:
        env, device = init_torchrun(device)
        rank = env.rank
    if rank == args.kill_rank:
        lr_at = train_module.lr_at

        def dying_lr_at(step, total, cfg):  # called once per update, before the update
            if step == args.kill_at_step:
                os.kill(os.getpid(), signal.SIGKILL)
            return lr_at(step, total, cfg)

        train_module.lr_at = dying_lr_at
    sets = {}
    for s in ("train", "dev"):
        text = read_table(args.data / s / "text")
        sets[s] = (FeatureSet(args.data / s, {u: TOKENS.encode(t) for u, t in text.items()}), text)
    cfg = TrainConfig(epochs=args.epochs, max_frames=150, min_batches_per_epoch=1, lr=5e-3, warmup_steps=3, seed=3,
                      average_last=1, save_every_steps=4, specaug=SpecAugConfig(max_freq_width=2, max_time_width=3))
    torch.manual_seed(0)
    model = BiLSTMCTC(ModelConfig(input_dim=DIM, stack=2, hidden=8, layers=1, dropout=0.0, vocab_size=len(TOKENS)))
    train(model, sets["train"][0], sets["dev"][0], sets["dev"][1], TOKENS, cfg, args.exp, device)


if __name__ == "__main__":
    main()
