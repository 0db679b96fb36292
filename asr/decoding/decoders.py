"""CTC decoders behind one interface: greedy, prefix beam search, and beam search with a word LM.

    decoder = build_decoder(DecoderConfig(kind="lm", lm="lm.arpa", lexicon="lexicon.txt"), tokens)
    hyps = decoder.decode(log_probs, lengths)          # log_probs [N, T, V], lengths [N] -> [Hypothesis]
    nbest = decoder.decode_nbest(log_probs, lengths)   # -> N lists, best first

Every decoder returns asr.decoding.greedy.Hypothesis (text, token ids, score, output frame of each token).

- GreedyDecoder: best token per frame (asr/decoding/greedy.py).
- BeamSearchDecoder: CTC prefix beam search, no LM (asr/decoding/beam_search.py).
- LexiconLMDecoder, LexiconFreeLMDecoder: beam search with a word n-gram LM through torchaudio's
  flashlight `ctc_decoder`, with or without a lexicon (asr/decoding/flashlight.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.data.batching import FeatureSet, bucket_batches
from asr.decoding.beam_search import prefix_beam_search
from asr.decoding.greedy import Hypothesis, greedy_decode
from asr.decoding.lm import read_arpa
from asr.data.tokens import TokenTable

log = logging.getLogger(__name__)

DECODER_KINDS = ("greedy", "beam", "lm")


@dataclass
class DecoderConfig:
    """How to decode. The tune stage writes the chosen one to <model dir>/decoder.yaml."""

    kind: str = "greedy"  # greedy | beam (prefix beam search, no LM) | lm (beam search with the word n-gram)
    beam: int = 8  # prefix beam search: prefixes kept per frame (kind=beam)
    lm: str = "lm.arpa"  # ARPA word n-gram (kind=lm); a relative path resolves against the model directory
    lexicon: str | None = "lexicon.txt"  # lexicon.txt (kind=lm); null or "" = lexicon-free decoding
    lm_weight: float = 1.0  # scale of the LM's log10 probabilities
    word_score: float = 0.0  # added for each word
    unk_score: float = 0.0  # lexicon-free only: added for each word the LM does not know
    lm_beam: int = 50  # flashlight beam size: hypotheses kept per frame (kind=lm)
    beam_threshold: float = 25.0  # flashlight: drop hypotheses scoring this far below the best
    beam_size_token: int = 0  # flashlight: tokens tried per frame; 0 = all
    nbest: int = 1  # hypotheses returned per utterance


@dataclass
class DecodingConfig:
    """The recipe's decoding section: beam widths and the dev-set grid of LM weight x word score."""

    beam: int = 8  # prefix beam search width (decoder 'beam')
    lm_beam: int = 50  # flashlight beam size (decoder 'lm')
    beam_threshold: float = 25.0  # flashlight pruning threshold
    beam_size_token: int = 8  # flashlight tokens per frame; 0 = all
    lm_weights: list[float] = field(default_factory=lambda: [0.5, 1.0, 1.5, 2.0, 2.5])
    word_scores: list[float] = field(default_factory=lambda: [-3.0, -2.0, -1.0, 0.0, 1.0])
    unk_scores: list[float] = field(default_factory=lambda: [-3.0, -6.0, -9.0])  # lexicon-free tries at the lexicon's best weights; [] = none

    def lm_decoder(self, lm_weight: float, word_score: float) -> DecoderConfig:
        """The lexicon decoder at one grid point, with paths inside the model directory."""
        return DecoderConfig(
            kind="lm", beam=self.beam, lm_weight=lm_weight, word_score=word_score, lm_beam=self.lm_beam,
            beam_threshold=self.beam_threshold, beam_size_token=self.beam_size_token,
        )


DECODER_CONFIG = "decoder.yaml"  # in a model directory: the decoder `asr transcribe` uses by default


def read_decoder_config(model_dir: str | Path) -> DecoderConfig | None:
    """<model_dir>/decoder.yaml as a DecoderConfig, or None when there is none."""
    from asr.config import load_yaml

    path = Path(model_dir) / DECODER_CONFIG
    return load_yaml(DecoderConfig, path) if path.is_file() else None


def write_decoder_config(model_dir: str | Path, cfg: DecoderConfig) -> None:
    from asr.config import save_yaml

    save_yaml(cfg, Path(model_dir) / DECODER_CONFIG)


class DecoderError(ValueError):
    """A decoder option is wrong (unknown kind, missing LM for kind=lm, ...)."""


class Decoder:
    """The interface: decode_nbest over a batch of log-probabilities; decode keeps the best."""

    def decode_nbest(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        """log_probs [N, T, V] (log-softmax), lengths [N] output frames -> N lists, best first (>= 1 each)."""
        raise NotImplementedError

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[Hypothesis]:
        return [nbest[0] for nbest in self.decode_nbest(log_probs, lengths)]


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


def resolve(path: str | Path, base_dir: str | Path | None) -> Path:
    """A relative path in a decoder config resolves against the model directory."""
    p = Path(path)
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def build_decoder(cfg: DecoderConfig, tokens: TokenTable, base_dir: str | Path | None = None) -> Decoder:
    """The decoder `cfg.kind` names; relative LM/lexicon paths resolve against base_dir."""
    if cfg.kind == "greedy":
        return GreedyDecoder(tokens)
    if cfg.kind == "beam":
        return BeamSearchDecoder(tokens, cfg.beam, cfg.nbest)
    if cfg.kind == "lm":
        if getattr(tokens, "unit", "char") != "char":
            raise DecoderError(f"decoder 'lm' spells words with characters; this model's tokens are {tokens.unit}s")
        if not cfg.lm:
            raise DecoderError("decoder 'lm' needs an ARPA language model (--lm PATH)")
        lm_path = resolve(cfg.lm, base_dir)
        from asr.decoding.flashlight import LexiconFreeLMDecoder, LexiconLMDecoder

        if cfg.lexicon:
            return LexiconLMDecoder(tokens, lm_path, resolve(cfg.lexicon, base_dir), cfg)
        return LexiconFreeLMDecoder(tokens, read_arpa(lm_path), cfg)
    raise DecoderError(f"unknown decoder {cfg.kind!r}; choose one of {', '.join(DECODER_KINDS)}")


# ---------------------------------------------------------------------------------------------
# Emissions of a data set, decoded by any decoder


@torch.inference_mode()
def compute_emissions(
    model: torch.nn.Module, feats: FeatureSet, device: torch.device, max_frames: int = 40000, progress: bool = False
) -> dict[str, torch.Tensor]:
    """Run the acoustic model once over a FeatureSet: utt -> log-probs [T'_utt, V] float32 on CPU."""
    from tqdm import tqdm

    model.eval()
    out: dict[str, torch.Tensor] = {}
    for utts in tqdm(bucket_batches(feats.lengths, max_frames), desc="emissions", unit="batch", disable=not progress, leave=False):
        b = feats.batch(utts)
        log_probs, out_lengths = model(b.feats.to(device), b.feat_lengths.to(device))
        log_probs = log_probs.float().cpu()
        for i, utt in enumerate(utts):
            out[utt] = log_probs[i, : int(out_lengths[i])].clone()
    return out


def decode_emissions(
    decoder: Decoder, emissions: dict[str, torch.Tensor], max_frames: int = 20000, progress: bool = False
) -> dict[str, Hypothesis]:
    """Decode stored emissions {utt: [T, V]} in length-bucketed batches -> {utt: best Hypothesis}."""
    from tqdm import tqdm

    out: dict[str, Hypothesis] = {}
    lengths = {u: e.shape[0] for u, e in emissions.items()}
    for utts in tqdm(bucket_batches(lengths, max_frames), desc="decode", unit="batch", disable=not progress, leave=False):
        vocab = emissions[utts[0]].shape[1]
        lens = torch.tensor([lengths[u] for u in utts])
        batch = torch.zeros(len(utts), int(lens.max()) if len(utts) else 0, vocab)
        for i, u in enumerate(utts):
            batch[i, : lengths[u]] = emissions[u]
        for u, hyp in zip(utts, decoder.decode(batch, lens)):
            out[u] = hyp
    return out


def write_ctm(path: str | Path, hyps: dict[str, Hypothesis], tokens: TokenTable, frame_seconds: float) -> None:
    """CTM lines `utt 1 start duration word` (seconds), sorted by utterance.

    A word starts at its first token's frame and ends one frame after its last token's.
    """
    lines = []
    for utt in sorted(hyps):
        h = hyps[utt]
        word, start, end = "", 0, 0
        for tok, frame in [*zip(h.tokens, h.timesteps), (tokens.word_sep_id, -1)]:
            if tok == tokens.word_sep_id:
                if word:
                    lines.append(f"{utt} 1 {start * frame_seconds:.2f} {(end - start + 1) * frame_seconds:.2f} {word}")
                word = ""
                continue
            if not word:
                start = frame
            word, end = word + tokens.symbols[tok], frame
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def model_frame_seconds(fbank_frame_shift_ms: float, stack: int) -> float:
    """Seconds per output frame: feature hop times the model's frame stacking."""
    return fbank_frame_shift_ms * stack / 1000.0

