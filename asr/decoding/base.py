"""The decoder interface and its one config type.

    decoder = build_decoder(DecoderConfig(kind="lm", lm="lm.arpa", lexicon="lexicon.txt"), tokens)  # registry.py
    hyps = decoder.decode(log_probs, lengths)          # log_probs [N, T, V], lengths [N] -> [Hypothesis]
    nbest = decoder.decode_nbest(log_probs, lengths)   # -> N lists, best first

`DecoderConfig` is the only decoder configuration: `asr transcribe` options, a model directory's
decoder.yaml and the recipe's `decoding.decoder` section all fill it, with these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from asr.decoding.hypothesis import Hypothesis
from asr.errors import AsrError

if TYPE_CHECKING:  # the config and kinds are read by `asr --help`, which should not wait for torch
    import torch


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class DecoderConfig:
    """How to decode: `kind` names a decoder of asr.decoding.registry, which reads the fields its entry lists.
    The recipe's LM tuning stage writes the chosen one to <model dir>/decoder.yaml. Each field's help is
    its `asr transcribe --option` text."""

    kind: str = "greedy"  # greedy | beam | lm (asr.decoding.registry.DECODERS)
    beam: int = _opt(8, "prefixes kept per frame by the prefix beam search")
    lm: str = _opt("lm.arpa", "ARPA word n-gram LM; a relative path in decoder.yaml resolves against the model directory")
    lexicon: str | None = _opt("lexicon.txt", "lexicon, one `word c h a r s |` line per word; null or '' = lexicon-free")
    lm_weight: float = _opt(1.0, "weight of the LM's log10 probabilities")
    word_score: float = _opt(0.0, "score added for each word")
    unk_score: float = _opt(0.0, "lexicon-free only: score added for each word the LM does not know")
    lm_beam: int = _opt(50, "hypotheses kept per frame by the LM beam search")
    beam_threshold: float = _opt(25.0, "LM beam search: drop hypotheses scoring this far below the best")
    beam_size_token: int = _opt(8, "LM beam search: the likeliest tokens tried per frame; 0 = all")
    nbest: int = _opt(1, "hypotheses returned per utterance (the Python API's decode_nbest; transcripts use the best)")


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
