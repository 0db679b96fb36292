"""Training on several processes: under torchrun (any number of GPUs or CPU processes, one or many
nodes), or the CPU default's own spawned processes.

torchrun sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in every process it starts;
`init_torchrun` joins that group (nccl on CUDA with one GPU per process, gloo on the CPU). With the
group initialised, `asr.nn.train.train` trains as one rank of it and the recipe runner runs the other
stages on rank 0 alone, every rank waiting at a barrier after each stage.

What "the same result as one process" means here: every rank runs every global batch of the
length-bucketed schedule (the same for any world size), takes the utterances `batch[rank::world]`,
and the gradients are summed; SpecAugment masks are a function of (seed, epoch, utterance id).
So N processes give one process's parameters up to float rounding, with dropout 0 (dropout masks
come from a per-rank generator seeded by seed + rank, and do depend on the split).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

STAGE_TIMEOUT = datetime.timedelta(hours=12)  # a barrier waits this long for rank 0's non-distributed stages


@dataclass(frozen=True)
class DistEnv:
    rank: int  # global rank
    world_size: int
    local_rank: int  # rank on this node: the GPU index


def torchrun_env(environ: Mapping[str, str] = os.environ) -> DistEnv | None:
    """The torchrun environment of this process, or None when it was not started by torchrun."""
    if "WORLD_SIZE" not in environ or "RANK" not in environ:
        return None
    return DistEnv(int(environ["RANK"]), int(environ["WORLD_SIZE"]), int(environ.get("LOCAL_RANK", 0)))


def init_torchrun(device: torch.device) -> tuple[DistEnv, torch.device]:
    """Join torchrun's process group; returns (env, this rank's device: cuda:LOCAL_RANK on CUDA)."""
    env = torchrun_env()
    if env is None:
        raise RuntimeError("init_torchrun: WORLD_SIZE/RANK are not set (start the recipe with torchrun)")
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://",
                                timeout=STAGE_TIMEOUT)
    return env, device


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def sum_gradients(params: list[torch.nn.Parameter]) -> None:
    """Sum gradients over the process group in one flat all-reduce (missing grads count as zero)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(g)
        offset += n
