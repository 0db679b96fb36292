"""Dev WER of an experiment's LM decoder at other beam settings: the recipe's own decode loop
(asr.recipe.decode_stages.decode_sets: the model runs once per batch, every point decodes its output),
scored as stage 7 scores. The numbers in real_speech.md ("A wider LM beam") come from it:

    .venv/bin/python docs/experiments/lm_beam.py WORK/exp/bilstm_ft_real2 WORK/data/dev \\
        8,400,25,2,0 16,400,25,2,0 29,1000,40,2,0 8,1000,40,2,0 8,400,40,2,0 16,2000,60,2,0 16,1000,40,2.5,1

Each point is beam_size_token,lm_beam,beam_threshold,lm_weight,word_score; the rest of the decoder is the
experiment's decoder.yaml (its lm.arpa and lexicon.txt). --nj worker processes (default 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from asr.data.datadir import read_table  # noqa: E402
from asr.decoding.base import DecoderConfig  # noqa: E402
from asr.nn.modeldir import ModelDir  # noqa: E402
from asr.recipe.decode_stages import decode_sets  # noqa: E402
from asr.scoring.wer import score  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp", type=Path, help="experiment dir with model.pt and decoder.yaml (after stage 6)")
    p.add_argument("data", type=Path, help="data dir to decode (feats.scp, text), e.g. WORK/data/dev")
    p.add_argument("points", nargs="+", help="tokens,lm_beam,threshold,lm_weight,word_score")
    p.add_argument("--nj", type=int, default=2, help="worker processes (default 2)")
    args = p.parse_args()
    base = ModelDir(args.exp).read_decoder_config() or DecoderConfig(kind="lm")
    points = {}
    for spec in args.points:
        tok, lm_beam, thr, lw, ws = spec.split(",")
        points[spec] = replace(base, kind="lm", beam_size_token=int(tok), lm_beam=int(lm_beam),
                               beam_threshold=float(thr), lm_weight=float(lw), word_score=float(ws))
    refs = read_table(args.data / "text", allow_empty_value=True)
    t0 = time.time()
    decoded = decode_sets(args.data.parent, args.exp, [args.data.name], torch.device("cpu"), points, 40000, args.nj)
    print("| tokens per frame | LM beam | threshold | LM weight | word score | WER % |")
    print("|---|---|---|---|---|---|")
    for spec, hyps in decoded[args.data.name].items():
        wer = score(refs, {u: t.text for u, t in hyps.items()}).total.wer
        print("| " + " | ".join(spec.split(",")) + f" | {wer:.2f} |")
    print(f"{len(points)} points in {time.time() - t0:.0f} s with {args.nj} processes")


if __name__ == "__main__":
    main()
