#!/usr/bin/env python3
"""en: BiLSTM-CTC on real English speech: the corpora a config lists, under one corpora root.

Stages (files each one reads -> writes, under --work-dir):
  0 prepare   <corpora root>/<each corpus> -> data/local/<name>/<part>/{wav.scp,text,...,prepare.log};
              data/dev = the utterances of corpus.dev_speakers, data/local/train = all the others,
              data/train = data/local/train + its perturbed copies (corpus.perturb: speed, rooms, channels, noise)
  1 features  data/<set>/wav.scp (+ utt2perturb) -> data/<set>/{feats.scp,utt2num_frames}, data/train/cmvn.stats
  2 tokens    data/{train,dev}/text -> data/lang/tokens.txt (the init model's with train.init_from)
  3 lm        lm_books.books_dir (public-domain books; any book sharing an 8-word run with a decode set's
              transcripts is left out) -> data/local/lm/books.txt{,.report}; that + data/train/text (the
              originals, not the perturbed copies) -> data/lang/{lm.arpa,lexicon.txt,lm_eval.txt}
  4 train     data/{train,dev}, data/lang -> exp/<tag>/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
  5 decode    exp/<tag>/model.pt, data/<decode set> -> exp/<tag>/decode_<set>_greedy/{text,hyp.trn,ctm}
  6 tune_lm   LM weights on dev -> exp/<tag>/{decoder.yaml,lm.arpa,lexicon.txt}, decode_<set>_lm/
  7 score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/<tag>/RESULTS.md

Corpora kinds (corpus.corpora[].kind): librispeech (any audio extension; `subsets`), an4 (`subsets` =
parts: train, test), vctk (`subsets` = speakers), commonvoice (`subsets` = TSV names, e.g. validated),
kaldi (a prepared data dir). Paths are relative to corpus.corpora_root (--corpora-root), which is
relative to the repository root: ../shared/corpora in this project's workspace.

Usage: python recipes/en/run.py [--config conf/default.yaml] [--corpora-root DIR] [--lm-books DIR] [--work-dir DIR] [--stage N]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.data.perturb import PerturbConfig, perturb_data_dir
from asr.data.segments import read_any_datadir, write_any_datadir
from asr.recipe.runner import Stage, recipe_main
from asr.recipe.stages import ModelStagesConfig
from asr.recipe.table import model_stages
from data_prep.common import DEFAULT_MAX_BAD_FRACTION, PrepError
from data_prep.sets import combine_data_dirs

RECIPE_DIR = Path(__file__).resolve().parent
REPO_DIR = RECIPE_DIR.parent.parent
KINDS = ("librispeech", "an4", "vctk", "commonvoice", "kaldi")

log = logging.getLogger("recipe")


@dataclass
class CorpusSpec:
    """One corpus under the corpora root, prepared into data/local/<name>/<part>."""

    name: str  # data/local/<name>
    kind: str  # one of KINDS
    path: str  # relative to corpora_root (or absolute)
    subsets: list[str] = field(default_factory=list)  # librispeech subsets, an4 parts, vctk speakers, cv TSVs


@dataclass
class RealCorpusConfig:
    corpora_root: str = "../shared/corpora"  # relative to the repository root; --corpora-root overrides
    corpora: list[CorpusSpec] = field(default_factory=list)
    dev_speakers: str = "splits/dev_speakers.txt"  # relative to corpora_root: these speakers are data/dev
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION
    perturb: PerturbConfig = field(default_factory=PerturbConfig)  # copies of data/local/train in data/train


@dataclass
class BookTextConfig:
    """Book text for the word LM (data_prep.lm_text), written to data/local/lm/books.txt."""

    books_dir: str = "../shared/lmtext/books"  # relative to the repository root; "" = transcripts only
    max_words: int = 0  # stop after this many words (0: every book)


@dataclass
class RecipeConfig(ModelStagesConfig):
    corpus: RealCorpusConfig = field(default_factory=RealCorpusConfig)
    lm_books: BookTextConfig = field(default_factory=BookTextConfig)
    decode_sets: list[str] = field(default_factory=lambda: ["dev"])


def corpora_root(cfg: RealCorpusConfig) -> Path:
    root = Path(cfg.corpora_root)
    return root if root.is_absolute() else (REPO_DIR / root).resolve()


def prepare_corpus(spec: CorpusSpec, root: Path, out: Path, max_bad: float, nj: int) -> list[Path]:
    """Prepare one corpus into out/<part> dirs; returns them."""
    from data_prep.an4 import prepare_an4
    from data_prep.commonvoice import prepare_commonvoice
    from data_prep.librispeech import prepare_librispeech
    from data_prep.vctk import prepare_vctk

    src = Path(spec.path) if Path(spec.path).is_absolute() else root / spec.path
    if spec.kind not in KINDS:
        raise PrepError(f"corpus '{spec.name}': kind {spec.kind!r} is not one of {', '.join(KINDS)}")
    if not src.exists():
        raise PrepError(f"corpus '{spec.name}': {src} does not exist (corpus.corpora_root is {root}; "
                        "give --corpora-root DIR)")
    subsets = spec.subsets or None
    if spec.kind == "librispeech":
        return [out / n for n in prepare_librispeech(src, out, subsets, max_bad, nj=nj)]
    if spec.kind == "an4":
        return [out / n for n in prepare_an4(src, out, subsets or ("train", "test"), max_bad, nj=nj)]
    if spec.kind == "vctk":
        prepare_vctk(src, out / "all", subsets, max_bad, nj=nj)
        return [out / "all"]
    if spec.kind == "commonvoice":
        return [out / n for n in prepare_commonvoice(src, out, None, subsets or ("train",), max_bad, nj=nj)]
    read_any_datadir(src, check_audio=False)
    return [src]


def split_by_speakers(src: Path, speakers: set[str], inside: Path, outside: Path) -> tuple[int, int]:
    """Write the utterances of `speakers` to `inside` and the others to `outside`; returns both counts."""
    data = read_any_datadir(src, check_audio=False)
    counts = []
    for dst, keep in ((inside, True), (outside, False)):
        part = type(data)()
        utts = [u for u in data.utts if (data.utt2spk[u] in speakers) == keep]
        for u in utts:
            part.text[u], part.utt2spk[u] = data.text[u], data.utt2spk[u]
            if hasattr(data, "segments"):
                part.segments[u] = data.segments[u]  # type: ignore[attr-defined]
                part.wav_scp[data.segments[u].recording] = data.wav_scp[data.segments[u].recording]  # type: ignore
            else:
                part.wav_scp[u] = data.wav_scp[u]
        if not utts:
            raise PrepError(f"{dst.name}: no utterances (dev speakers: {sorted(speakers)[:8]}...)")
        if dst.exists():
            shutil.rmtree(dst)
        write_any_datadir(dst, part)
        counts.append(len(utts))
    return counts[0], counts[1]


def prepare(cfg: RecipeConfig, work: Path) -> None:
    c, data = cfg.corpus, work / "data"
    root = corpora_root(c)
    if not c.corpora:
        raise PrepError("corpus.corpora is empty: list the corpora to train on (see conf/default.yaml)")
    parts = [p for spec in c.corpora
             for p in prepare_corpus(spec, root, data / "local" / spec.name, c.max_bad_fraction, cfg.nj)]
    combine_data_dirs(data / "local" / "all", parts)
    speakers_file = root / c.dev_speakers
    if not speakers_file.is_file():
        raise PrepError(f"corpus.dev_speakers: {speakers_file} does not exist")
    speakers = set(speakers_file.read_text().split())
    n_dev, n_train = split_by_speakers(data / "local" / "all", speakers, data / "dev", data / "local" / "train")
    log.info("data/dev: %d utterances of %d speakers (%s); data/local/train: %d utterances",
             n_dev, len(speakers), speakers_file, n_train)
    if (data / "train").exists():
        shutil.rmtree(data / "train")
    n = perturb_data_dir(data / "local" / "train", data / "train", c.perturb)
    log.info("data/train: %d utterances (%d with the perturbed copies of corpus.perturb)", n, n - n_train)


BOOK_TEXT = "local/lm/books.txt"  # relative to data/


def book_text(cfg: RecipeConfig, work: Path) -> None:
    """data/local/lm/books.txt from cfg.lm_books, leak-checked against every decode set's transcripts."""
    from data_prep.lm_text import make_lm_text, report_text

    data = work / "data"
    books = Path(cfg.lm_books.books_dir)
    books = books if books.is_absolute() else (REPO_DIR / books).resolve()
    if not books.is_dir():
        raise PrepError(f"lm_books.books_dir: {books} is not a folder (set it to \"\" for an LM on the transcripts only)")
    exclude = [data / s / "text" for s in dict.fromkeys(["dev", *cfg.decode_sets])]
    out = data / BOOK_TEXT
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    counts = make_lm_text(books, out, exclude, cfg.lm_books.max_words)
    Path(f"{out}.report").write_text(report_text(books, out, exclude, counts, time.time() - t0), encoding="utf-8")
    log.info("%s: %d sentences, %d words from %d books (%d left out: they share text with %s)", out, counts.sentences,
             counts.words, counts.books - len(counts.excluded), len(counts.excluded), ", ".join(map(str, exclude)))


def build_stages(cfg: RecipeConfig, work: Path, device: torch.device, command: str) -> list[Stage]:
    stages = model_stages(cfg, work, device, command)
    if cfg.lm_books.books_dir and "lm" in cfg.decoding.decoders:
        if BOOK_TEXT not in cfg.lm.extra_text:
            cfg.lm.extra_text.append(BOOK_TEXT)
        lm = next(s for s in stages if s.number == 3)
        build_lm = lm.run

        def lm_with_books() -> None:
            book_text(cfg, work)
            build_lm()

        lm.run, lm.settings = lm_with_books, {"lm": cfg.lm, "lm_books": cfg.lm_books}
    return [Stage(0, "prepare", lambda: prepare(cfg, work), settings={"corpus": cfg.corpus}, shared=True), *stages]


def main(argv: list[str] | None = None) -> None:
    def add_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--corpora-root", help="folder holding the corpora (overrides corpus.corpora_root)")
        parser.add_argument("--lm-books", help="folder of book texts for the word LM (overrides lm_books.books_dir; "
                                               "'' for the training transcripts only)")

    def apply_args(cfg: RecipeConfig, args: argparse.Namespace) -> None:
        if args.corpora_root:
            cfg.corpus.corpora_root = str(Path(args.corpora_root).resolve())
        if args.lm_books is not None:
            cfg.lm_books.books_dir = str(Path(args.lm_books).resolve()) if args.lm_books else ""

    recipe_main(__doc__, RECIPE_DIR, RecipeConfig, build_stages, argv, add_args, apply_args)


if __name__ == "__main__":
    main()
