"""Voices against hours: train on subsets of a recipe's training set and score speaker groups apart.

Two ablations, each a pair of work dirs whose data/train are subsets of the same number of utterances
of a finished work dir's data/train (features, text and speakers; every other data set and data/lang
are links to the source's):

    python docs/experiments/synth_en/voice_ablation.py voices SRC_WORK_DIR OUT_DIR
        OUT_DIR/half_voices: a seeded half of the voices of each engine (the speaker id's first field:
        espeak, festival, ...), every utterance of them; OUT_DIR/all_voices: as many utterances, spread
        evenly over every voice. Same hours, twice the voices.
    python docs/experiments/synth_en/voice_ablation.py kokoro SRC_WORK_DIR OUT_DIR --utts 7200 [--kokoro 1200]
        OUT_DIR/no_kokoro: --utts utterances spread evenly over the voices that are not Kokoro blends;
        OUT_DIR/kokoro: every Kokoro-blend utterance (`kokoro-*` speakers) and the rest from the others
        (OUT_DIR/kokoro_1200 with --kokoro 1200: a seeded sample of that many of them).

Each dir then trains and decodes with the recipe (`run.py --config conf/default.yaml --work-dir DIR
--stage 4 --stop-stage 7`), and `score` prints greedy CER and tuned (beam+LM) WER % per set for speaker
groups, each given as NAME=PATTERN,PATTERN (fnmatch patterns of speaker ids; a speaker no group takes
is in `train` when that dir's data/train holds it, else in `other`):

    python docs/experiments/synth_en/voice_ablation.py score OUT_DIR/half_voices OUT_DIR/all_voices \\
        --sets test --group heldout=pico-en-gb,espeak-mb-en1,festival-en1-mbrola,rhvoice-bdl,hibari-heart

Results: docs/experiments/synth_en/README.md ("How much do more voices buy?", "Kokoro blends at the same hours").
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import random
import shutil
from pathlib import Path

from asr.data.datadir import read_table, spk2utt_from_utt2spk, write_table
from asr.scoring.wer import score

TRAIN_TABLES = ("feats.scp", "text", "utt2spk", "utt2num_frames", "wav.scp")
FRAMES_PER_HOUR = 360_000  # 10 ms frames


def _spread(rng: random.Random, by_voice: dict[str, list[str]], voices: list[str], n: int) -> list[str]:
    """n utterances, as even over `voices` (in this order) as they allow: each voice's sorted
    utterances shuffled by `rng`, the first `n // len(voices)` (one more for the first `n % len`)."""
    per, extra = divmod(n, len(voices))
    out: list[str] = []
    for i, v in enumerate(voices):
        utts = sorted(by_voice[v])
        rng.shuffle(utts)
        out += utts[: per + (i < extra)]
    if len(out) < n:  # the pair would differ in hours, which is what it holds equal
        raise SystemExit(f"only {len(out)} of {n} utterances: some of the {len(voices)} voices have fewer than {per + 1}")
    return out


def write_subset(src: Path, dst: Path, utts: list[str]) -> float:
    """DST/data/train = SRC/data/train's rows for `utts` (+ its cmvn.stats); every other entry of
    SRC/data linked (the tables hold absolute paths: stages 4-7 need no corpus folder). Returns the
    subset's hours."""
    keep = set(utts)
    train = dst / "data" / "train"
    train.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name in TRAIN_TABLES:
        if (src / "data" / "train" / name).exists():
            tables[name] = {u: v for u, v in read_table(src / "data" / "train" / name).items() if u in keep}
            write_table(train / name, tables[name])
    write_table(train / "spk2utt", {s: " ".join(us) for s, us in spk2utt_from_utt2spk(tables["utt2spk"]).items()})
    shutil.copy(src / "data" / "train" / "cmvn.stats", train / "cmvn.stats")
    for entry in sorted((src / "data").iterdir()):
        if entry.name != "train" and not (dst / "data" / entry.name).exists():
            os.symlink(entry.resolve(), dst / "data" / entry.name)
    return sum(int(f) for f in tables["utt2num_frames"].values()) / FRAMES_PER_HOUR


def _by_voice(src: Path) -> dict[str, list[str]]:
    return spk2utt_from_utt2spk(read_table(src / "data" / "train" / "utt2spk"))


def voices_subsets(src: Path, seed: int = 0) -> dict[str, list[str]]:
    """{'half_voices': utts, 'all_voices': utts}, the same number of each (see the module docstring)."""
    by_voice = _by_voice(src)
    families: dict[str, list[str]] = {}
    for v in sorted(by_voice):
        families.setdefault(v.split("-")[0], []).append(v)
    rng = random.Random(seed)
    half: list[str] = []
    for _, voices in sorted(families.items()):
        voices = voices[:]
        rng.shuffle(voices)
        half += voices[: (len(voices) + 1) // 2]
    half_utts = [u for v in half for u in by_voice[v]]
    return {"half_voices": half_utts, "all_voices": _spread(rng, by_voice, sorted(by_voice), len(half_utts))}


def kokoro_subsets(src: Path, utts: int, seed: int = 0, kokoro_utts: int | None = None) -> dict[str, list[str]]:
    """{'no_kokoro': utts, 'kokoro' (or 'kokoro_<kokoro_utts>'): utts}, `utts` of each (see the module
    docstring); no_kokoro is the same whatever `kokoro_utts`."""
    by_voice = _by_voice(src)
    kokoro = sorted(u for v, us in by_voice.items() if v.startswith("kokoro-") for u in us)
    others = sorted(v for v in by_voice if not v.startswith("kokoro-"))
    if kokoro_utts is not None and not 0 < kokoro_utts <= len(kokoro):
        raise SystemExit(f"--kokoro {kokoro_utts}: {src}/data/train has {len(kokoro)} Kokoro-blend utterances")
    if not kokoro or (kokoro_utts or len(kokoro)) >= utts:
        raise SystemExit(f"{src}/data/train: {len(kokoro)} Kokoro-blend utterances (--kokoro {kokoro_utts}); "
                         "--utts must be more than the second set takes of them")
    rng = random.Random(seed)
    no_kokoro = _spread(rng, by_voice, others, utts)
    name = "kokoro"
    if kokoro_utts is not None:
        kokoro, name = rng.sample(kokoro, kokoro_utts), f"kokoro_{kokoro_utts}"
    return {"no_kokoro": no_kokoro, name: _spread(rng, by_voice, others, utts - len(kokoro)) + kokoro}


def group_scores(exp: Path, data: Path, sets: list[str], groups: dict[str, list[str]],
                 train_voices: set[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """{set: {group: (greedy CER %, beam+LM WER %)}} from EXP/decode_<set>_{greedy,lm}/text."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for s in sets:
        refs = read_table(data / s / "text", allow_empty_value=True)
        spk = read_table(data / s / "utt2spk")
        hyps = {dec: read_table(exp / f"decode_{s}_{dec}" / "text", allow_empty_value=True, check_sorted=False)
                for dec in ("greedy", "lm")}
        members: dict[str, set[str]] = {}
        for u in refs:
            name = next((g for g, pats in groups.items() if any(fnmatch.fnmatchcase(spk[u], p) for p in pats)),
                        "train" if spk[u] in train_voices else "other")
            members.setdefault(name, set()).add(u)
        out[s] = {}
        for name, us in sorted(members.items()):
            ref = {u: refs[u] for u in us}
            cer = score(ref, {u: hyps["greedy"].get(u, "") for u in us}, char_level=True).total.wer
            wer = score(ref, {u: hyps["lm"].get(u, "") for u in us}).total.wer
            out[s][name] = (cer, wer)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("voices", "kokoro"):
        q = sub.add_parser(name, help=f"make the '{name}' pair of work dirs")
        q.add_argument("src", type=Path, help="a work dir after the features stage (data/train/feats.scp)")
        q.add_argument("out", type=Path, help="where the two work dirs go")
        q.add_argument("--seed", type=int, default=0, help="the subsets' random seed")
        if name == "kokoro":
            q.add_argument("--utts", type=int, required=True, help="training utterances in each subset")
            q.add_argument("--kokoro", type=int, help="Kokoro-blend utterances in the second (default: all)")
    q = sub.add_parser("score", help="greedy CER and tuned WER per speaker group of decoded work dirs")
    q.add_argument("work", type=Path, nargs="+", help="work dirs after stage 7 (the model in exp/<--tag>)")
    q.add_argument("--tag", default="bilstm", help="the config's tag: the model is WORK/exp/TAG")
    q.add_argument("--sets", nargs="+", default=["test"], help="data sets to score")
    q.add_argument("--group", action="append", default=[], metavar="NAME=PAT,PAT",
                   help="a speaker group (fnmatch patterns of speaker ids); repeat for more")
    a = p.parse_args(argv)
    if a.cmd == "score":
        groups = {}
        for g in a.group:
            name, _, pats = g.partition("=")
            groups[name] = pats.split(",")
        print("| work dir | set | group | greedy CER % | beam+LM WER % |")
        print("|---|---|---|---|---|")
        for w in a.work:
            train_voices = set(read_table(w / "data" / "train" / "spk2utt"))
            for s, rows in group_scores(w / "exp" / a.tag, w / "data", a.sets, groups, train_voices).items():
                for name, (cer, wer) in rows.items():
                    print(f"| {w.name} | {s} | {name} | {cer:.2f} | {wer:.2f} |")
        return
    subsets = voices_subsets(a.src, a.seed) if a.cmd == "voices" else kokoro_subsets(a.src, a.utts, a.seed, a.kokoro)
    for name, utts in subsets.items():
        hours = write_subset(a.src, a.out / name, utts)
        voices = len(read_table(a.out / name / "data" / "train" / "spk2utt"))
        print(f"{a.out / name}: {len(utts)} utterances, {hours:.2f} h, {voices} voices")


if __name__ == "__main__":
    main()
