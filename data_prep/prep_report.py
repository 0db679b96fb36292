"""Bad-item accounting of a corpus preparation: why items were dropped, and when to give up.

A preparation reports each item it cannot use to a `PrepReport` (reason, path, utterance,
detail) and counts what the standard recipe leaves out by design. `write_log` writes
prepare.log; `enforce` raises PrepError when nothing is usable or more than max_bad_fraction
of the items are bad. data_prep.common re-exports everything here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import AsrError

# Why an item was not used. The first seven count towards max_bad_fraction.
MISSING_TRANSCRIPT = "missing-transcript"  # the transcript file that should cover the audio does not exist
NO_TRANSCRIPT = "no-transcript"  # an audio file that no transcript mentions
MISSING_AUDIO = "missing-audio"  # a transcript whose audio file does not exist
UNREADABLE = "unreadable-audio"  # the audio cannot be decoded, or has no samples
EMPTY_TRANSCRIPT = "empty-transcript"  # the transcript is empty
ID_COLLISION = "id-collision"  # a second item maps to an utterance id that is already taken
REJECTED_TEXT = "rejected-text"  # the transcript cannot be normalised (digits, unknown phones, ...)
BAD_ENTRY = "bad-entry"  # a malformed line in a transcript, manifest or table
NO_SPEAKER = "no-speaker"  # (Kaldi dirs) an utterance that utt2spk does not mention

DEFAULT_MAX_BAD_FRACTION = 0.05


class PrepError(AsrError, RuntimeError):
    """A corpus cannot be prepared; the message says what is wrong, where, and what to do."""


@dataclass
class BadItem:
    reason: str
    path: str
    utt: str | None
    detail: str


@dataclass
class PrepReport:
    """Counts of one prepared set: kept utterances, bad items (with paths), and exclusions by design.

    Exclusions (e.g. TIMIT's SA sentences) are what the standard recipe leaves out on purpose;
    they are logged but are not errors.
    """

    name: str
    source: str = ""
    kept: int = 0
    bad_items: list[BadItem] = field(default_factory=list)
    excluded: Counter = field(default_factory=Counter)
    log_path: Path | None = None

    def bad(self, reason: str, path: str | Path, detail: str = "", utt: str | None = None) -> None:
        self.bad_items.append(BadItem(reason, str(path), utt, detail))

    def exclude(self, why: str, count: int = 1) -> None:
        self.excluded[why] += count

    @property
    def total(self) -> int:
        return self.kept + len(self.bad_items)

    @property
    def bad_fraction(self) -> float:
        return len(self.bad_items) / self.total if self.total else 0.0

    def bad_counts(self) -> Counter:
        return Counter(b.reason for b in self.bad_items)

    def summary(self) -> str:
        """One line: kept, bad by reason, excluded."""
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.bad_counts().items())) or "none"
        out = f"{self.name}: kept {self.kept} of {self.total} utterances; bad {len(self.bad_items)} ({reasons})"
        if self.excluded:
            out += "; excluded by design: " + ", ".join(f"{w} {n}" for w, n in sorted(self.excluded.items()))
        return out

    def write_log(self, path: str | Path, max_bad_fraction: float) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            f"# prepare.log: {self.name}" + (f" from {self.source}" if self.source else ""),
            f"# kept {self.kept} of {self.total} utterances; bad {len(self.bad_items)} "
            f"({100 * self.bad_fraction:.1f}%, limit {100 * max_bad_fraction:.1f}%)",
            "# bad by reason: " + (", ".join(f"{r} {n}" for r, n in sorted(self.bad_counts().items())) or "none"),
            "# excluded by design: " + (", ".join(f"{w} {n}" for w, n in sorted(self.excluded.items())) or "none"),
            "# <reason>\t<path>\t<utt>\t<detail>",
        ]
        lines += [f"{b.reason}\t{b.path}\t{b.utt or '-'}\t{b.detail}" for b in self.bad_items]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.log_path = path

    def enforce(self, max_bad_fraction: float) -> None:
        """Raise PrepError when nothing is usable or more than max_bad_fraction of the items are bad."""
        where = f"; every bad item is listed in {self.log_path}" if self.log_path else ""
        if self.kept == 0:
            first = f" First problem: {self._describe(self.bad_items[0])}." if self.bad_items else ""
            raise PrepError(f"{self.name}: no usable utterances in {self.source or 'the corpus'}.{first}{where}")
        if self.bad_fraction > max_bad_fraction:
            raise PrepError(
                f"{self.summary()}. That is {100 * self.bad_fraction:.1f}% bad, more than max_bad_fraction="
                f"{max_bad_fraction:g}. First problem: {self._describe(self.bad_items[0])}{where}. "
                "Fix the corpus, or raise --max-bad-fraction to skip the bad items."
            )

    @staticmethod
    def _describe(b: BadItem) -> str:
        return f"{b.path}: {b.reason}" + (f" (utt '{b.utt}')" if b.utt else "") + (f": {b.detail}" if b.detail else "")
