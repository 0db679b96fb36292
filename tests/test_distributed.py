"""Tests for asr/nn/distributed.py and training under torchrun (gloo on the CPU): 1 process and 2
processes (or 2 "nodes" of 1 on localhost) reach the same parameters, and a rank killed mid-epoch
resumes at the same global step into the model an uninterrupted run makes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asr.data.datadir import write_table
from asr.nn.checkpoint import load_state
from asr.nn.distributed import DistEnv, torchrun_env

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "dist_train.py"
TOL = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory) -> Path:
    """48 train and 6 dev utterances whose 6-dim features spell 'a', 'b' and '|'."""
    root = tmp_path_factory.mktemp("toy")
    rng = np.random.default_rng(0)
    patterns = {1: np.eye(6)[0] * 3, 2: np.eye(6)[1] * 3, 3: np.eye(6)[2] * 3}
    from conftest import write_feature_dir
    from dist_train import TOKENS

    for name, n in (("train", 48), ("dev", 6)):
        feats, text = {}, {}
        for i in range(n):
            words = ["".join(rng.choice(list("ab"), size=rng.integers(1, 3))) for _ in range(rng.integers(1, 3))]
            ids = TOKENS.encode(" ".join(words))
            x = np.concatenate([np.zeros((2, 6)), *[np.tile(patterns[t], (4, 1)) for t in ids], np.zeros((2, 6))])
            feats[f"{name}{i:03d}"] = (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
            text[f"{name}{i:03d}"] = " ".join(words)
        write_feature_dir(root / name, feats)
        write_table(root / name / "text", text)
    return root


def _run(args: list[str], exp: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *args, str(SCRIPT), *extra] if args else [sys.executable, str(SCRIPT), *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=HERE)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return out


def _torchrun(nproc: int, *more: str) -> list[str]:
    return ["-m", "torch.distributed.run", f"--nproc_per_node={nproc}", *more]


def _params(exp: Path) -> dict[str, torch.Tensor]:
    return load_state(exp / "last.pt")["model"]


def _max_diff(a: Path, b: Path) -> float:
    pa, pb = _params(a), _params(b)
    assert pa.keys() == pb.keys()
    return max(float((pa[k].float() - pb[k].float()).abs().max()) for k in pa)


def test_torchrun_env_is_read_from_the_environment():
    assert torchrun_env({}) is None
    assert torchrun_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"}) == DistEnv(3, 4, 1)


@pytest.fixture(scope="module")
def one_process(toy_data, tmp_path_factory) -> Path:
    exp = tmp_path_factory.mktemp("one") / "exp"
    _run([], exp, str(toy_data), str(exp))
    return exp


def test_two_processes_equal_one(toy_data, one_process, tmp_path):
    exp = tmp_path / "two"
    _run(_torchrun(2, "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}"), exp, str(toy_data), str(exp))
    steps = load_state(exp / "last.pt")["step"]
    assert steps == load_state(one_process / "last.pt")["step"] >= 20
    diff = _max_diff(one_process, exp)
    print(f"1 vs 2 processes after {steps} updates: max abs parameter difference {diff:.2e}")
    assert diff <= TOL
    assert (exp / "model.pt").is_file() and (exp / "train.log").read_text().count("epoch 4:") == 1  # rank 0 alone logs


def test_two_nodes_of_one_process_on_localhost_equal_one(toy_data, one_process, tmp_path):
    exp, port = tmp_path / "nodes", _free_port()
    cmds = [[sys.executable, *_torchrun(1, "--nnodes=2", f"--node_rank={r}", "--master_addr=127.0.0.1",
                                        f"--master_port={port}"), str(SCRIPT), str(toy_data), str(exp)] for r in (0, 1)]
    procs = [subprocess.Popen(c, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    diff = _max_diff(one_process, exp)
    print(f"1 process vs 2 nodes x 1 process: max abs parameter difference {diff:.2e}")
    assert diff <= TOL


def test_a_rank_killed_mid_epoch_resumes_at_the_same_step(toy_data, one_process, tmp_path):
    exp = tmp_path / "killed"
    launch = _torchrun(2, "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}")
    died = _run(launch, exp, str(toy_data), str(exp), "--kill-rank", "1", "--kill-at-step", "18", check=False)
    assert died.returncode != 0
    state = load_state(exp / "last.pt")
    assert state["step"] == 16 and state["batch_idx"] > 0, (state["step"], state["batch_idx"])  # saved mid-epoch
    rerun = _run(_torchrun(2, "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}"), exp,
                 str(toy_data), str(exp))
    assert "resuming from" in rerun.stderr and "step 16" in rerun.stderr
    diff = _max_diff(one_process, exp)
    print(f"killed and resumed vs uninterrupted: max abs parameter difference {diff:.2e}")
    assert diff <= TOL


def test_decoding_sharded_over_two_ranks_writes_the_same_files(digit_model_dir, copy_digit_model, tmp_path):
    data = digit_model_dir.parent / "data"
    exps = {}
    for n in (1, 2):
        exp = exps[n] = copy_digit_model(tmp_path / f"exp{n}")
        launch = [] if n == 1 else _torchrun(2, "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}")
        out = subprocess.run([sys.executable, *launch, str(HERE / "dist_decode.py"), str(data), str(exp), "dev"],
                             capture_output=True, text=True, timeout=300, cwd=HERE)
        assert out.returncode == 0, out.stderr[-3000:]
    for d in ("decode_dev_greedy", "decode_dev_beam"):
        for f in ("text", "hyp.trn", "ctm"):
            assert (exps[1] / d / f).read_bytes() == (exps[2] / d / f).read_bytes(), (d, f)
    assert len((exps[1] / "decode_dev_greedy" / "text").read_text().splitlines()) == 48
    assert not (exps[2] / ".decode_dev").exists()  # the shard files are gone


def test_features_with_two_jobs_are_byte_identical_to_one(digit_model_dir, tmp_path):
    from asr.data.feature_store import make_features
    from asr.data.features import FbankConfig

    src = digit_model_dir.parent / "data" / "dev"
    out = {}
    for nj in (1, 2):
        d = tmp_path / f"nj{nj}" / "dev"
        d.mkdir(parents=True)
        for f in ("wav.scp", "text", "utt2spk", "spk2utt"):
            shutil.copy(src / f, d / f)
        make_features(d, FbankConfig(), nj=nj, chunk_size=10)  # 5 chunks of 10 utterances
        out[nj] = d
    for f in ("utt2num_frames",):
        assert (out[1] / f).read_bytes() == (out[2] / f).read_bytes()
    assert (out[1] / "feats.scp").read_text().replace(str(out[1]), "") == (out[2] / "feats.scp").read_text().replace(str(out[2]), "")
    arks = sorted(p.name for p in (out[1] / "feats").iterdir())
    assert len(arks) == 5 and arks == sorted(p.name for p in (out[2] / "feats").iterdir())
    for a in arks:
        assert (out[1] / "feats" / a).read_bytes() == (out[2] / "feats" / a).read_bytes()
