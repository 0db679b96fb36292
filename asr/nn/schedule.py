"""What a training run is told (TrainConfig) and its schedule: batch size, warm-up, learning rate, precision."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from asr.data.specaug import SpecAugConfig


@dataclass
class TrainConfig:
    epochs: int = 10
    max_frames: int = 12000  # padded input frames per batch (memory bound)
    min_batches_per_epoch: int = 20  # a small corpus gets smaller batches, so that it still gets updates
    max_utt_frames: int = 3000  # training utterances longer than this (30 s) are skipped
    lr: float = 2e-3  # peak learning rate
    warmup_steps: int = 300  # linear warm-up from 0 to lr...
    max_warmup_fraction: float = 0.2  # ...but never more than this share of all updates (a short run reaches lr)
    final_lr_ratio: float = 0.05  # cosine decay ends at lr * final_lr_ratio
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # max global gradient norm
    seed: int = 1
    num_threads: int = 0  # CPU intra-op threads; 0 = all cores
    mkldnn_lstm: bool = True  # oneDNN LSTM on CPU (measured faster here on our shapes)
    save_every_minutes: float = 5.0  # mid-epoch resume checkpoint period...
    save_every_steps: int = 0  # ...and/or every this many updates (0: by time only)
    average_last: int = 2  # model.pt = average of the last N epoch checkpoints
    num_procs: int = 1  # CPU data-parallel processes (one thread each); ignored on CUDA and under torchrun
    amp: str = "auto"  # auto: bf16 autocast on CUDA (if the GPU supports it), fp32 on CPU; bf16; none
    sortagrad_epochs: int = 0  # the first N epochs visit batches shortest-first (SortaGrad, DeepSpeech2)
    num_workers: int = 0  # processes that read, pad and SpecAugment batches ahead of the loop (pinned on CUDA); 0: in-process
    init_from: str = ""  # fine-tune: start from this model dir's weights, CMVN, tokens (asr.recipe.stages.init_dir)
    specaug: SpecAugConfig = field(default_factory=SpecAugConfig)


def warmup_steps(total_steps: int, cfg: TrainConfig) -> int:
    """cfg.warmup_steps, capped at cfg.max_warmup_fraction of the run: YESNO's 90 updates never
    reached the peak learning rate behind a 300-step warm-up, and stayed all blank."""
    return max(1, min(cfg.warmup_steps, int(cfg.max_warmup_fraction * total_steps)))


def batch_frames(lengths: dict[str, int], cfg: TrainConfig) -> int:
    """cfg.max_frames, lowered so that the corpus makes at least cfg.min_batches_per_epoch batches
    (but never below its longest utterance): a tiny corpus in one or three batches learns nothing."""
    total = sum(lengths.values())
    longest = max(lengths.values(), default=1)
    return max(longest, min(cfg.max_frames, total // max(1, cfg.min_batches_per_epoch)))


def lr_at(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Learning rate at optimizer step `step` (0-based): linear warm-up, then cosine decay."""
    warm = warmup_steps(total_steps, cfg)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total_steps - warm))
    cos = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * (cfg.final_lr_ratio + (1 - cfg.final_lr_ratio) * cos)


def use_bf16(amp: str, device: torch.device) -> bool:
    """Whether to autocast to bf16: on CPUs here bf16 fails or is ~7x slower, so only on CUDA."""
    if amp not in ("auto", "bf16", "none"):
        raise ValueError(f"train.amp must be auto, bf16 or none, not {amp!r}")
    if amp == "none" or device.type != "cuda":
        return False
    return amp == "bf16" or torch.cuda.is_bf16_supported()
