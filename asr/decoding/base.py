"""The decoder interface and its one config type.

    decoder = build_decoder(DecoderConfig(kind="lm", lm="lm.arpa", lexicon="lexicon.txt"), tokens)  # decoders.py
    hyps = decoder.decode(log_probs, lengths)          # log_probs [N, T, V], lengths [N] -> [Hypothesis]
    nbest = decoder.decode_nbest(log_probs, lengths)   # -> N lists, best first

`DecoderConfig` is the only decoder configuration: `asr transcribe` options, a model directory's
decoder.yaml and the recipe's `decoding.decoder` section all fill it, with these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from asr.decoding.hypothesis import Hypothesis
from asr.errors import AsrError

if TYPE_CHECKING:  # the config and kinds are read by `asr --help`, which should not wait for torch
    import torch

DECODER_KINDS = ("greedy", "beam", "lm")


@dataclass
class DecoderConfig:
    """How to decode. The recipe's LM tuning stage writes the chosen one to <model dir>/decoder.yaml."""

    kind: str = "greedy"  # greedy | beam (prefix beam search, no LM) | lm (beam search with the word n-gram)
    beam: int = 8  # prefix beam search: prefixes kept per frame (kind=beam)
    lm: str = "lm.arpa"  # ARPA word n-gram (kind=lm); a relative path resolves against the model directory
    lexicon: str | None = "lexicon.txt"  # lexicon.txt (kind=lm); null or "" = lexicon-free decoding
    lm_weight: float = 1.0  # scale of the LM's log10 probabilities
    word_score: float = 0.0  # added for each word
    unk_score: float = 0.0  # lexicon-free only: added for each word the LM does not know
    lm_beam: int = 50  # flashlight beam size: hypotheses kept per frame (kind=lm)
    beam_threshold: float = 25.0  # flashlight: drop hypotheses scoring this far below the best
    beam_size_token: int = 8  # flashlight: the likeliest tokens tried per frame; 0 = all
    nbest: int = 1  # hypotheses returned per utterance


class DecoderError(AsrError, ValueError):
    """A decoder option is wrong (unknown kind, missing LM for kind=lm, ...)."""


class Decoder:
    """The interface: decode_nbest over a batch of log-probabilities; decode keeps the best.

    An utterance of length 0 gets `[Hypothesis.empty()]`."""

    def decode_nbest(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        """log_probs [N, T, V] (log-softmax), lengths [N] output frames -> N lists, best first (>= 1 each)."""
        raise NotImplementedError

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[Hypothesis]:
        return [nbest[0] for nbest in self.decode_nbest(log_probs, lengths)]


def resolve(path: str | Path, base_dir: str | Path | None) -> Path:
    """A relative path in a decoder config resolves against the model directory."""
    p = Path(path)
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p
