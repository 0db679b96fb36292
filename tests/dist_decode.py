"""Helper of tests/test_distributed.py: the recipe's decode stage (stage 5), alone or as a torchrun rank.

    python tests/dist_decode.py DATA EXP SET
    python -m torch.distributed.run --nproc_per_node=2 tests/dist_decode.py DATA EXP SET
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from asr.decoding.base import DecoderConfig
from asr.nn.distributed import init_torchrun, torchrun_env
from asr.recipe.decode_stages import decode_stage

if __name__ == "__main__":
    data, exp, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(1)
    device = torch.device("cpu")
    if torchrun_env() is not None:
        _, device = init_torchrun(device)
    decode_stage(data, exp, [name], device, {"greedy": DecoderConfig("greedy"), "beam": DecoderConfig("beam")},
                 max_frames=2000, all_ranks=True)
