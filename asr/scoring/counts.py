"""What scoring returns: error counts, the report of a set, and the word + character results.

Plain dataclasses, so that asr.scoring.wer (which computes them) and asr.scoring.reports
(which formats them) both import them from here and not from each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields

import numpy as np

from asr.scoring.alignment import Alignment, expand
from asr.scoring.significance import BootstrapCI


@dataclass
class ErrorCounts:
    """Error counts over one or more utterances; tokens are words or characters.

    `ref_words`/`hyp_words` count reference/hypothesis tokens (characters for CER).
    Counts add up with `+`, e.g. `sum(counts, ErrorCounts())`.
    """

    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    utts: int = 0
    utts_wrong: int = 0  # utterances with at least one error (for %SER)

    @property
    def ref_words(self) -> int:
        return self.corr + self.sub + self.dele

    @property
    def hyp_words(self) -> int:
        return self.corr + self.sub + self.ins

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def wer(self) -> float:
        """Error rate in percent (a CER for character counts); 0.0 when there are no reference tokens."""
        return 100.0 * self.errors / self.ref_words if self.ref_words else 0.0

    @property
    def ser(self) -> float:
        """Percent of utterances with at least one error; 0.0 with no utterances."""
        return 100.0 * self.utts_wrong / self.utts if self.utts else 0.0

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        return ErrorCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


class _Alignments(Mapping[str, Alignment]):
    """{utt: alignment steps}, built on access from the op strings (most callers need none)."""

    def __init__(self, ops: dict[str, str], refs: dict[str, list[str]], hyps: dict[str, list[str]]):
        self._ops, self._refs, self._hyps = ops, refs, hyps

    def __getitem__(self, utt: str) -> Alignment:
        return expand(self._ops[utt], self._refs[utt], self._hyps[utt])

    def __iter__(self) -> Iterator[str]:
        return iter(self._ops)

    def __len__(self) -> int:
        return len(self._ops)


@dataclass
class ScoreReport:
    """Scores of a set: total, per utterance and per speaker (sorted by id), plus what was unmatched.

    `alignments[utt]` gives (op, ref token, hyp token) steps; `ops[utt]` the same as a
    "CSDI" string. Tokens are as compared: A-Z lowercased unless case-sensitive,
    normalised when a Normalizer was given.
    """

    char_level: bool
    total: ErrorCounts
    per_utt: dict[str, ErrorCounts]
    per_spk: dict[str, ErrorCounts]
    alignments: Mapping[str, Alignment] = field(repr=False)
    missing: list[str]  # references with no hypothesis, scored as all deletions
    extra: list[str]  # hypotheses with no reference, ignored (only with ignore_extra=True)
    case_sensitive: bool = False
    normalization: str = "none"
    speakers: dict[str, str] = field(default_factory=dict, repr=False)  # utt -> speaker
    ops: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return "CER" if self.char_level else "WER"

    def utt_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(errors, reference tokens) per utterance, in per_utt order: the bootstrap's input."""
        errs = np.fromiter((c.errors for c in self.per_utt.values()), np.int64, len(self.per_utt))
        refs = np.fromiter((c.ref_words for c in self.per_utt.values()), np.int64, len(self.per_utt))
        return errs, refs


@dataclass
class ScoreResults:
    """Word- and character-level reports of one scoring run, with the WER's bootstrap interval."""

    words: ScoreReport
    chars: ScoreReport
    words_ci: BootstrapCI | None = None
    chars_ci: BootstrapCI | None = None
