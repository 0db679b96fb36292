"""Time asr.scoring.wer.score against jiwer.process_words and NIST sclite on the same pairs, in one run.

The pairs look like ASR output: references of 10-20 words drawn from a Zipfian vocabulary,
hypotheses with about 7% substitutions, 3% deletions and 2% insertions (override with
--ref/--hyp files). Timed, best of --repeats:

    asr score    `score(refs, hyps)`: dicts in, counts per utterance/speaker and alignments out
    jiwer        `jiwer.process_words(refs, hyps)`: lists in, counts and alignments out
    sclite       `sclite -r ref.trn trn -h hyp.trn trn -i rm -o rsum`, the whole process
    asr score CLI  `asr score ref.trn hyp.trn --bootstrap 0`, the whole process (Python start-up included)

asr score and jiwer take turns, so that a busy machine slows both alike. It also checks
that our Sum counts equal sclite's (jiwer's differ where sclite's weights choose another
alignment than the minimum edit distance).

    python benchmarks/score.py                  # 10,000 synthetic pairs
    python benchmarks/score.py --pairs 50000 --repeats 3
    python benchmarks/score.py --ref data/test/text --hyp exp/x/decode_test_greedy/text
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import jiwer

from asr.scoring.files import read_transcripts, write_trn
from asr.scoring.wer import score

SCLITE = Path("/usr/lib/sctk/bin/sclite")


def asr_like_pairs(count: int, seed: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    """`count` (ref, hyp) transcripts keyed `spkNN-NNNNNN`; see the module docstring."""
    rng = random.Random(seed)
    syllables = ["ka", "to", "ri", "mo", "an", "sel", "ver", "di", "lo", "pa", "the", "in", "str", "ing"]
    vocab = sorted({"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(8000)})
    rng.shuffle(vocab)
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    refs, hyps = {}, {}
    for i in range(count):
        utt = f"spk{i % 40:02d}-{i:06d}"
        ref = rng.choices(vocab, weights, k=rng.randint(10, 20))
        hyp = []
        for word in ref:
            r = rng.random()
            if r < 0.07:
                hyp.append(rng.choices(vocab, weights)[0])
            elif r >= 0.10:
                hyp.append(word)
            if rng.random() < 0.02:
                hyp.append(rng.choices(vocab, weights)[0])
        refs[utt], hyps[utt] = " ".join(ref), " ".join(hyp)
    return refs, hyps


def best_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each function; the functions take turns, so that a busy machine slows all alike."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def sclite_sum(out: str) -> tuple[int, ...]:
    """(Corr, Sub, Del, Ins) of the Sum row of sclite's rsum table."""
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 5 and cells[1] == "Sum":
            return tuple(int(x) for x in cells[3].split()[:4])
    raise RuntimeError(f"no Sum row in sclite's output:\n{out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=10000, help="number of synthetic pairs (default: 10000)")
    p.add_argument("--ref", type=Path, help="score this reference file instead (Kaldi text or trn)")
    p.add_argument("--hyp", type=Path, help="with --ref: the hypothesis file")
    p.add_argument("--repeats", type=int, default=7, help="best of N runs per tool (default: 7)")
    args = p.parse_args()

    if args.ref is not None:
        refs, hyps = read_transcripts(args.ref), read_transcripts(args.hyp)
        source = f"{args.ref} vs {args.hyp}"
    else:
        refs, hyps = asr_like_pairs(args.pairs)
        source = "synthetic ASR-like pairs"
    hyps = {u: hyps.get(u, "") for u in refs}
    utts = sorted(refs)
    ref_list, hyp_list = [refs[u] for u in utts], [hyps[u] for u in utts]
    n_words = sum(len(r.split()) for r in ref_list)
    print(f"{len(utts)} pairs, {n_words} reference words ({source}); best of {args.repeats}")
    print(f"python {platform.python_version()}, jiwer {version('jiwer')}, numpy {version('numpy')}, "
          f"{platform.machine()}")

    ours = score(refs, hyps)
    jw = jiwer.process_words(ref_list, hyp_list)
    times = best_times({"ours": lambda: score(refs, hyps),
                        "jiwer": lambda: jiwer.process_words(ref_list, hyp_list)}, args.repeats)
    t_ours, t_jiwer = times["ours"], times["jiwer"]
    rows = [("asr score (score())", t_ours, ours.total.wer, "sclite weights")]
    rows.append(("jiwer.process_words", t_jiwer, 100 * jw.wer, "minimum edit distance"))

    agree = "sclite not installed"
    with tempfile.TemporaryDirectory() as tmp:
        write_trn(Path(tmp) / "ref.trn", refs)
        write_trn(Path(tmp) / "hyp.trn", hyps)
        if SCLITE.exists():
            cmd = [str(SCLITE), "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm", "-o", "rsum", "stdout"]
            run = lambda: subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=True)  # noqa: E731
            t_sclite = best_times({"sclite": run}, args.repeats)["sclite"]
            corr, sub, dele, ins = sclite_sum(run().stdout)
            mine = (ours.total.corr, ours.total.sub, ours.total.dele, ours.total.ins)
            agree = (f"Sum counts equal to sclite's: {mine == (corr, sub, dele, ins)} "
                     f"(C S D I = {corr} {sub} {dele} {ins})")
            rows.append(("sclite (process)", t_sclite, 100 * (sub + dele + ins) / max(corr + sub + dele, 1), "its own"))
        beside = Path(sys.executable).with_name("asr")  # the venv's, not another one on PATH
        asr_bin = str(beside) if beside.exists() else shutil.which("asr") or "asr"
        cli = [asr_bin, "score", "ref.trn", "hyp.trn", "--bootstrap", "0"]
        run_cli = lambda: subprocess.run(cli, cwd=tmp, capture_output=True, check=True)  # noqa: E731
        t_cli = best_times({"cli": run_cli}, args.repeats)["cli"]
        rows.append(("asr score CLI (process)", t_cli, ours.total.wer, "sclite weights"))

    print(f"\n{'':26}{'seconds':>9}{'pairs/s':>10}{'WER %':>8}  alignment")
    for name, secs, wer, how in rows:
        print(f"{name:<26}{secs:9.3f}{len(utts) / secs:10.0f}{wer:8.2f}  {how}")
    print(f"\nasr score / jiwer time: {t_ours / t_jiwer:.2f}")
    print(agree)


if __name__ == "__main__":
    main()
