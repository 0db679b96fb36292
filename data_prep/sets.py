"""Data sets of a recipe: hash splits, the corpus section of a recipe config, and combining prepared
data dirs into data/<set> (Kaldi's combine_data.sh)."""

from __future__ import annotations

import argparse
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from asr.data.datadir import DataDir
from asr.data.segments import Segment, SegmentedDataDir, read_any_datadir, write_any_datadir
from data_prep.prep_report import DEFAULT_MAX_BAD_FRACTION, PrepError

log = logging.getLogger(__name__)



def hash_fraction(key: str, salt: str = "") -> float:
    """A number in [0, 1) from the SHA-1 of `salt + key`: the same on every machine and run."""
    return int.from_bytes(hashlib.sha1((salt + key).encode("utf-8")).digest()[:8], "big") / 2.0**64


def hash_split(keys: Iterable[str], dev_fraction: float, test_fraction: float, salt: str = "") -> dict[str, str]:
    """key -> 'train', 'dev' or 'test' by hash_fraction, so adding keys never moves the others.

    A set with a positive fraction that comes out empty takes the train key with the lowest hash
    (logged), so a small corpus still gets a dev and a test utterance.
    """
    keys = sorted(set(keys))
    u = {k: hash_fraction(k, salt) for k in keys}
    out = {k: "test" if u[k] < test_fraction else "dev" if u[k] < test_fraction + dev_fraction else "train" for k in keys}
    for name, frac in (("test", test_fraction), ("dev", dev_fraction)):
        train = sorted((k for k in keys if out[k] == "train"), key=lambda k: u[k])
        if frac > 0 and name not in out.values() and len(train) > 1:
            out[train[0]] = name
            log.warning("hash split gave %s no items; moved '%s' there", name, train[0])
    return out


@dataclass
class SetSpec:
    """A data set the recipe uses (data/<name>) and the prepared parts it combines."""

    name: str  # e.g. train, dev, test_clean
    parts: list[str] = field(default_factory=list)  # prepared dirs under data/local, e.g. [train_clean_100]


@dataclass
class CorpusConfig:
    """The corpus section of a recipe config: where the corpus is and which data sets to make."""

    corpus_dir: str = "corpus"  # the corpus (relative: under --work-dir); recipes take --corpus-dir too
    download: bool = False  # fetch the public archives into corpus_dir first (checksummed, resumable)
    max_bad_fraction: float = DEFAULT_MAX_BAD_FRACTION  # stop when more of a set's items are bad
    sets: list[SetSpec] = field(default_factory=list)  # data/<name> = its prepared parts combined


def corpus_dir_option(flag: str, help: str) -> tuple[Callable, Callable]:
    """(add_args, apply_args) for asr.recipe.runner.recipe_main: `flag PATH` overrides cfg.corpus.corpus_dir."""
    dest = flag.lstrip("-").replace("-", "_")

    def add_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(flag, dest=dest, help=help)

    def apply_args(cfg, args: argparse.Namespace) -> None:
        if getattr(args, dest):
            cfg.corpus.corpus_dir = str(Path(getattr(args, dest)).resolve())

    return add_args, apply_args


def combine_data_dirs(out_dir: str | Path, src_dirs: list[Path]) -> DataDir:
    """Kaldi's combine_data.sh: union of data dirs (utterance ids must not repeat); segments kept."""
    datas = [read_any_datadir(d, check_audio=False) for d in src_dirs]
    segmented = any(isinstance(d, SegmentedDataDir) for d in datas)
    out: DataDir = SegmentedDataDir() if segmented else DataDir()
    seen: dict[str, Path] = {}
    for src, d in zip(src_dirs, datas):
        for utt in d.utts:
            if utt in seen:
                raise PrepError(f"cannot combine {seen[utt]} and {src}: both have utterance '{utt}'")
            seen[utt] = src
        out.text.update(d.text)
        out.utt2spk.update(d.utt2spk)
        if isinstance(out, SegmentedDataDir):
            for rec, path in d.wav_scp.items():
                if out.wav_scp.get(rec, path) != path:
                    raise PrepError(f"cannot combine {src}: recording '{rec}' is another file elsewhere")
            out.wav_scp.update(d.wav_scp)
            if isinstance(d, SegmentedDataDir):
                out.segments.update(d.segments)
            else:  # whole files become segments that span them
                out.segments.update({u: Segment(u, 0.0, -1.0) for u in d.wav_scp})
        else:
            out.wav_scp.update(d.wav_scp)
    write_any_datadir(out_dir, out)
    read_any_datadir(out_dir, check_audio=False)
    return out


def assemble_sets(prepared_root: str | Path, data_root: str | Path, sets: list[SetSpec]) -> None:
    """Write data_root/<set.name> as the combination of prepared_root/<part> for each set."""
    prepared_root, data_root = Path(prepared_root), Path(data_root)
    for spec in sets:
        missing = [p for p in spec.parts if not (prepared_root / p / "wav.scp").is_file()]
        if not spec.parts or missing:
            raise PrepError(
                f"set '{spec.name}': prepared part(s) {missing or '(none given)'} not found in {prepared_root}; "
                f"prepared: {sorted(p.name for p in prepared_root.iterdir() if (p / 'wav.scp').is_file())}"
            )
        data = combine_data_dirs(data_root / spec.name, [prepared_root / p for p in spec.parts])
        log.info("data/%s = %s: %d utterances, %d speakers", spec.name, " + ".join(spec.parts), len(data.utts),
                 len(data.spk2utt))
