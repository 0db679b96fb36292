"""The one result type of every decoder, and how its tokens group into words.

    Hypothesis(text="the cat", tokens=[5, 9, 3, 1, 4, 2, 5], score=-3.1, timesteps=[2, 3, 5, 7, 9, 10, 12])

`timesteps[i]` is the output frame (of the model, after stacking) where the decoder placed
`tokens[i]`. Character tables separate words with `|`, BPE tables start words with `▁`, and a
phone table has no words, so each phone is one "word" (`word_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asr.data.tokens import BPE_WORD_START, WORD_SEP, TokenTable


@dataclass
class Hypothesis:
    text: str
    tokens: list[int]  # collapsed token ids, no blanks
    score: float  # the decoder's score (greedy: sum of the chosen frames' log-probabilities)
    timesteps: list[int] = field(default_factory=list)  # output frame index of each token

    @classmethod
    def empty(cls) -> "Hypothesis":
        """What every decoder returns for an input without frames."""
        return cls("", [], 0.0, [])


def word_groups(token_ids: list[int], tokens: TokenTable) -> list[list[int]]:
    """Split token ids into words: [[positions of word 1's tokens], ...] (positions into token_ids)."""
    words: list[list[int]] = []
    current: list[int] = []
    for pos, tid in enumerate(token_ids):
        sym = tokens.symbols[tid]
        if tokens.unit == "char" and sym == WORD_SEP:
            if current:
                words.append(current)
            current = []
            continue
        if tokens.unit == "bpe" and sym.startswith(BPE_WORD_START) and current:
            words.append(current)
            current = []
        current.append(pos)
        if tokens.unit == "phone":
            words.append(current)
            current = []
    if current:
        words.append(current)
    return words


def word_text(token_ids: list[int], positions: list[int], tokens: TokenTable) -> str:
    """The spelling of one word group (positions from word_groups)."""
    return "".join(tokens.symbols[token_ids[p]] for p in positions).replace(BPE_WORD_START, "")
