"""Greedy CTC decoding: the best token per output frame, repeats merged, blanks dropped."""

from __future__ import annotations

import torch

from asr.data.tokens import TokenTable
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
