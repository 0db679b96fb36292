"""Test-time frequency-warp search (VTLN-style), measured on a recipe's data dir.

Classic VTLN picks, per speaker, the warp of the frequency axis under which the model likes the
speech best. Here each utterance's log-mel features are warped (asr.data.specaug.warp_mel_axis,
the training-time VTLP warp) by every factor of --alphas, decoded greedily, and a factor is chosen
per utterance or per speaker by the model's own confidence: the mean best log-probability over
all output frames (`maxprob`), over non-blank frames (`nonblank`), or the mean entropy
(`entropy`, lower wins). The `oracle` row picks the factor with the fewest character errors
(the ceiling of any criterion). Greedy CER / WER %, seen and held-out voices apart:

    python docs/experiments/synth_en/warp_search.py EXP_DIR DATA_DIR --heldout pico-en-gb,rhvoice-bdl

Results: docs/experiments/synth_en/README.md ("Test-time warp search").
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import torch
from tqdm import tqdm

from asr.data.batching import FeatureSet, bucket_batches
from asr.data.datadir import read_table
from asr.data.specaug import warp_mel_axis
from asr.decoding.greedy import greedy_decode
from asr.decoding.loop import batch_of, forward
from asr.nn.modeldir import ModelDir
from asr.scoring.counts import ErrorCounts
from asr.scoring.wer import align_counts

CRITERIA = {"maxprob": 1.0, "nonblank": 1.0, "entropy": -1.0}  # sign: higher sign * value wins


def decode_warped(exp: Path, data: Path, alphas: list[float], max_frames: int = 20000) -> dict[str, dict[float, dict]]:
    """{utt: {alpha: {text, maxprob, nonblank, entropy}}}: greedy decoding of each warp of each utterance."""
    model_dir = ModelDir(exp)
    model, tokens = model_dir.build_model(), model_dir.read_tokens()
    feats = FeatureSet(data)
    out: dict[str, dict[float, dict]] = defaultdict(dict)
    for utts in tqdm(bucket_batches(feats.lengths, max_frames), desc=f"warp {data.name}", unit="batch"):
        raw = [feats.load(u) for u in utts]
        for a in alphas:
            log_probs, lengths = forward(model, batch_of(utts, [warp_mel_axis(f, a) if a != 1.0 else f for f in raw]),
                                         torch.device("cpu"))
            for i, (u, hyp) in enumerate(zip(utts, greedy_decode(log_probs, lengths, tokens))):
                e = log_probs[i, : int(lengths[i])]
                best = e.max(-1).values
                speech = e.argmax(-1) != tokens.blank_id
                out[u][a] = dict(text=hyp.text, maxprob=float(best.mean()), entropy=float(-(e.exp() * e).sum(-1).mean()),
                                 nonblank=float(best[speech].mean()) if bool(speech.any()) else float(best.mean()))
    return out


def rates(choice: dict[str, float], rows: dict, refs: dict[str, str], spk: dict[str, str], heldout: set[str]) -> dict:
    """{group: (CER %, WER %)} for groups all / seen / held out, each utterance decoded at its chosen warp."""
    sums: dict[str, list[ErrorCounts]] = defaultdict(lambda: [ErrorCounts(), ErrorCounts()])
    for u, a in choice.items():
        hyp = rows[u][a]["text"]
        c, w = align_counts(refs[u], hyp, char_level=True), align_counts(refs[u], hyp)
        for g in ("all", "held out" if spk[u] in heldout else "seen"):
            sums[g][0] += c
            sums[g][1] += w
    return {g: (c.wer, w.wer) for g, (c, w) in sums.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp", type=Path, help="model directory (config.yaml, tokens.txt, model.pt)")
    p.add_argument("data", type=Path, help="data dir with feats.scp, utt2num_frames, text, utt2spk")
    p.add_argument("--alphas", default="0.85,0.9,0.95,1.0,1.05,1.1,1.15", help="warp factors, comma-separated (include 1.0)")
    p.add_argument("--heldout", default="", help="held-out speakers (utt2spk names), comma-separated")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    alphas = [float(a) for a in args.alphas.split(",")]
    refs = read_table(args.data / "text", allow_empty_value=True)
    spk = read_table(args.data / "utt2spk")
    heldout = set(filter(None, args.heldout.split(",")))
    rows = decode_warped(args.exp, args.data, alphas)
    table: list[tuple[str, dict]] = [(f"fixed {a}", rates({u: a for u in rows}, rows, refs, spk, heldout)) for a in alphas]
    by_spk: dict[str, list[str]] = defaultdict(list)
    for u in rows:
        by_spk[spk[u]].append(u)
    for crit, sign in CRITERIA.items():
        per_utt = {u: max(alphas, key=lambda a: sign * r[a][crit]) for u, r in rows.items()}
        table.append((f"{crit}, per utterance", rates(per_utt, rows, refs, spk, heldout)))
        per_spk = {}
        for us in by_spk.values():
            best = max(alphas, key=lambda a: sign * sum(rows[u][a][crit] for u in us))
            per_spk.update({u: best for u in us})
        table.append((f"{crit}, per speaker", rates(per_spk, rows, refs, spk, heldout)))
    oracle = {u: min(alphas, key=lambda a: align_counts(refs[u], r[a]["text"], char_level=True).wer) for u, r in rows.items()}
    table.append(("oracle (fewest char errors)", rates(oracle, rows, refs, spk, heldout)))
    groups = ["all", "seen", "held out"] if heldout else ["all"]
    print("| warp | " + " | ".join(f"{g} CER / WER %" for g in groups) + " |")
    print("|---|" + "---|" * len(groups))
    for name, r in table:
        print(f"| {name} | " + " | ".join(f"{r[g][0]:.2f} / {r[g][1]:.2f}" if g in r else "-" for g in groups) + " |")


if __name__ == "__main__":
    main()
