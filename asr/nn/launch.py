"""Starting training: in this process, as one rank of a torchrun group, or as num_procs spawned CPU
processes (gloo, one thread each). Every path runs asr.nn.train.run_rank, and `train` is the one entry.

    torchrun --nproc-per-node N recipes/<x>/run.py ...   ->  this process is a rank (dist already initialised)
    train.num_procs > 1 on the CPU                      ->  torch.multiprocessing.spawn, a file:// rendezvous
    otherwise                                           ->  rank 0 of 1, here
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist

from asr.data.batching import FeatureSet
from asr.data.tokens import TokenTable
from asr.nn.model import BiLSTMCTC, build_model
from asr.nn.modeldir import ModelDir
from asr.nn.schedule import TrainConfig
from asr.nn.train import average_into_model_pt, run_rank


def train(
    model: BiLSTMCTC,
    train_set: FeatureSet,
    dev_set: FeatureSet,
    dev_refs: dict[str, str],
    tokens: TokenTable,
    cfg: TrainConfig,
    exp_dir: Path,
    device: torch.device,
) -> Path:
    """Train (or resume) and write exp_dir/model.pt; returns its path.

    On CPU with cfg.num_procs > 1, training runs data-parallel in that many processes of one
    thread each (gradients summed with gloo): unlike intra-op threads, which synchronise at
    every LSTM time step, processes synchronise once per batch.
    """
    exp_dir.mkdir(parents=True, exist_ok=True)
    if dist.is_initialized():  # started by torchrun (asr.nn.distributed.init_torchrun): this process is one rank
        rank, world = dist.get_rank(), dist.get_world_size()
        model.to(device)  # nccl broadcasts GPU tensors only
        for tensor in model.state_dict().values():  # every rank starts from rank 0's weights
            dist.broadcast(tensor, src=0)
        run_rank(rank, world, model, train_set, dev_set, dev_refs, tokens, cfg, exp_dir, device)
        dist.barrier()
        if rank == 0:
            average_into_model_pt(exp_dir, cfg)
        dist.barrier()
        return exp_dir / ModelDir.WEIGHTS
    world = cfg.num_procs if device.type == "cpu" else 1
    args = (world, exp_dir / f".ddp_init.{os.getpid()}", (model.cfg, model.state_dict()), train_set, dev_set, dev_refs, tokens, cfg, exp_dir, device)
    if world > 1:
        for stale in exp_dir.glob(".ddp_init.*"):  # left by a killed run
            stale.unlink()
        try:
            torch.multiprocessing.spawn(_train_worker, args=args, nprocs=world, join=True)
        finally:
            args[1].unlink(missing_ok=True)
    else:
        _train_worker(0, *args)
    return average_into_model_pt(exp_dir, cfg)


def _train_worker(
    rank: int,
    world: int,
    init_file: Path,
    model_spec: tuple,
    train_set: FeatureSet,
    dev_set: FeatureSet,
    dev_refs: dict[str, str],
    tokens: TokenTable,
    cfg: TrainConfig,
    exp_dir: Path,
    device: torch.device,
) -> None:
    """The training loop of one process (rank) of `world`; rank 0 evaluates, logs and saves."""
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
        torch.set_num_threads(1)
    model = build_model(model_spec[0])  # rebuilt from config + weights rather than unpickled
    model.load_state_dict(model_spec[1])
    try:
        run_rank(rank, world, model, train_set, dev_set, dev_refs, tokens, cfg, exp_dir, device)
    finally:
        if world > 1:
            dist.destroy_process_group()
