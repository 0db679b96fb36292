"""Greedy CTC decoding: the best token per output frame, repeats merged, blanks dropped
(registered as `greedy` in asr.decoding.registry)."""

from __future__ import annotations

from pathlib import Path

import torch

from asr.data.tokens import TokenTable
from asr.decoding.base import Decoder, DecoderConfig
from asr.decoding.hypothesis import Hypothesis


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, tokens: TokenTable) -> list[Hypothesis]:
    """log_probs [N, T, V], lengths [N] (output frames) -> N hypotheses."""
    best, ids = log_probs.max(dim=-1)  # [N, T]
    hyps = []
    for i in range(log_probs.shape[0]):
        n = int(lengths[i])
        seq = ids[i, :n]
        if n == 0:
            hyps.append(Hypothesis.empty())
            continue
        changed = torch.ones(n, dtype=torch.bool)
        changed[1:] = seq[1:] != seq[:-1]
        keep = changed & (seq != tokens.blank_id)
        toks = seq[keep].tolist()
        frames = torch.nonzero(keep).flatten().tolist()
        hyps.append(Hypothesis(tokens.decode(toks), toks, float(best[i, :n].sum()), frames))
    return hyps


class GreedyDecoder(Decoder):
    def __init__(self, tokens: TokenTable) -> None:
        self.tokens = tokens

    def decode_nbest(self, log_probs, lengths):
        return [[h] for h in greedy_decode(log_probs.float().cpu(), lengths.cpu(), self.tokens)]


def build(cfg: DecoderConfig, tokens: TokenTable, base_dir: str | Path | None = None) -> GreedyDecoder:
    return GreedyDecoder(tokens)
