"""Character token table: blank is id 0, `|` marks word boundaries.

tokens.txt has one `<symbol> <id>` per line, ids 0..V-1 in order (icefall/k2 layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

BLANK = "<blk>"
WORD_SEP = "|"


class TokenError(ValueError):
    """Text contains a symbol the token table cannot encode, or tokens.txt is malformed."""


@dataclass(frozen=True)
class TokenTable:
    symbols: tuple[str, ...]  # symbols[i] is the token with id i; symbols[0] == BLANK

    def __post_init__(self) -> None:
        if not self.symbols or self.symbols[0] != BLANK:
            raise TokenError(f"token 0 must be the blank '{BLANK}'")
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.symbols)})

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def word_sep_id(self) -> int:
        return self._index[WORD_SEP]  # type: ignore[attr-defined]

    def encode(self, text: str, utt: str | None = None) -> list[int]:
        """Text -> token ids [L]; words are joined by the word-boundary token."""
        index = self._index  # type: ignore[attr-defined]
        ids: list[int] = []
        for w, word in enumerate(text.split()):
            if w:
                ids.append(index[WORD_SEP])
            for ch in word:
                if ch not in index:
                    where = f"utt '{utt}': " if utt else ""
                    raise TokenError(f"{where}character {ch!r} in {text!r} is not in the token table")
                ids.append(index[ch])
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids (already collapsed, no blanks) -> text with single spaces."""
        chars = [self.symbols[i] for i in ids if i != 0]
        return " ".join("".join(chars).replace(WORD_SEP, " ").split())


def build_token_table(texts: Iterable[str]) -> TokenTable:
    """Blank, word boundary, then every character seen in `texts`, sorted."""
    chars = sorted({ch for t in texts for ch in t if not ch.isspace()})
    if WORD_SEP in chars:
        raise TokenError(f"the word-boundary symbol {WORD_SEP!r} appears in the text")
    return TokenTable((BLANK, WORD_SEP, *chars))


def write_tokens(path: str | Path, table: TokenTable) -> None:
    Path(path).write_text("".join(f"{s} {i}\n" for i, s in enumerate(table.symbols)), encoding="utf-8")


def read_tokens(path: str | Path) -> TokenTable:
    """Read tokens.txt; errors name the file and line."""
    symbols: list[str] = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise TokenError(f"{path} line {lineno}: expected '<symbol> <id>', got {line!r}")
        if lineno == 1 and parts[0] != BLANK:
            raise TokenError(f"{path} line 1: token 0 must be the blank '{BLANK}', got {parts[0]!r}")
        if parts[0] in symbols:
            raise TokenError(f"{path} line {lineno}: duplicate symbol {parts[0]!r}")
        if int(parts[1]) != len(symbols):
            raise TokenError(f"{path} line {lineno}: ids must be 0..V-1 in order, got {parts[1]}")
        symbols.append(parts[0])
    return TokenTable(tuple(symbols))
