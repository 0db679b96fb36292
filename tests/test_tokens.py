"""Tests for asr/data/tokens.py: the character table, encode/decode, and tokens.txt."""

from __future__ import annotations

import pytest

from asr.data.tokens import (
    BLANK,
    WORD_SEP,
    TokenError,
    TokenTable,
    build_token_table,
    read_tokens,
    write_tokens,
)

TEXTS = ["hello world", "good morning", "yes it's"]


def test_build_blank_first_then_word_sep_then_sorted_chars():
    table = build_token_table(TEXTS)
    assert table.symbols[0] == BLANK and table.blank_id == 0
    assert table.symbols[1] == WORD_SEP and table.word_sep_id == 1
    chars = list(table.symbols[2:])
    assert chars == sorted(set("".join(TEXTS).replace(" ", "")))
    assert len(table) == 2 + len(chars)


def test_encode_decode_round_trip_with_word_boundary():
    table = build_token_table(TEXTS)
    ids = table.encode("hello  world")  # extra spaces do not make empty words
    assert 0 not in ids
    assert ids.count(table.word_sep_id) == 1
    assert ids[5] == table.word_sep_id and len(ids) == 11
    assert [table.symbols[i] for i in ids[:5]] == list("hello")
    assert table.decode(ids) == "hello world"
    for text in TEXTS:
        assert table.decode(table.encode(text)) == text


def test_decode_drops_blanks_and_normalises_boundaries():
    table = build_token_table(["ab"])
    a, b, sep = table.encode("a")[0], table.encode("b")[0], table.word_sep_id
    assert table.decode([0, a, 0, sep, sep, b, 0]) == "a b"
    assert table.decode([sep, a, sep]) == "a"
    assert table.decode([]) == ""


def test_unknown_character_names_utterance():
    table = build_token_table(["abc"])
    with pytest.raises(TokenError) as e:
        table.encode("ab x", utt="spk1-007")
    assert "spk1-007" in str(e.value) and "'x'" in str(e.value)


def test_word_separator_in_text_is_refused():
    with pytest.raises(TokenError, match=r"'\|'"):
        build_token_table(["a|b"])


def test_table_requires_blank_first():
    with pytest.raises(TokenError):
        TokenTable(("a", BLANK))


def test_write_read_round_trip(tmp_path):
    table = build_token_table(TEXTS)
    path = tmp_path / "tokens.txt"
    write_tokens(path, table)
    lines = path.read_text().splitlines()
    assert lines[:2] == [f"{BLANK} 0", f"{WORD_SEP} 1"]
    assert all(line.split()[1] == str(i) for i, line in enumerate(lines))
    assert read_tokens(path) == table


def _tokens_file(tmp_path, lines: list[str]):
    path = tmp_path / "tokens.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("bad", ["a", "a 2 x", "a two", "a -2"])
def test_read_tokens_malformed_line_names_file_and_line(tmp_path, bad):
    path = _tokens_file(tmp_path, [f"{BLANK} 0", "| 1", bad])
    with pytest.raises(TokenError) as e:
        read_tokens(path)
    assert f"{path} line 3" in str(e.value)


def test_read_tokens_ids_out_of_order_names_file_and_line(tmp_path):
    path = _tokens_file(tmp_path, [f"{BLANK} 0", "| 1", "a 2", "b 4"])
    with pytest.raises(TokenError) as e:
        read_tokens(path)
    assert f"{path} line 4" in str(e.value)


def test_read_tokens_blank_not_first_names_file(tmp_path):
    path = _tokens_file(tmp_path, ["a 0", f"{BLANK} 1"])
    with pytest.raises(TokenError) as e:
        read_tokens(path)
    assert str(path) in str(e.value) and "line 1" in str(e.value)


def test_read_tokens_duplicate_symbol_names_file_and_line(tmp_path):
    # Two ids for one symbol make encode and decode disagree; the file must be refused.
    path = _tokens_file(tmp_path, [f"{BLANK} 0", "| 1", "a 2", "b 3", "a 4"])
    with pytest.raises(TokenError) as e:
        read_tokens(path)
    assert f"{path} line 5" in str(e.value)
