"""Tests for data_prep.gcide_text on a small dictd database laid out as Debian's dict-gcide is."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from data_prep import gcide_text
from data_prep.gcide_text import (
    entry_sentences,
    gcide_entries,
    gcide_sentences,
    without_sentences,
)

# Entries copied in form from gcide.dict.dz: a headword line with its pronunciation between backslashes,
# nested bracketed etymologies, {links}, numbered senses, indented quotations ending in "--Author.",
# subject labels, "as," usage examples, source lines, a synonym list, GCIDE's '?' for a lost letter.
AFFECT = """Affect \\Af*fect"\\, v. t. [imp. & p. p. {Affected}; p. pr. & vb.
   n. {Affecting}.] [L. affectus, p. p. of afficere to affect by
   active agency; ad + facere to make: cf. F. affectere. See {Fact}.]
   1. To act upon; to produce an effect or change upon.
      [1913 Webster]

            The climate affected their health and spirits.
                                                  --Macaulay.
      [1913 Webster]

   2. To make a show of; to put on a pretense of; to feign; to
      assume; as, to affect ignorance.
      [1913 Webster]

            This proud man affects imperial ?way. --Dryden.
      [1913 Webster]
"""
AFFEAR = """Affear \\Af*fear"\\, v. t. [OE. aferen, AS. [=a]f?ran. See
   {Afeard}.]
   To frighten the wild birds away. [Obs.] --Spenser.
   [1913 Webster]
"""
DILUENT = """Diluent \\Dil"u*ent\\, n.
   1. (Med.) An agent used for effecting dilution of the blood;
      a weak drink.
      [1913 Webster]

   Syn: thinner, solvent, dissolving agent
        [WordNet 1.5 +PJC]
"""
HEADER = """00-database-short
   The Collaborative International Dictionary of English v.0.48
"""


def _number(n: int) -> str:
    digits = ""
    while True:
        digits = gcide_text._B64[n % 64] + digits
        n //= 64
        if n == 0:
            return digits


def write_dictd(root: Path, entries: list[tuple[list[str], str]]) -> Path:
    """gcide.dict.dz + gcide.index under root: each entry's text once, indexed under each of its headwords."""
    data, index = b"", []
    for heads, text in entries:
        raw = text.encode("utf-8")
        index += [f"{h}\t{_number(len(data))}\t{_number(len(raw))}" for h in heads]
        data += raw
    (root / "gcide.index").write_text("\n".join(sorted(index)) + "\n", encoding="utf-8")
    path = root / "gcide.dict.dz"
    path.write_bytes(gzip.compress(data))
    return path


def test_entries_come_once_each_without_the_headers(tmp_path: Path) -> None:
    path = write_dictd(tmp_path, [(["00-database-short"], HEADER), (["Affect", "affect"], AFFECT), (["Affear"], AFFEAR)])
    entries = list(gcide_entries(path))
    assert sorted(e.split(" ")[0] for e in entries) == ["Affear", "Affect"]


def test_entry_sentences_keep_definitions_quotations_and_examples() -> None:
    assert entry_sentences(AFFECT) == [
        "to act upon",
        "to produce an effect or change upon",
        "the climate affected their health and spirits",  # quotation, without "--Macaulay."
        "to make a show of",
        "to put on a pretense of",
        "to affect ignorance",  # the usage example after "as,"
    ]  # no etymology, no "to feign"/"assume" (too short), no "?way"


def test_nested_brackets_labels_and_synonym_lists_are_dropped() -> None:
    assert entry_sentences(AFFEAR) == ["to frighten the wild birds away"]
    assert entry_sentences(DILUENT) == ["an agent used for effecting dilution of the blood", "a weak drink"]


def test_sentences_are_unique_and_sorted(tmp_path: Path) -> None:
    path = write_dictd(tmp_path, [(["Affect"], AFFECT), (["Affect2"], AFFECT.replace("Macaulay", "Burke"))])
    sentences = gcide_sentences(path)
    assert sentences == sorted(set(sentences)) and "to act upon" in sentences


def test_sentences_holding_a_held_out_one_are_dropped() -> None:
    held = {"he drove away bad thoughts"}
    sentences = ["as when he drove away bad thoughts at night", "he drove away", "bad thoughts drove him"]
    assert without_sentences(sentences, held) == ["he drove away", "bad thoughts drove him"]


def test_missing_dictionary_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dict-gcide"):
        list(gcide_entries(tmp_path / "gcide.dict.dz"))


def test_malformed_index_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_dictd(tmp_path, [(["Affect"], AFFECT)])
    (tmp_path / "gcide.index").write_text("Affect\tA\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"gcide.index:1"):
        list(gcide_entries(path))
