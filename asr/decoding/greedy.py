"""CTC decoding and hypothesis files.

Greedy decoding takes the best token per output frame, merges repeats and drops blanks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from asr.data.batching import FeatureSet, bucket_batches
from asr.data.tokens import TokenTable


@dataclass
class Hypothesis:
    text: str
    tokens: list[int]  # collapsed token ids, no blanks
    score: float  # sum of the chosen frames' log-probabilities
    timesteps: list[int] = field(default_factory=list)  # output frame index of each token


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, tokens: TokenTable) -> list[Hypothesis]:
    """log_probs [N, T, V], lengths [N] (output frames) -> N hypotheses."""
    best, ids = log_probs.max(dim=-1)  # [N, T]
    hyps = []
    for i in range(log_probs.shape[0]):
        n = int(lengths[i])
        seq = ids[i, :n]
        if n == 0:
            hyps.append(Hypothesis("", [], 0.0, []))
            continue
        changed = torch.ones(n, dtype=torch.bool)
        changed[1:] = seq[1:] != seq[:-1]
        keep = changed & (seq != tokens.blank_id)
        toks = seq[keep].tolist()
        frames = torch.nonzero(keep).flatten().tolist()
        hyps.append(Hypothesis(tokens.decode(toks), toks, float(best[i, :n].sum()), frames))
    return hyps


@torch.inference_mode()
def decode_featureset(
    model: torch.nn.Module,
    feats: FeatureSet,
    tokens: TokenTable,
    device: torch.device,
    max_frames: int = 40000,
    progress: bool = False,
) -> dict[str, Hypothesis]:
    """Greedy-decode every utterance of a FeatureSet in length-bucketed batches."""
    from tqdm import tqdm

    model.eval()
    out: dict[str, Hypothesis] = {}
    batches = bucket_batches(feats.lengths, max_frames)
    for utts in tqdm(batches, desc="decode", unit="batch", disable=not progress, leave=False):
        b = feats.batch(utts)
        log_probs, out_lengths = model(b.feats.to(device), b.feat_lengths.to(device))
        for utt, hyp in zip(utts, greedy_decode(log_probs.float().cpu(), out_lengths.cpu(), tokens)):
            out[utt] = hyp
    return out
