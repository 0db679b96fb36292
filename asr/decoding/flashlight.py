"""Beam search with a word n-gram LM, through torchaudio's flashlight `ctc_decoder` (KenLM inside).

- LexiconLMDecoder: words come from the lexicon and are scored with the word n-gram. Lexicon
  spellings end with `|` and our model emits `|` only between words, so each utterance gets one
  virtual last frame in which `|` has probability 1: the last word ends like the others, and
  nothing else changes (its score is 0).
- LexiconFreeLMDecoder: flashlight's lexicon-free search over characters with the same word
  n-gram, so words outside the lexicon stay possible. `_SpelledWordLM` scores a word when `|`
  (or the end of the utterance) closes it; a word the LM lacks is scored as `<unk>` times the
  probability of its spelling (a character bigram over the LM's words), plus `unk_score`.

Scores: acoustic log-probabilities are natural logs; the LM adds `lm_weight * log10 P(word)`
and `word_score` per word (flashlight's convention, with KenLM's log10 probabilities).
Both are built by asr.decoding.decoders.build_decoder from a DecoderConfig with kind 'lm'.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from pathlib import Path

import torch
from torchaudio.models.decoder import CTCDecoderLM, CTCDecoderLMState, ctc_decoder

from asr.data.tokens import BLANK, WORD_SEP, TokenTable
from asr.decoding.base import Decoder, DecoderConfig
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
                out.append([Hypothesis.empty()])
                continue
            em = log_probs[i, :n]
            if self.virtual_sep_frame:
                last = torch.full((1, em.shape[1]), -1e4)
                last[0, self.tokens.word_sep_id] = 0.0
                em = torch.cat([em, last])
            results = self.decoder(em.unsqueeze(0).contiguous())[0]
            out.append([self._to_hypothesis(r, n) for r in results] or [Hypothesis.empty()])
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
                lexicon=str(plain_path(lexicon_path)),  # nor does flashlight
                tokens=list(tokens.symbols),
                lm=str(plain_path(lm_path)),  # KenLM reads no gzip
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
