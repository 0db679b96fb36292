"""The decoders behind asr.decoding.base.Decoder, and `build_decoder`, the one way to make them.

- GreedyDecoder: best token per frame (asr/decoding/greedy.py).
- BeamSearchDecoder: CTC prefix beam search, no LM (asr/decoding/beam_search.py).
- LexiconLMDecoder, LexiconFreeLMDecoder: beam search with a word n-gram LM through flashlight's
  decoders (as torchaudio's `ctc_decoder` builds them), with or without a lexicon (asr/decoding/flashlight.py).
"""

from __future__ import annotations

from pathlib import Path

from asr.data.tokens import TokenTable
from asr.decoding.base import (
    DECODER_KINDS,
    Decoder,
    DecoderConfig,
    DecoderError,
    resolve,
)
from asr.decoding.beam_search import prefix_beam_search
from asr.decoding.greedy import greedy_decode
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.lm import read_arpa


class GreedyDecoder(Decoder):
    def __init__(self, tokens: TokenTable) -> None:
        self.tokens = tokens

    def decode_nbest(self, log_probs, lengths):
        return [[h] for h in greedy_decode(log_probs.float().cpu(), lengths.cpu(), self.tokens)]


class BeamSearchDecoder(Decoder):
    def __init__(self, tokens: TokenTable, beam: int = 8, nbest: int = 1) -> None:
        self.tokens, self.beam, self.nbest = tokens, beam, nbest

    def decode_nbest(self, log_probs, lengths):
        out = prefix_beam_search(log_probs, lengths, self.beam, blank=self.tokens.blank_id, nbest=self.nbest)
        return [[Hypothesis(self.tokens.decode(r.tokens), r.tokens, r.score, r.timesteps) for r in rs] for rs in out]


def build_decoder(cfg: DecoderConfig, tokens: TokenTable, base_dir: str | Path | None = None) -> Decoder:
    """The decoder `cfg.kind` names; relative LM/lexicon paths resolve against base_dir.

    An LM decoder reads (and checks) its ARPA file and lexicon here, so errors come before any audio."""
    if cfg.kind == "greedy":
        return GreedyDecoder(tokens)
    if cfg.kind == "beam":
        return BeamSearchDecoder(tokens, cfg.beam, cfg.nbest)
    if cfg.kind == "lm":
        if tokens.unit != "char":
            raise DecoderError(f"decoder 'lm' spells words with characters; this model's tokens are {tokens.unit}s")
        if not cfg.lm:
            raise DecoderError("decoder 'lm' needs an ARPA language model (--lm PATH)")
        lm_path = resolve(cfg.lm, base_dir)
        from asr.decoding.flashlight import (  # torchaudio's decoder: on demand
            LexiconFreeLMDecoder,
            LexiconLMDecoder,
        )

        if cfg.lexicon:
            return LexiconLMDecoder(tokens, lm_path, resolve(cfg.lexicon, base_dir), cfg)
        return LexiconFreeLMDecoder(tokens, read_arpa(lm_path), cfg)
    raise DecoderError(f"unknown decoder {cfg.kind!r}; choose one of {', '.join(DECODER_KINDS)}")
