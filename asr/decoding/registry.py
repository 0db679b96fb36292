"""The decoders by name: what `--decoder`, `decoding.decoders`, decoder.yaml's `kind`, the recipe's decode
and LM tuning stages and RESULTS.md columns all read.

    entry = DECODERS["lm"]                   # DecoderEntry: name, options, label, summary, builder
    decoder = entry.build(cfg, tokens, base_dir)   # imports the implementation only now (torch, flashlight)

A new decoder is its module (a Decoder subclass and a `build(cfg, tokens, base_dir)` function) and one
entry below; the options it reads are DecoderConfig fields (new ones are added there, each one settable
in configs, decoder.yaml and as an `asr transcribe --option` flag, which the CLI makes from the fields).
This module imports no torch, so `asr --help` and `asr score` start at once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from asr.decoding.base import DecoderConfig, DecoderError

if TYPE_CHECKING:
    from asr.data.tokens import TokenTable
    from asr.decoding.base import Decoder


@dataclass(frozen=True)
class DecoderEntry:
    name: str  # `kind` in DecoderConfig and decoder.yaml, `--decoder NAME`, decoding.decoders[]
    options: tuple[str, ...]  # the DecoderConfig fields it reads (the others are ignored for it)
    builder: str  # "module:function" with the signature of build() below, imported when first used
    label: str  # its RESULTS.md column
    summary: str  # one line for --help
    uses_lm: bool = False  # reads the word LM and lexicon, so its weights are tuned on dev (recipe stage tune_lm)

    def build(self, cfg: DecoderConfig, tokens: TokenTable, base_dir: str | Path | None = None) -> Decoder:
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(cfg, tokens, base_dir)


DECODERS: dict[str, DecoderEntry] = {}


def register(entry: DecoderEntry) -> DecoderEntry:
    """Add a decoder; its options must be DecoderConfig fields and its name new."""
    known = {f.name for f in fields(DecoderConfig)} - {"kind"}
    unknown = [o for o in entry.options if o not in known]
    if unknown or entry.name in DECODERS:
        raise ValueError(f"decoder {entry.name!r}: " + (f"options {unknown} are not DecoderConfig fields" if unknown
                                                         else "registered twice"))
    DECODERS[entry.name] = entry
    return entry


def decoder_entry(name: str) -> DecoderEntry:
    """The entry of `name`, or DecoderError listing the names there are."""
    if name not in DECODERS:
        raise DecoderError(f"unknown decoder {name!r}; choose one of {', '.join(DECODERS)}")
    return DECODERS[name]


def used_by(option: str) -> list[str]:
    """The decoders that read DecoderConfig field `option` (for --help)."""
    return [e.name for e in DECODERS.values() if option in e.options]


def build_decoder(cfg: DecoderConfig, tokens: TokenTable, base_dir: str | Path | None = None) -> Decoder:
    """The decoder cfg.kind names, built from cfg; relative LM/lexicon paths resolve against base_dir.

    An LM decoder reads (and checks) its ARPA file and lexicon here, so errors come before any audio."""
    return decoder_entry(cfg.kind).build(cfg, tokens, base_dir)


register(DecoderEntry("greedy", (), "asr.decoding.greedy:build", "greedy", "best token per frame"))
register(DecoderEntry("beam", ("beam", "nbest"), "asr.decoding.beam_search:build", "beam",
                      "CTC prefix beam search, no LM"))
register(DecoderEntry("lm", ("lm", "lexicon", "lm_weight", "word_score", "unk_score", "lm_beam", "beam_threshold",
                             "beam_size_token", "nbest"), "asr.decoding.flashlight:build", "beam+LM",
                      "beam search with the word n-gram LM and, unless lexicon is empty, the lexicon (flashlight)",
                      uses_lm=True))
