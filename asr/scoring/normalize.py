"""The optional normalisation `asr score --normalize` applies to both sides: lowercase, Unicode
punctuation to spaces (an apostrophe inside a word kept), and a word mapping file (`--mapping`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from asr.scoring.files import ScoringError, read_lines


class _PunctuationToSpace(dict):
    """A str.translate table, filled on demand: Unicode punctuation (category P*) -> space."""

    def __missing__(self, cp: int) -> int:
        self[cp] = out = 32 if unicodedata.category(chr(cp)).startswith("P") else cp
        return out


_PUNCT = _PunctuationToSpace({ord("\ue000"): 0xE000})  # U+E000 (private use) marks a kept apostrophe
_INNER_APOSTROPHE = re.compile(r"(?<=\w)['\u2019](?=\w)")


def read_mapping(path: str | Path) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Read a word mapping file for `Normalizer`: one `FROM TO...` per line.

    FROM is the first word and TO the rest (nothing: FROM is deleted). With a tab, FROM is
    everything before the first tab (several words: `all right<TAB>alright`) and TO the
    rest. Both sides are normalised like the transcripts. Blank lines and lines starting
    with `#` or `;;` are skipped. Raises ScoringError naming the file and line for a
    duplicate or empty FROM or bad UTF-8.
    """
    path = Path(path)
    base = Normalizer()
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for lineno, line in enumerate(read_lines(path), 1):
        if not line.strip() or line.lstrip().startswith(("#", ";;")):
            continue
        src, _, dst = line.partition("\t") if "\t" in line else line.strip().partition(" ")
        key, value = tuple(base(src).split()), tuple(base(dst).split())
        if not key:
            raise ScoringError(f"{path} line {lineno}: nothing to map from after normalisation: '{line.strip()}'")
        if key in out:
            raise ScoringError(f"{path} line {lineno}: '{' '.join(key)}' is mapped twice")
        out[key] = value
    return out


@dataclass(frozen=True)
class Normalizer:
    """Text normalisation applied to references and hypotheses alike before scoring.

    In order: lowercase; every Unicode punctuation character (category P: . , ; : ! ? " -
    brackets ...) becomes a space, except an apostrophe (' or U+2019) between two word
    characters, kept as ' (`don't`, but `'quoted'` -> `quoted`); whitespace collapsed;
    then `mapping` replaces word sequences (longest match first, left to right).
    """

    mapping: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    mapping_path: str | None = None

    def __call__(self, text: str) -> str:
        text = _INNER_APOSTROPHE.sub("\ue000", text.lower()).translate(_PUNCT).replace("\ue000", "'")
        words = text.split()
        if not self.mapping:
            return " ".join(words)
        longest = max(map(len, self.mapping))
        out, i = [], 0
        while i < len(words):
            for k in range(min(longest, len(words) - i), 0, -1):
                repl = self.mapping.get(tuple(words[i : i + k]))
                if repl is not None:
                    out += repl
                    i += k
                    break
            else:
                out.append(words[i])
                i += 1
        return " ".join(out)

    def describe(self) -> str:
        steps = "lowercase, punctuation removed (apostrophes inside words kept), whitespace collapsed"
        if self.mapping_path is not None:
            steps += f", word mapping {self.mapping_path} ({len(self.mapping)} entries)"
        return steps
