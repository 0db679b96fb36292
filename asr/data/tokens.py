"""Token tables: blank is id 0; characters (`|` marks word boundaries), phones, or BPE pieces.

tokens.txt has one `<symbol> <id>` per line, ids 0..V-1 in order (icefall/k2 layout).

Three units, told apart by the symbols themselves, so a model directory needs no other file:

    char   <blk>, `|`, then characters          "ab c" -> a b | c    (build_token_table)
    phone  <blk>, then phone symbols            "sil sh iy" -> sil sh iy  (build_phone_token_table)
    bpe    <blk>, then sentencepiece pieces     "the cat" -> ▁the ▁c at  (build_bpe_token_table)

read_tokens infers the unit: bpe when a symbol starts with `▁` (U+2581), char when every symbol
after the blank is one character, phone otherwise. A BPE table encodes without sentencepiece:
sentencepiece's BPE model merges the adjacent pair whose merged piece has the best score, and
its scores fall with the piece id, so the ids in tokens.txt are the merge priorities.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from asr.errors import AsrError

BLANK = "<blk>"
WORD_SEP = "|"
BPE_WORD_START = "\u2581"  # sentencepiece's '▁': the piece starts a word
UNITS = ("char", "phone", "bpe")


class TokenError(AsrError, ValueError):
    """Text contains a symbol the token table cannot encode, or tokens.txt is malformed."""


@dataclass(frozen=True)
class TokenTable:
    symbols: tuple[str, ...]  # symbols[i] is the token with id i; symbols[0] == BLANK
    unit: str = "char"  # char, phone or bpe (see the module docstring)

    def __post_init__(self) -> None:
        if not self.symbols or self.symbols[0] != BLANK:
            raise TokenError(f"token 0 must be the blank '{BLANK}'")
        if self.unit not in UNITS:
            raise TokenError(f"unknown token unit {self.unit!r}; expected one of {', '.join(UNITS)}")
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.symbols)})
        object.__setattr__(self, "_bpe_cache", {})

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def word_sep_id(self) -> int:
        return self._index[WORD_SEP]  # type: ignore[attr-defined]

    def encode(self, text: str, utt: str | None = None) -> list[int]:
        """Text -> token ids [L]; words are joined by the word-boundary token.

        A phone table reads each whitespace-separated symbol as one token; a BPE table
        splits each word into pieces, the first of them starting with `▁`.
        """
        index = self._index  # type: ignore[attr-defined]
        if self.unit == "phone":
            return [self._lookup(p, text, utt, "phone") for p in text.split()]
        if self.unit == "bpe":
            return [i for word in text.split() for i in self._encode_bpe_word(word, text, utt)]
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

    def _lookup(self, symbol: str, text: str, utt: str | None, what: str) -> int:
        index = self._index  # type: ignore[attr-defined]
        if symbol not in index:
            where = f"utt '{utt}': " if utt else ""
            raise TokenError(f"{where}{what} {symbol!r} in {text!r} is not in the token table")
        return index[symbol]

    def _encode_bpe_word(self, word: str, text: str, utt: str | None) -> list[int]:
        """One word -> piece ids: merge the adjacent pair with the lowest merged id, leftmost first."""
        cache = self._bpe_cache  # type: ignore[attr-defined]
        if word not in cache:
            index = self._index  # type: ignore[attr-defined]
            parts = list(BPE_WORD_START + word)
            while len(parts) > 1:
                best, at = None, -1
                for i in range(len(parts) - 1):
                    rank = index.get(parts[i] + parts[i + 1])
                    if rank is not None and (best is None or rank < best):
                        best, at = rank, i
                if best is None:
                    break
                parts[at : at + 2] = [parts[at] + parts[at + 1]]
            cache[word] = [self._lookup(p, text, utt, "character") for p in parts]
        return cache[word]

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids (already collapsed, no blanks) -> text with single spaces."""
        syms = [self.symbols[i] for i in ids if i != 0]
        if self.unit == "phone":
            return " ".join(syms)
        if self.unit == "bpe":
            return " ".join("".join(syms).replace(BPE_WORD_START, " ").split())
        return " ".join("".join(syms).replace(WORD_SEP, " ").split())


def build_token_table(texts: Iterable[str]) -> TokenTable:
    """Blank, word boundary, then every character seen in `texts`, sorted."""
    chars = sorted({ch for t in texts for ch in t if not ch.isspace()})
    if WORD_SEP in chars:
        raise TokenError(f"the word-boundary symbol {WORD_SEP!r} appears in the text")
    return TokenTable((BLANK, WORD_SEP, *chars))


def build_phone_token_table(texts: Iterable[str]) -> TokenTable:
    """Blank, then every whitespace-separated symbol seen in `texts`, sorted (e.g. TIMIT phones)."""
    phones = sorted({p for t in texts for p in t.split()})
    if BLANK in phones:
        raise TokenError(f"the blank symbol {BLANK!r} appears in the text")
    table = TokenTable((BLANK, *phones), unit="phone")
    if infer_unit(table.symbols) != "phone":
        raise TokenError(
            f"every phone symbol is one character ({' '.join(phones[:10])} ...), so tokens.txt "
            "would read back as a character table; use symbols of two or more characters"
        )
    return table


def build_bpe_token_table(pieces: Iterable[str]) -> TokenTable:
    """Blank, then sentencepiece BPE pieces in the model's id order (pieces[0], its <unk>, is dropped).

    The order matters: it is the merge priority that `encode` uses.
    """
    pieces = list(pieces)
    if not pieces or pieces[0] != "<unk>":
        raise TokenError("expected the sentencepiece pieces in id order, starting with '<unk>' (unk_id=0)")
    return TokenTable((BLANK, *pieces[1:]), unit="bpe")


def infer_unit(symbols: Iterable[str]) -> str:
    """'bpe' if a symbol starts with '▁', 'char' if all symbols after the blank are one character, else 'phone'."""
    rest = list(symbols)[1:]
    if any(s.startswith(BPE_WORD_START) for s in rest):
        return "bpe"
    return "char" if all(len(s) == 1 for s in rest) else "phone"


def write_tokens(path: str | Path, table: TokenTable) -> None:
    Path(path).write_text("".join(f"{s} {i}\n" for i, s in enumerate(table.symbols)), encoding="utf-8")


def read_tokens(path: str | Path, unit: str | None = None) -> TokenTable:
    """Read tokens.txt; errors name the file and line. `unit` None infers it (see infer_unit)."""
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
    return TokenTable(tuple(symbols), unit=unit or infer_unit(symbols))
