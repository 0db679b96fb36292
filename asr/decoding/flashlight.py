"""Beam search with a word n-gram LM through flashlight's decoders (KenLM inside), both built here in one
way (the options torchaudio's `ctc_decoder` gives them) and searched by one loop (`_FlashlightDecoder`).

- LexiconLMDecoder: words come from the lexicon and are scored with the word n-gram. Lexicon
  spellings end with `|` and our model emits `|` only between words, so each utterance gets one
  virtual last frame in which `|` has probability 1: the last word ends like the others, and
  nothing else changes (its score is 0). The LM and the lexicon's trie are loaded once per
  process and shared by every LexiconLMDecoder over the same files (`_LexiconSearch`): the LM
  tuning's grid points differ only in their weights (the trie is smeared with unweighted LM scores).
- LexiconFreeLMDecoder: flashlight's lexicon-free search over characters with the same word
  n-gram, so words outside the lexicon stay possible. `_SpelledWordLM` scores a word when `|`
  (or the end of the utterance) closes it; a word the LM lacks is scored as `<unk>` times the
  probability of its spelling (a character bigram over the LM's words), plus `unk_score`.

Scores: acoustic log-probabilities are natural logs; the LM adds `lm_weight * log10 P(word)`
and `word_score` per word (flashlight's convention, with KenLM's log10 probabilities).
Both are built by `build` below, the `lm` entry of asr.decoding.registry, from a DecoderConfig with kind 'lm'.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from flashlight.lib.text.decoder import (
    LM,
    CriterionType,
    LexiconDecoder,
    LexiconDecoderOptions,
    LexiconFreeDecoder,
    LexiconFreeDecoderOptions,
    LMState,
    SmearingMode,
    Trie,
)
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary, create_word_dict, load_words

from asr.data.tokens import BLANK, WORD_SEP, TokenTable
from asr.decoding.base import Decoder, DecoderConfig, DecoderError, resolve
from asr.decoding.hypothesis import Hypothesis
from asr.decoding.lm import (
    BOS,
    EOS,
    UNK,
    ArpaLM,
    SpellingModel,
    plain_path,
    read_arpa,
    read_lexicon,
)

log = logging.getLogger(__name__)


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
    """Shared loop: one utterance at a time through flashlight's decoder, the n best of each."""

    virtual_sep_frame = False  # append a frame where `|` is certain (lexicon spellings end with it)
    uses_words = True  # text from flashlight's words (lexicon) rather than from the tokens
    decoder: LexiconDecoder | LexiconFreeDecoder
    word_dict: Dictionary | None = None  # the lexicon's words (uses_words)
    tokens: TokenTable
    nbest: int

    def decode_nbest(self, log_probs, lengths):
        log_probs = log_probs.detach().float().cpu()
        out = []
        for i in range(log_probs.shape[0]):
            n = int(lengths[i])
            if n == 0:
                out.append([Hypothesis.empty()])
                continue
            em = log_probs[i, :n]
            if self.virtual_sep_frame:
                last = torch.full((1, em.shape[1]), -1e4)
                last[0, self.tokens.word_sep_id] = 0.0
                em = torch.cat([em, last])
            results = self._search(em.contiguous())
            out.append([self._to_hypothesis(*r, n) for r in results] or [Hypothesis.empty()])
        return out

    def _search(self, em: torch.Tensor) -> list[tuple[list[int], list[int], list[str], float]]:
        """The n best of one utterance's emissions [T, V] (float32, contiguous): (tokens, their path positions,
        words, score) each."""
        out = []
        for r in self.decoder.decode(em.data_ptr(), em.shape[0], em.shape[1])[: self.nbest]:
            toks, positions = _path_tokens(r.tokens, self.tokens.blank_id)
            words = [self.word_dict.get_entry(w) for w in r.words if w >= 0] if self.uses_words else []
            out.append((toks, positions, words, float(r.score)))
        return out

    def _to_hypothesis(self, tokens: list[int], positions: list[int], words: list[str], score: float,
                       n_frames: int) -> Hypothesis:
        # positions index flashlight's path, whose position 0 is its start state.
        toks, frames = [], []
        for tok, pos in zip(tokens, positions):
            if 0 <= pos - 1 < n_frames:
                toks.append(tok)
                frames.append(pos - 1)
        toks, frames = _tidy_word_tokens(toks, frames, self.tokens.word_sep_id)
        text = " ".join(words) if self.uses_words else self.tokens.decode(toks)
        return Hypothesis(text, toks, score, frames)


class LexiconLMDecoder(_FlashlightDecoder):
    """Lexicon + word n-gram beam search (flashlight's LexiconDecoder with KenLM, as torchaudio's ctc_decoder
    builds it); the LM and trie come from `_LexiconSearch.load`, shared with the process's other decoders."""

    virtual_sep_frame = True

    def __init__(self, tokens: TokenTable, lm_path: str | Path, lexicon_path: str | Path, cfg: DecoderConfig) -> None:
        self.tokens, self.nbest = tokens, cfg.nbest
        self.search = _LexiconSearch.load(lm_path, lexicon_path, tokens)
        self.decoder, self.word_dict = self.search.decoder(cfg), self.search.word_dict


def _path_tokens(path: list[int], blank: int) -> tuple[list[int], list[int]]:
    """flashlight's best path (a token per position) -> (its tokens with repeats merged and blanks dropped,
    the position where each starts), as torchaudio's CTCDecoder reports them (its _get_tokens, _get_timesteps)."""
    toks, positions = [], []
    for i, tok in enumerate(path):
        if tok != blank and (i == 0 or tok != path[i - 1]):
            toks.append(tok)
            positions.append(i)
    return toks, positions


@dataclass(frozen=True)
class _LexiconSearch:
    """KenLM and the lexicon's trie (smeared with the LM's unigram scores) for one LM, lexicon and token
    table: what every lexicon decoder over them shares. `load` keeps the last one of the process."""

    key: tuple
    tokens_dict: Dictionary  # the token symbols
    word_dict: Dictionary  # the lexicon's words
    lm: KenLM
    trie: Trie
    sil: int
    blank: int
    unk: int

    _last: ClassVar[_LexiconSearch | None] = None  # the process's cache (one entry)

    @classmethod
    def load(cls, lm_path: str | Path, lexicon_path: str | Path, tokens: TokenTable) -> _LexiconSearch:
        """Check and load the files (errors name the file and line, which KenLM's and flashlight's would not),
        or return the cached search of the same files (same paths, sizes and modification times) and tokens."""
        lm_path, lexicon_path = Path(lm_path), Path(lexicon_path)
        key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else str(p)
                    for p in (lm_path, lexicon_path)) + (tuple(tokens.symbols),)
        last = _LexiconSearch._last
        if last is not None and last.key == key:
            return last
        _LexiconSearch._last = None  # free the old LM before loading the new one
        read_arpa(lm_path)
        read_lexicon(lexicon_path, tokens)
        tokens_dict = Dictionary(list(tokens.symbols))
        lexicon = load_words(str(plain_path(lexicon_path)))
        word_dict = create_word_dict(lexicon)
        with _quiet_fd2():
            lm = KenLM(str(plain_path(lm_path)), word_dict)  # KenLM reads no gzip
        sil = tokens_dict.get_index(WORD_SEP)
        trie = Trie(tokens_dict.index_size(), sil)
        start = lm.start(False)
        for word, spellings in lexicon.items():
            word_idx = word_dict.get_index(word)
            _, score = lm.score(start, word_idx)
            for spelling in spellings:
                trie.insert([tokens_dict.get_index(t) for t in spelling], word_idx, score)
        trie.smear(SmearingMode.MAX)
        search = cls(key, tokens_dict, word_dict, lm, trie, sil, tokens_dict.get_index(BLANK), word_dict.get_index(UNK))
        _LexiconSearch._last = search
        return search

    def decoder(self, cfg: DecoderConfig) -> LexiconDecoder:
        """A flashlight LexiconDecoder with cfg's beam and weights (torchaudio ctc_decoder's other defaults)."""
        options = LexiconDecoderOptions(
            beam_size=cfg.lm_beam,
            beam_size_token=cfg.beam_size_token or self.tokens_dict.index_size(),
            beam_threshold=cfg.beam_threshold,
            lm_weight=cfg.lm_weight,
            word_score=cfg.word_score,
            unk_score=-math.inf,
            sil_score=0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        return LexiconDecoder(options, self.trie, self.lm, self.sil, self.blank, self.unk, [], False)


class LexiconFreeLMDecoder(_FlashlightDecoder):
    """Character beam search scored by the word n-gram; any spelling can become a word."""

    uses_words = False

    def __init__(self, tokens: TokenTable, lm: ArpaLM, cfg: DecoderConfig) -> None:
        self.tokens, self.nbest = tokens, cfg.nbest
        self.lm = _SpelledWordLM(lm, tokens, cfg.lm_weight, cfg.word_score, cfg.unk_score)  # kept alive with the decoder
        options = LexiconFreeDecoderOptions(
            beam_size=cfg.lm_beam,
            beam_size_token=cfg.beam_size_token or len(tokens.symbols),
            beam_threshold=cfg.beam_threshold,
            lm_weight=1.0,  # _SpelledWordLM returns weighted scores (word_score included)
            sil_score=0.0,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        self.decoder = LexiconFreeDecoder(options, self.lm, tokens.word_sep_id, tokens.blank_id, [])


class _SpelledWordLM(LM):
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
        state = LMState()
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


def build(cfg: DecoderConfig, tokens: TokenTable, base_dir: str | Path | None = None) -> _FlashlightDecoder:
    """LexiconLMDecoder when cfg.lexicon is set, else LexiconFreeLMDecoder; relative paths resolve against base_dir."""
    if tokens.unit != "char":
        raise DecoderError(f"decoder 'lm' spells words with characters; this model's tokens are {tokens.unit}s")
    if not cfg.lm:
        raise DecoderError("decoder 'lm' needs an ARPA language model (--lm PATH)")
    lm_path = resolve(cfg.lm, base_dir)
    if cfg.lexicon:
        return LexiconLMDecoder(tokens, lm_path, resolve(cfg.lexicon, base_dir), cfg)
    return LexiconFreeLMDecoder(tokens, read_arpa(lm_path), cfg)
