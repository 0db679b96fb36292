"""LM weight x word score, scored on seen and held-out voices apart: do unseen voices want another point?

The recipe tunes the LM decoder's weights on all of dev. This decodes data sets at every point of a
grid with the model directory's LM decoder (decoder.yaml, lm.arpa, lexicon.txt, as stage 6 writes them;
only lm_weight and word_score change), through the recipe's own decode loop (asr.recipe.decode_stages.
decode_sets: the model once per batch, every point on it), and prints tuned WER % per set for all
utterances, the seen speakers and the --heldout ones:

    python docs/experiments/synth_en/lm_weight_split.py EXP_DIR DATA_ROOT --sets dev test --heldout pico-en-gb,rhvoice-bdl

Results: docs/experiments/synth_en/README.md ("The bundled model").
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from asr.data.datadir import read_table
from asr.nn.modeldir import ModelDir
from asr.recipe.decode_stages import decode_sets
from asr.scoring.wer import score


def grid_wer(exp: Path, data: Path, sets: list[str], lm_weights: list[float], word_scores: list[float],
             heldout: set[str], nj: int = 1) -> dict[tuple[float, float], dict[str, dict[str, float]]]:
    """{(lm_weight, word_score): {set: {group: WER %}}}, groups 'all', 'seen', 'held out' (the last two
    only with `heldout` speakers)."""
    base = ModelDir(exp).read_decoder_config()
    if base is None or base.kind != "lm":
        raise SystemExit(f"{exp / ModelDir.DECODER}: no LM decoder (run the recipe's stage 6 first)")
    points = {f"{w}/{s}": (w, s) for w in lm_weights for s in word_scores}
    decoded = decode_sets(data, exp, sets, torch.device("cpu"),
                          {name: replace(base, lm_weight=w, word_score=s) for name, (w, s) in points.items()}, nj=nj)
    out: dict[tuple[float, float], dict[str, dict[str, float]]] = {p: {} for p in points.values()}
    for s in sets:
        refs = read_table(data / s / "text", allow_empty_value=True)
        spk = read_table(data / s / "utt2spk")
        groups = {"all": set(refs)}
        if heldout:
            groups |= {"seen": {u for u in refs if spk[u] not in heldout}, "held out": {u for u in refs if spk[u] in heldout}}
        for name, point in points.items():
            hyps = {u: t.text for u, t in decoded[s][name].items()}
            out[point][s] = {g: score({u: refs[u] for u in us}, {u: hyps.get(u, "") for u in us}).total.wer
                             for g, us in groups.items() if us}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp", type=Path, help="model directory after LM tuning (decoder.yaml, lm.arpa, lexicon.txt, model.pt)")
    p.add_argument("data", type=Path, help="data root: DATA/<set>/{feats.scp,utt2num_frames,wav.scp,text,utt2spk}")
    p.add_argument("--sets", nargs="+", default=["dev"], help="data sets under DATA to decode")
    p.add_argument("--lm-weights", default="1.5,2.0,2.5,3.0", help="LM weights, comma-separated")
    p.add_argument("--word-scores", default="-1.0,0.0,1.0", help="word insertion scores, comma-separated")
    p.add_argument("--heldout", default="", help="held-out speakers (utt2spk names), comma-separated")
    p.add_argument("--nj", type=int, default=2, help="decoding processes of one thread each")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    heldout = set(filter(None, args.heldout.split(",")))
    table = grid_wer(args.exp, args.data, args.sets, [float(w) for w in args.lm_weights.split(",")],
                     [float(s) for s in args.word_scores.split(",")], heldout, args.nj)
    cols = [(s, g) for s in args.sets for g in (["all", "seen", "held out"] if heldout else ["all"])]
    print("| LM weight | word score | " + " | ".join(f"{s} {g}" for s, g in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for (w, ws), row in table.items():
        print(f"| {w} | {ws} | " + " | ".join(f"{row[s][g]:.2f}" if g in row[s] else "-" for s, g in cols) + " |")


if __name__ == "__main__":
    main()
