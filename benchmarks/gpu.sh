#!/usr/bin/env bash
# The GPU checks and figures of docs/distributed.md, in one run on a machine with one CUDA GPU and
# torch installed (the project's other Python dependencies may come as wheels in .whl/):
#
#     bash benchmarks/gpu.sh [OUT_DIR]
#
# 1. tests/test_cuda.py (same outputs as the CPU, a bf16 training step) and the loader tests;
# 2. benchmarks/train_speed.py: the model alone at the recipe's batch and at an 8x larger one (ours
#    against nn.LSTM(bidirectional), fp32 and bf16 autocast), with the GPU's utilisation;
# 3. one epoch of the real training loop on 2 h of stored random features, with 0 and 4 data
#    workers, at both batch sizes;
# 4. the same loop under torchrun (one process, nccl).
# Each step's stderr (progress bars, logs) goes to OUT_DIR; the figures go to stdout.
set -u
out=${1:-/tmp/gpu_out}
mkdir -p "$out"
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
echo "== 1. tests"
timeout 300 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_loader.py 2>&1 | tail -8
echo "== 2. the model alone (10 timed steps)"
for frames in 5000 40000; do
    python3 benchmarks/train_speed.py --device cuda --steps 10 --max-frames $frames 2>>"$out/model.log"
done
echo "== 3. one epoch of asr.nn.train.train, 0 and 4 data workers"
python3 benchmarks/train_speed.py --device cuda --workers 0 4 --hours 2 --max-frames 5000 40000 2>"$out/loader.log"
echo "== 4. under torchrun, one process (nccl)"
torchrun --nproc_per_node=1 benchmarks/train_speed.py --device cuda --workers 4 --hours 0.5 --max-frames 5000 \
    2>"$out/torchrun.log" || tail -20 "$out/torchrun.log"
