"""The one loop from features to hypotheses: model forward once per batch, every decoder on it.

    for out in decode_batches(model, feature_batches(FeatureSet("data/test"), 40000), {"greedy": g}, device):
        out.utts, out.log_probs, out.lengths, out.hyps["greedy"]   # DecodedBatch

The recipe's decode stage, the dev CER during training, the LM tuning (all grid points of a round on
one forward pass) and `asr transcribe` all go through `decode_batch`; `benchmarks/decode.py` decodes
cached emissions with `decode_cached`, through `decode_emissions`, the same function `decode_batch`
calls. An input of zero frames is run as one silent frame, gets output length 0 and the empty
hypothesis from every decoder, wherever it comes from.

`model` is any module mapping (feats [N, T, D], lengths [N]) -> (log_probs [N, T', V], lengths [N]).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import torch

from asr.data.batching import Batch, FeatureSet, bucket_batches, pad_features
from asr.decoding.base import Decoder
from asr.decoding.hypothesis import Hypothesis


@dataclass
class DecodedBatch:
    batch: Batch
    log_probs: torch.Tensor  # [N, T', V] float32 on the CPU (log-softmax)
    lengths: torch.Tensor  # [N] output frames; 0 for an input without frames
    hyps: dict[str, list[Hypothesis]] = field(default_factory=dict)  # decoder name -> N best, in batch order

    @property
    def utts(self) -> list[str]:
        return self.batch.utts

    def emission(self, i: int) -> torch.Tensor:
        """Log-probs [T'_i, V] of the i-th utterance, without padding."""
        return self.log_probs[i, : int(self.lengths[i])]


def feature_batches(feats: FeatureSet, max_frames: int) -> Iterator[Batch]:
    """Length-bucketed batches of a data dir's features (at most max_frames padded frames each)."""
    for utts in bucket_batches(feats.lengths, max_frames):
        yield feats.batch(utts)


def batch_of(utts: list[str], feats: list[torch.Tensor]) -> Batch:
    """A Batch (no targets) from features [T_i, D] computed on the fly (zero-frame inputs allowed)."""
    x, lengths = pad_features(feats)
    zeros = torch.zeros(len(utts), 1, dtype=torch.long)
    return Batch(utts, x, lengths, zeros, torch.zeros(len(utts), dtype=torch.long))


def forward(model: torch.nn.Module, batch: Batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Model log-probs of a batch -> (log_probs [N, T', V] fp32 on the CPU, lengths [N]).

    Runs under inference_mode in whatever mode the model is in (eval for decoding; training's dev pass sets it)."""
    empty = batch.feat_lengths == 0
    feats, lengths = batch.feats, batch.feat_lengths
    if bool(empty.any()):  # run a silent frame for them: every model needs one, and its output is dropped
        if feats.shape[1] == 0:
            feats = torch.zeros(feats.shape[0], 1, feats.shape[2])
        lengths = lengths.clamp(min=1)
    with torch.inference_mode():
        log_probs, out_lengths = model(feats.to(device), lengths.to(device))
    out_lengths = out_lengths.cpu().masked_fill(empty, 0)
    return log_probs.float().cpu(), out_lengths


def decode_emissions(decoders: Mapping[str, Decoder], log_probs: torch.Tensor, lengths: torch.Tensor) -> dict[str, list[Hypothesis]]:
    """Every decoder over one padded batch of emissions [N, T', V] with lengths [N] -> {name: N hypotheses}."""
    out = {}
    for name, decoder in decoders.items():
        hyps = decoder.decode(log_probs, lengths)
        out[name] = [h if int(n) > 0 else Hypothesis.empty() for h, n in zip(hyps, lengths)]
    return out


def decode_batch(model: torch.nn.Module, batch: Batch, decoders: Mapping[str, Decoder], device: torch.device) -> DecodedBatch:
    """Forward one batch and decode it with every decoder."""
    log_probs, lengths = forward(model, batch, device)
    return DecodedBatch(batch, log_probs, lengths, decode_emissions(decoders, log_probs, lengths))


def decode_batches(
    model: torch.nn.Module, batches: Iterable[Batch], decoders: Mapping[str, Decoder], device: torch.device,
    progress: bool = False, desc: str = "decode",
) -> Iterator[DecodedBatch]:
    """decode_batch over batches, with a progress bar when asked."""
    from tqdm import tqdm

    for batch in tqdm(batches, desc=desc, unit="batch", disable=not progress, leave=False):
        yield decode_batch(model, batch, decoders, device)


def cache_emissions(decoded: Iterable[DecodedBatch]) -> dict[str, torch.Tensor]:
    """{utt: log_probs [T', V]} of decoded batches, for decoding them again (LM weight tuning)."""
    return {u: out.emission(i).clone() for out in decoded for i, u in enumerate(out.utts)}


def decode_cached(decoder: Decoder, emissions: Mapping[str, torch.Tensor], max_frames: int = 20000) -> dict[str, Hypothesis]:
    """Decode cached emissions {utt: [T', V]} in length-bucketed batches -> {utt: best Hypothesis}."""
    out: dict[str, Hypothesis] = {}
    lengths = {u: e.shape[0] for u, e in emissions.items()}
    for utts in bucket_batches(lengths, max_frames):
        log_probs, lens = pad_features([emissions[u] for u in utts])
        for u, hyp in zip(utts, decode_emissions({"": decoder}, log_probs, lens)[""]):
            out[u] = hyp
    return out
