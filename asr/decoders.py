"""CTC decoders behind one interface: greedy, prefix beam search, and beam search with a word LM.

    decoder = build_decoder(DecoderConfig(kind="lm", lm="lm.arpa", lexicon="lexicon.txt"), tokens)
    hyps = decoder.decode(log_probs, lengths)          # log_probs [N, T, V], lengths [N] -> [Hypothesis]
    nbest = decoder.decode_nbest(log_probs, lengths)   # -> N lists, best first

Every decoder returns asr.decode.Hypothesis (text, token ids, score, output frame of each token).

- GreedyDecoder: best token per frame (asr/decode.py).
- BeamSearchDecoder: CTC prefix beam search, no LM (asr/beam_search.py).
- LexiconLMDecoder: torchaudio's `ctc_decoder` (flashlight, KenLM inside): words come from the
  lexicon and are scored with the word n-gram. Lexicon spellings end with `|` and our model
  emits `|` only between words, so each utterance gets one virtual last frame in which `|` has
  probability 1: the last word ends like the others, and nothing else changes (its score is 0).
- LexiconFreeLMDecoder: flashlight's lexicon-free search over characters with the same word
  n-gram, so words outside the lexicon stay possible. `_SpelledWordLM` scores a word when `|`
  (or the end of the utterance) closes it; a word the LM lacks is scored as `<unk>` times the
  probability of its spelling (a character bigram over the LM's words), plus `unk_score`.

Scores: acoustic log-probabilities are natural logs; the LM adds `lm_weight * log10 P(word)`
and `word_score` per word (flashlight's convention, with KenLM's log10 probabilities).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torchaudio.models.decoder import CTCDecoderLM, CTCDecoderLMState, ctc_decoder

from asr.batching import FeatureSet, bucket_batches
from asr.beam_search import prefix_beam_search
from asr.decode import Hypothesis, greedy_decode
from asr.lm import BOS, EOS, UNK, ArpaLM, SpellingModel, read_arpa, read_lexicon
from asr.tokens import BLANK, WORD_SEP, TokenTable

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


def _empty() -> Hypothesis:
    return Hypothesis("", [], 0.0, [])


def _tidy_word_tokens(tokens: list[int], frames: list[int], sep: int) -> tuple[list[int], list[int]]:
    """Drop `|` at the start and end and keep one `|` between words (the layout our model emits)."""
    out_t: list[int] = []
    out_f: list[int] = []
    for tok, frame in zip(tokens, frames):
        if tok == sep and (not out_t or out_t[-1] == sep):
            continue
        out_t.append(tok)
        out_f.append(frame)
    if out_t and out_t[-1] == sep:
        out_t.pop()
        out_f.pop()
    return out_t, out_f


@contextlib.contextmanager
def _quiet_fd2():
    """Silence C++ writes to stderr (KenLM's 'Loading the LM will be faster...' banner)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _FlashlightDecoder(Decoder):
    """Shared loop: one utterance at a time through a torchaudio CTCDecoder."""

    virtual_sep_frame = False  # append a frame where `|` is certain (lexicon spellings end with it)
    uses_words = True  # text from flashlight's words (lexicon) rather than from the tokens
    decoder = None  # torchaudio.models.decoder.CTCDecoder
    tokens: TokenTable

    def decode_nbest(self, log_probs, lengths):
        log_probs = log_probs.detach().float().cpu()
        out = []
        for i in range(log_probs.shape[0]):
            n = int(lengths[i])
            if n == 0:
                out.append([_empty()])
                continue
            em = log_probs[i, :n]
            if self.virtual_sep_frame:
                last = torch.full((1, em.shape[1]), -1e4)
                last[0, self.tokens.word_sep_id] = 0.0
                em = torch.cat([em, last])
            results = self.decoder(em.unsqueeze(0).contiguous())[0]
            out.append([self._to_hypothesis(r, n) for r in results] or [_empty()])
        return out

    def _to_hypothesis(self, result, n_frames: int) -> Hypothesis:
        # CTCHypothesis.timesteps index flashlight's path, whose position 0 is its start state.
        toks, frames = [], []
        for tok, pos in zip(result.tokens.tolist(), result.timesteps.tolist()):
            if 0 <= pos - 1 < n_frames:
                toks.append(tok)
                frames.append(pos - 1)
        toks, frames = _tidy_word_tokens(toks, frames, self.tokens.word_sep_id)
        text = " ".join(result.words) if self.uses_words else self.tokens.decode(toks)
        return Hypothesis(text, toks, float(result.score), frames)


class LexiconLMDecoder(_FlashlightDecoder):
    """Lexicon + word n-gram beam search (torchaudio ctc_decoder: flashlight with KenLM)."""

    virtual_sep_frame = True

    def __init__(self, tokens: TokenTable, lm_path: str | Path, lexicon_path: str | Path, cfg: DecoderConfig) -> None:
        read_arpa(lm_path)  # errors name the file and line; KenLM's would not
        read_lexicon(lexicon_path, tokens)
        self.tokens = tokens
        with _quiet_fd2():
            self.decoder = ctc_decoder(
                lexicon=str(lexicon_path),
                tokens=list(tokens.symbols),
                lm=str(lm_path),
                nbest=cfg.nbest,
                beam_size=cfg.lm_beam,
                beam_size_token=cfg.beam_size_token or None,
                beam_threshold=cfg.beam_threshold,
                lm_weight=cfg.lm_weight,
                word_score=cfg.word_score,
                blank_token=BLANK,
                sil_token=WORD_SEP,
                unk_word=UNK,
            )


class LexiconFreeLMDecoder(_FlashlightDecoder):
    """Character beam search scored by the word n-gram; any spelling can become a word."""

    uses_words = False

    def __init__(self, tokens: TokenTable, lm: ArpaLM, cfg: DecoderConfig) -> None:
        self.tokens = tokens
        self.lm = _SpelledWordLM(lm, tokens, cfg.lm_weight, cfg.word_score, cfg.unk_score)
        self.decoder = ctc_decoder(
            lexicon=None,
            tokens=list(tokens.symbols),
            lm=self.lm,
            nbest=cfg.nbest,
            beam_size=cfg.lm_beam,
            beam_size_token=cfg.beam_size_token or None,
            beam_threshold=cfg.beam_threshold,
            lm_weight=1.0,  # _SpelledWordLM returns weighted scores (word_score included)
            blank_token=BLANK,
            sil_token=WORD_SEP,
            unk_word=UNK,
        )


class _SpelledWordLM(CTCDecoderLM):
    """A word n-gram seen through characters, for flashlight's lexicon-free decoder.

    The decoder calls score(state, token) for each new non-blank token and finish(state) at the
    end. `|` (or the end) closes the pending word, which then scores
        lm_weight * log10 P(word | previous words) + word_score                      (LM word)
        lm_weight * (log10 P(<unk> | previous words) + log10 P_spell(word)) + unk_score  (other)
    Scoring only at word ends would favour hypotheses that never end a word, so, as flashlight
    smears a lexicon trie, each letter already adds the change of an estimate of what the word
    will score, the best unigram score of the words (or of <unk> with the spelling so far) that
    the prefix allows; the word's end adds the rest, so finished words score exactly.
    States are the decoder's LMState children, one per token history; `self.info` holds their
    (context, pending word, estimate applied) for the current utterance.
    """

    def __init__(self, lm: ArpaLM, tokens: TokenTable, lm_weight: float, word_score: float, unk_score: float) -> None:
        super().__init__()
        self.lm, self.symbols, self.sep = lm, tokens.symbols, tokens.word_sep_id
        self.lm_weight, self.word_score, self.unk_score = lm_weight, word_score, unk_score
        words = [w for w in lm.vocab if w not in (BOS, EOS, UNK)]
        self.spelling = SpellingModel(words)
        self.best_prefix: dict[str, float] = {}  # prefix -> best unigram log10 prob of an LM word with it
        for w in words:
            p = lm.prob[(w,)]
            for i in range(1, len(w) + 1):
                if p > self.best_prefix.get(w[:i], -math.inf):
                    self.best_prefix[w[:i]] = p
        self.unk_unigram = lm.prob[(UNK,)]
        self.info: dict = {}
        self.step: dict = {}
        self._cache: dict = {}

    def _estimate(self, prefix: str) -> float:
        key = ("est", prefix)
        est = self._cache.get(key)
        if est is None:
            as_word = self.lm_weight * self.best_prefix.get(prefix, -math.inf)
            as_unk = self.lm_weight * (self.unk_unigram + self.spelling.log10_prefix(prefix)) + self.unk_score
            est = self._cache[key] = max(as_word, as_unk)
        return est

    def _close(self, context: tuple[str, ...], word: str) -> tuple[tuple[str, ...], float]:
        key = (context, word)
        score = self._cache.get(key)
        if score is None:
            score = self.lm_weight * self.lm.log10_prob(word, context) + self.word_score
            if word not in self.lm.vocab:
                score += self.lm_weight * self.spelling.log10_word(word) + self.unk_score
            self._cache[key] = score
        keep = self.lm.order - 1
        return ((context + (word,))[-keep:] if keep else ()), score

    def start(self, start_with_nothing: bool):
        state = CTCDecoderLMState()
        self.info = {state: ((BOS,), "", 0.0)}  # context, pending word, estimate applied so far
        self.step: dict = {}  # (state, token) -> (next state, score): the decoder asks the same again and again
        return state

    def score(self, state, usr_token_idx: int):
        hit = self.step.get((state, usr_token_idx))
        if hit is None:
            hit = self.step[(state, usr_token_idx)] = self._step(state, usr_token_idx)
        return hit

    def _step(self, state, token: int):
        context, pending, est = self.info[state]
        if token == self.sep and not pending:
            return state, 0.0
        child = state.child(token)
        if token == self.sep:
            new_context, word_score = self._close(context, pending)
            self.info[child] = (new_context, "", 0.0)
            return child, word_score - est
        word = pending + self.symbols[token]
        new_est = self._estimate(word)
        self.info[child] = (context, word, new_est)
        return child, new_est - est

    def finish(self, state):
        context, pending, est = self.info[state]
        score = 0.0
        if pending:
            context, score = self._close(context, pending)
            score -= est
        return state, score + self.lm_weight * self.lm.log10_prob(EOS, context)


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

