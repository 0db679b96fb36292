#!/usr/bin/env bash
# Stage 1 (train and dev only) and stage 4 of docs/experiments/synth_en/gpu.yaml on a GPU machine without TTS engines, from a
# corpus packed here by gpu_pack.py; the model comes back in float16 (asr export's --half format).
#
#     bash docs/experiments/synth_en/gpu_train.sh PACK_DIR|PACK.zip OUT_DIR [CONFIG] [TRAIN_TIMEOUT_S]
#
# Run from the repository root. OUT_DIR gets model.pt (float16), config.yaml, tokens.txt, cmvn.stats,
# train.log and curves.png: copy them into recipes/synth_en/exp/<tag>/ here, then run stages 5-7:
#     .venv/bin/python recipes/synth_en/run.py --config docs/experiments/synth_en/gpu.yaml --stage 5   (README: "Trained on a GPU")
set -u
pack=$1 out=$2 config=${3:-docs/experiments/synth_en/gpu.yaml} limit=${4:-420}
work=/tmp/gpu_work
mkdir -p "$out"
if [[ $pack == *.zip ]]; then  # one stored zip of the pack folder: what a size-capped transfer carries best
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall('/tmp/gpu_pack')" "$pack" || exit 1
    pack=/tmp/gpu_pack/pack
fi
python3 docs/experiments/synth_en/gpu_pack.py unpack --pack "$pack" --data $work/data || exit 1
python3 docs/experiments/synth_en/gpu_pack.py features --config "$config" --data $work/data --nj 16 || exit 1
t0=$(date +%s)
timeout "$limit" python3 recipes/synth_en/run.py --config "$config" --work-dir $work --stage 4 --stop-stage 4 \
    --device "${DEVICE:-cuda}" 2>"$out/train_stderr.log"
echo "training: rc $?, $(( $(date +%s) - t0 )) s"
tag=$(python3 -c "import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))['tag'])" "$config")
exp=$work/exp/$tag
grep -a -o "INFO.*" "$exp/train.log" | grep -v "it/s"
python3 - "$exp" "$out" <<'PY'
import shutil, sys
from pathlib import Path
from asr.nn.checkpoint import average_state_dicts, epoch_checkpoints, load_state, save_atomic
from asr.transcribe.export import half_weights
exp, out = Path(sys.argv[1]), Path(sys.argv[2])
if (exp / "model.pt").exists():
    state = load_state(exp / "model.pt")
else:  # stopped early: the average of the last 3 epochs there are
    ckpts = [p for _, p in epoch_checkpoints(exp)][-3:]
    print("no model.pt: averaging", [p.name for p in ckpts])
    state = average_state_dicts(ckpts)
save_atomic(half_weights(state), out / "model.pt")  # model.pt is a plain state dict, as asr export writes it
for name in ("config.yaml", "tokens.txt", "cmvn.stats", "train.log", "curves.png"):
    if (exp / name).exists():
        shutil.copy(exp / name, out / name)
print("model.pt:", (out / "model.pt").stat().st_size / 1e6, "MB")
PY
