"""SpecAugment (Park et al. 2019): random time and frequency masks on features [N, T, D]."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch


@dataclass
class SpecAugConfig:
    enabled: bool = True
    num_freq_masks: int = 2  # masks per utterance along the feature axis
    max_freq_width: int = 15  # bins
    num_time_masks: int = 2  # masks per utterance along time
    max_time_width: int = 25  # frames
    max_time_fraction: float = 0.1  # a time mask never exceeds this fraction of the utterance


def utterance_seed(seed: int, epoch: int, utt: str) -> int:
    """The seed of one utterance's masks in one epoch: the same whichever process or batch it lands in."""
    return zlib.crc32(f"{seed}/{epoch}/{utt}".encode("utf-8"))


def spec_augment(
    feats: torch.Tensor, lengths: torch.Tensor, cfg: SpecAugConfig, generator: torch.Generator | None = None,
    seeds: list[int] | None = None,
) -> torch.Tensor:
    """Return a masked copy of feats [N, T, D]; masked cells take the utterance mean (0 after CMVN ~ mean).

    Masks are drawn per utterance inside its true length [lengths], from `generator`, or with
    `seeds` [N] from a generator of each utterance's own (training uses utterance_seed, so that a
    run split over processes, or resumed after a kill, masks every utterance as one process would).
    Masked values are set to the per-utterance feature mean so that the model's CMVN maps them near zero.
    """
    if not cfg.enabled:
        return feats
    out = feats.clone()
    n, t, d = feats.shape
    for i in range(n):
        if seeds is not None:
            generator = torch.Generator().manual_seed(seeds[i])
        length = int(lengths[i])
        fill = out[i, :length].mean(dim=0) if length > 0 else out[i].mean(dim=0)
        for _ in range(cfg.num_freq_masks):
            w = int(torch.randint(0, cfg.max_freq_width + 1, (1,), generator=generator))
            f0 = int(torch.randint(0, max(1, d - w), (1,), generator=generator))
            out[i, :length, f0 : f0 + w] = fill[f0 : f0 + w]
        max_w = min(cfg.max_time_width, int(cfg.max_time_fraction * length))
        for _ in range(cfg.num_time_masks):
            w = int(torch.randint(0, max_w + 1, (1,), generator=generator))
            t0 = int(torch.randint(0, max(1, length - w), (1,), generator=generator))
            out[i, t0 : t0 + w, :] = fill
    return out
