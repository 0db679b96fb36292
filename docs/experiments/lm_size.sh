#!/bin/sh
# Dev WER against the size of the word LM: recipes/en's LM text (data/train/text without the perturbed
# copies, and data/local/lm/books.txt) as a 3-gram on 60,000 words, its bigrams and trigrams pruned below
# N = 2, 4 (the recipe's) and 6 occurrences; each decoded with one model at its tuned decoder.yaml weights
# by `asr transcribe` (which cuts files at pauses: its WER differs a little from the recipe's decode stage).
# Usage, from the repository root, after recipes/en's stages 0-6:  sh docs/experiments/lm_size.sh WORK_DIR TAG
set -e
W=$1; EXP=$W/exp/$2; OUT=$W/lm_size
mkdir -p "$OUT"
for n in 2 4 6; do
  .venv/bin/python - "$W" "$OUT/lm_$n.arpa.gz" "$n" <<'PY'
import sys
from pathlib import Path
from asr.data.datadir import read_table
from asr.data.perturb import read_perturbations
from asr.lm import train_kn_arpa
work, out, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
copies = read_perturbations(work / "data" / "train")
text = [t for u, t in read_table(work / "data" / "train" / "text").items() if u not in copies]
text += (work / "data" / "local" / "lm" / "books.txt").read_text(encoding="utf-8").splitlines()
stats = train_kn_arpa(text, out, 3, max_vocab=60000, min_counts=[1, n, n])
print(f"min count {n}: {stats}")
PY
  .venv/bin/asr transcribe --model "$EXP" --lm "$OUT/lm_$n.arpa.gz" --threads 2 --no-timestamps --no-progress \
      --format kaldi "$W/data/dev/wav.scp" > "$OUT/hyp_$n.txt"
  echo "min count $n: $(du -b "$OUT/lm_$n.arpa.gz" | cut -f1) bytes: $(.venv/bin/asr score "$W/data/dev/text" "$OUT/hyp_$n.txt" --out-dir "$OUT/score_$n" | grep '%WER')"
done
