"""Word timings from CTC frames: forced alignment of the decoded tokens.

The decoder gives the words; `torchaudio.functional.forced_align` finds the best CTC path
that spells exactly those tokens through the model's log-probabilities [T, V] (Viterbi over
the blank-augmented token sequence), so every token gets a run of output frames. A word
spans from the first frame of its first token to the last frame of its last token, and

    seconds = output frame * frame_seconds (feature hop * frame stacking) + offset

Character tables mark word ends with `|`, BPE tables start words with `▁`; a phone table has
no words, so each phone is one "word". Confidence is the geometric mean of the posteriors of
the word's aligned (non-blank) frames.

CTC posteriors are peaky: a token often occupies one frame near its onset, so a word's last
frame falls before its acoustic end (by 66 ms on average and up to 180 ms on the test digits).
`refine_with_energy` then snaps each word's edges to the sound: its end moves on while the audio
is not silent, its start back, never into a neighbouring word. On the spoken digits of
tests/test_timing.py this brought the worst end error from -183 ms to +15 ms.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio.functional as AF

from asr.data.tokens import TokenTable
from asr.decoding.hypothesis import Hypothesis, word_groups, word_text
from asr.transcribe.transcript import Word


def ctc_min_frames(token_ids: list[int]) -> int:
    """Frames a CTC path needs for these tokens: one each, plus a blank between repeats."""
    return len(token_ids) + sum(1 for a, b in zip(token_ids, token_ids[1:]) if a == b)


def align_tokens(log_probs: torch.Tensor, token_ids: list[int], blank: int = 0) -> list[tuple[int, int, float]]:
    """Forced alignment: log_probs [T, V], token ids [L] -> per token (first frame, end frame, sum log-prob).

    Frames are output frames; end is exclusive. Raises ValueError if T < ctc_min_frames(token_ids).
    """
    if ctc_min_frames(token_ids) > log_probs.shape[0]:
        raise ValueError(f"{len(token_ids)} tokens cannot be aligned to {log_probs.shape[0]} frames")
    emission = log_probs.detach().float().cpu()[None]
    targets = torch.tensor([token_ids], dtype=torch.int32)
    labels, scores = AF.forced_align(emission, targets, blank=blank)
    labels, scores = labels[0], scores[0]
    spans: list[tuple[int, int, float]] = []
    prev = blank
    for t, (lab, sc) in enumerate(zip(labels.tolist(), scores.tolist())):
        if lab != blank:
            if lab != prev:  # a new token starts (a repeated token always has a blank between)
                spans.append((t, t + 1, sc))
            else:  # the same token held for another frame
                s, _, total = spans[-1]
                spans[-1] = (s, t + 1, total + sc)
        prev = lab
    if len(spans) != len(token_ids):  # forced_align returns a path spelling exactly the targets
        raise RuntimeError(f"alignment found {len(spans)} token runs for {len(token_ids)} tokens")
    return spans


def word_timings(
    log_probs: torch.Tensor,
    token_ids: list[int],
    tokens: TokenTable,
    frame_seconds: float,
    offset: float = 0.0,
) -> list[Word]:
    """Timed words for a decoded token sequence.

    log_probs [T, V] (one utterance, unpadded), token_ids [L] (may include word separators),
    frame_seconds: seconds per output frame; offset: seconds added to every time (chunk start).
    Tokens that cannot be aligned (more tokens than frames allow) raise ValueError.
    """
    sep = tokens.word_sep_id if tokens.unit == "char" else None
    content = [t for t in token_ids if t != sep]  # word separators carry no timing of their own
    if not content:
        return []
    spans = align_tokens(log_probs, content, tokens.blank_id)
    groups = word_groups(token_ids, tokens)
    # positions in token_ids -> positions in content
    content_pos = {}
    k = 0
    for pos, tid in enumerate(token_ids):
        if tid != sep:
            content_pos[pos] = k
            k += 1
    words: list[Word] = []
    for group in groups:
        first, last = spans[content_pos[group[0]]], spans[content_pos[group[-1]]]
        start, end = first[0], last[1]
        frames = sum(spans[content_pos[p]][1] - spans[content_pos[p]][0] for p in group)
        logp = sum(spans[content_pos[p]][2] for p in group)
        conf = float(torch.tensor(logp / max(frames, 1)).exp())
        words.append(Word(word_text(token_ids, group, tokens), round(offset + start * frame_seconds, 3),
                          round(offset + end * frame_seconds, 3), round(conf, 4)))
    return words


def refine_with_energy(words: list[Word], wave, sample_rate: int, offset: float = 0.0, frame_ms: float = 10.0) -> list[Word]:
    """Snap word edges to the sound: silence at a word's edges is trimmed, then its end moves later
    (its start earlier) while the audio is not silent.

    words: timed words of one chunk (times include `offset`, the chunk's start in seconds);
    wave: the chunk's samples [S]. A word never grows into its neighbours or past the chunk, so
    in continuous speech little changes, while a word before a pause ends where its sound ends
    rather than at its last CTC spike. Silence is asr.transcribe.chunking's relative energy threshold.
    """
    from asr.transcribe.chunking import frame_energies_db, silence_threshold_db

    if not words:
        return words
    energy = frame_energies_db(wave, sample_rate, frame_ms)
    loud = energy > silence_threshold_db(energy)
    step = frame_ms / 1000.0
    n = len(loud)
    out: list[Word] = []
    for i, w in enumerate(words):
        lo = int(round((out[-1].end - offset) / step)) if out else 0  # the previous word as refined
        hi = int(round((words[i + 1].start - offset) / step)) if i + 1 < len(words) else n
        s = min(max(int(round((w.start - offset) / step)), 0), n)
        e = min(max(int(round((w.end - offset) / step)), s + 1), n)
        if loud[s:e].any():  # trim silence the alignment put inside the word (e.g. an LM word
            while not loud[s]:  # whose letters the frames do not spell), then grow to the sound
                s += 1
            while not loud[e - 1]:
                e -= 1
        while e < hi and loud[e]:
            e += 1
        while s > lo and loud[s - 1]:
            s -= 1
        out.append(Word(w.word, round(offset + s * step, 3), round(offset + e * step, 3), w.confidence))
    return out


def words_from_timesteps(hyp: Hypothesis, tokens: TokenTable, frame_seconds: float, offset: float = 0.0) -> list[Word]:
    """Word times from the decoder's own token frames (each token one frame long); confidence unknown (0)."""
    out = []
    for group in word_groups(hyp.tokens, tokens):
        start, end = hyp.timesteps[group[0]], hyp.timesteps[group[-1]] + 1
        out.append(Word(word_text(hyp.tokens, group, tokens), round(offset + start * frame_seconds, 3),
                        round(offset + end * frame_seconds, 3), 0.0))
    return out


def timed_words(
    hyp: Hypothesis, emission: torch.Tensor, tokens: TokenTable, frame_seconds: float, wave: np.ndarray,
    sample_rate: int, offset: float = 0.0,
) -> list[Word]:
    """The timed words of a decoded hypothesis: what `asr transcribe` and the recipe's CTM both write.

    emission: the utterance's log-probs [T', V]; wave: its samples [S] (for refine_with_energy);
    offset: seconds added to every time. Forced alignment of hyp.tokens, edges snapped to the
    sound; an LM hypothesis whose letters the frames cannot spell falls back to the decoder's frames.
    """
    if not hyp.tokens:
        return []
    try:
        words = word_timings(emission, hyp.tokens, tokens, frame_seconds, offset)
        return refine_with_energy(words, wave, sample_rate, offset)
    except ValueError:
        return words_from_timesteps(hyp, tokens, frame_seconds, offset)
