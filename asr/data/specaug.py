"""SpecAugment (Park et al. 2019): random time and frequency masks on features [N, T, D], and an
optional VTLP-style frequency warp (Jaitly & Hinton 2013) of the mel axis: a new vocal tract length."""

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
    warp_prob: float = 0.0  # share of utterances whose mel axis is warped (0: no warp, no random draw)
    max_warp: float = 0.1  # warp factor drawn uniformly from [1 - max_warp, 1 + max_warp]
    warp_low_hz: float = 20.0  # the mel bins' frequency range (the feature defaults at 16 kHz), for the warp
    warp_high_hz: float = 8000.0


def _mel(f: torch.Tensor) -> torch.Tensor:
    return 1127.0 * torch.log1p(f / 700.0)


def warp_mel_axis(feats: torch.Tensor, alpha: float, low_hz: float = 20.0, high_hz: float = 8000.0) -> torch.Tensor:
    """Warp the mel axis of feats [T, D] as if every frequency were scaled by alpha -> [T, D].

    Output bin k (centre f_k in Hz) takes the input at frequency f_k / alpha, linearly interpolated
    between the two nearest bins (clamped to the edge bins): alpha > 1 moves formants up, as a
    shorter vocal tract does.
    """
    d = feats.shape[-1]
    lo, hi = _mel(torch.tensor(low_hz)), _mel(torch.tensor(high_hz))
    step = (hi - lo) / (d + 1)
    centre_mel = lo + step * torch.arange(1, d + 1, dtype=torch.float64)
    centre_hz = 700.0 * torch.expm1(centre_mel / 1127.0)
    src = (_mel(centre_hz / alpha) - lo) / step - 1.0  # fractional input bin of each output bin
    src = src.clamp(0.0, d - 1.0)
    left = src.floor().long().clamp(max=d - 2) if d > 1 else src.floor().long()
    frac = (src - left).to(feats.dtype)
    right = (left + 1).clamp(max=d - 1)
    return feats[..., left] * (1.0 - frac) + feats[..., right] * frac


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
    With cfg.warp_prob > 0, an utterance is first warped (warp_mel_axis) with that probability.
    """
    if not cfg.enabled:
        return feats
    out = feats.clone()
    n, t, d = feats.shape
    for i in range(n):
        if seeds is not None:
            generator = torch.Generator().manual_seed(seeds[i])
        length = int(lengths[i])
        if cfg.warp_prob > 0:
            u, v = torch.rand(2, generator=generator).tolist()
            if u < cfg.warp_prob:
                alpha = 1.0 + cfg.max_warp * (2.0 * v - 1.0)
                out[i, :length] = warp_mel_axis(out[i, :length], alpha, cfg.warp_low_hz, cfg.warp_high_hz)
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
