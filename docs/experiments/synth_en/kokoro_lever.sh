#!/usr/bin/env bash
# The "Kokoro in training" lever of docs/experiments/synth_en/README.md: a finished demo run's training set plus N Kokoro
# utterances (30 voices and blends, none of the held-out ones), trained with the same config, against
# the demo's own model; both decode a held-out Kokoro test set (am_michael, af_heart, bf_emma).
#
#   bash ../../docs/experiments/synth_en/kokoro_lever.sh DEMO_WORK_DIR OUT_DIR [N_TRAIN] [N_TEST]    (from recipes/synth_en)
#
# DEMO_WORK_DIR: a work dir where `run.py --config conf/default.yaml` finished (data/, exp/bilstm/);
# the README's row used the f967c96 run (before Kokoro joined the demo), N_TRAIN=1000, N_TEST=160.
# OUT_DIR gets kokoro_train/ and kokoro_test/ (corpora), merged/ (data + exp/kokoro1k and a copy of
# exp/bilstm), whose exp/*/RESULTS.md compare the two models. STOP_STAGE=1 stops after the features.
set -euo pipefail
DEMO=$(realpath "$1"); OUT=$(realpath -m "$2"); N_TRAIN=${3:-1000}; N_TEST=${4:-160}
PY=${PY:-../../.venv/bin/python}
mkdir -p "$OUT"
HELD="kokoro:af_heart kokoro:am_michael kokoro:bf_emma"
$PY - "$OUT" "$N_TRAIN" "$N_TEST" <<'EOF'
import sys
import yaml
sys.path.insert(0, "../..")
from data_prep.synth.kokoro import KOKORO_VOICES
out, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = yaml.safe_load(open("conf/default.yaml"))
c["corpus"].pop("voice_shares", None)
held = ["kokoro:af_heart", "kokoro:am_michael", "kokoro:bf_emma"]
train = [f"kokoro:{v}" for v in KOKORO_VOICES if f"kokoro:{v}" not in held]
train += ["kokoro:af_bella+am_adam", "kokoro:bf_alice+bm_lewis", "kokoro:am_echo+af_nova",
          "kokoro:bm_daniel+af_sky", "kokoro:af_river+am_puck"]
def save(name, **over):
    cfg = dict(c, tag="kexp", decode_sets=["dev", "test"])
    cfg["corpus"] = dict(c["corpus"], **over)
    yaml.safe_dump(cfg, open(f"{out}/{name}.yaml", "w"), sort_keys=False)
save("kokoro_train", voices=train, heldout_voices=[], num_train=n_train, num_dev=2, num_test=2, seed=1)
save("kokoro_test", voices=held + ["espeak:en-us"], heldout_voices=held, num_train=1, num_dev=2, num_test=n_test, seed=2)
for tag, sets in (("kokoro1k", ["dev", "test", "test_kokoro", "test_reverb", "test_phone", "test_noise10"]),
                  ("bilstm", ["dev", "test_kokoro"])):
    yaml.safe_dump(dict(c, tag=tag, decode_sets=sets), open(f"{out}/{tag}.yaml", "w"), sort_keys=False)
EOF
for c in kokoro_train kokoro_test; do
  $PY run.py --config "$OUT/$c.yaml" --work-dir "$OUT/$c" --stage 0 --stop-stage 0
done
M=$OUT/merged
rm -rf "$M"; mkdir -p "$M/data/train" "$M/data/test_kokoro" "$M/exp"
for d in dev test test_reverb test_phone test_noise10 lang local; do cp -r "$DEMO/data/$d" "$M/data/"; done
for f in wav.scp text utt2spk; do
  cat "$DEMO/data/train/$f" "$OUT/kokoro_train/data/train/$f" | sort > "$M/data/train/$f"
  grep "^kokoro-" "$OUT/kokoro_test/data/test/$f" | sort > "$M/data/test_kokoro/$f"
done
for d in train test_kokoro; do
  awk '{a[$2]=a[$2]" "$1} END {for (s in a) print s a[s]}' "$M/data/$d/utt2spk" | sort > "$M/data/$d/spk2utt"
done
$PY run.py --config "$OUT/kokoro1k.yaml" --work-dir "$M" --stage 1 --stop-stage 1
[ "${STOP_STAGE:-}" = 1 ] && exit 0
$PY run.py --config "$OUT/kokoro1k.yaml" --work-dir "$M" --stage 4 --stop-stage 7
cp -r "$DEMO/exp/bilstm" "$M/exp/bilstm"
$PY run.py --config "$OUT/bilstm.yaml" --work-dir "$M" --stage 5 --stop-stage 7 --force
