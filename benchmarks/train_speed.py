"""Training throughput of the acoustic model, in times real time, against torch's own BiLSTM.

Times forward + CTC loss + backward + AdamW step on random features of the default recipe's
shapes (batches of `--max-frames` padded frames, utterances of `--seconds` s), on the chosen
device, for:

- ours: asr.nn.model.BiLSTMCTC, whose BiLSTMLayer is exact on padded batches;
- peer: the same sizes and front-end with one nn.LSTM(bidirectional=True, num_layers=L) on the padded
  batch (what most code does; its backward direction starts in the padding, so it is not exact);

each in fp32, and on CUDA also with bf16 autocast (the recipe's default there: train.amp auto).

    .venv/bin/python benchmarks/train_speed.py --threads 1            # CPU, one thread
    .venv/bin/python benchmarks/train_speed.py --procs 1 2            # ours, data-parallel over 1 and 2 processes
    python3 benchmarks/train_speed.py --device cuda                    # a GPU machine

--flops measures how close the CPU step is to the core's arithmetic ceiling instead: the BiLSTM
layers' GFLOP/s (forward + backward counted as 3x the forward's 2 x 4H(I+H) multiply-adds per frame and
direction) against torch.mm's on 2048 x 2048 fp32 matrices, the same run's peer:

    .venv/bin/python benchmarks/train_speed.py --threads 1 --flops

--procs N times the training code's own CPU data parallelism (asr.nn.train with train.num_procs, or
torchrun on the CPU): N one-thread gloo processes, each on its share of the global batch, gradients
summed in one flat all-reduce per step (asr.nn.distributed.sum_gradients).

--workers N ... times the whole training loop instead (asr.nn.launch.train, one epoch): features read
from an ark on disk, padded and SpecAugmented in the loop (0) or by N worker processes, on random
"features" of 1-6 s utterances (--hours of them) with random transcripts. It prints × real time per
epoch (the training log's own figure) and, on CUDA, the GPU's mean utilisation while it trained
(torch.cuda.utilization, sampled every 0.1 s). Under torchrun each rank is one GPU (nccl):

    python3 benchmarks/train_speed.py --device cuda --workers 0 4 --hours 3 --max-frames 5000 40000
    torchrun --nproc_per_node=1 benchmarks/train_speed.py --device cuda --workers 4 --hours 1
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from pathlib import Path

import torch
import torch.nn as nn

from asr.device import pick_device
from asr.nn.model import BiLSTMCTC, ConvFrontend, ModelConfig, build_model, stack_frames


class PeerBiLSTM(nn.Module):
    """Same sizes and front-end as BiLSTMCTC, but nn.LSTM(bidirectional=True, num_layers=L) on the padded batch."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.frontend = (ConvFrontend(cfg.input_dim, cfg.conv_channels, cfg.conv_stride, cfg.conv_proj)
                         if cfg.frontend == "conv" else None)
        in_dim = self.frontend.output_dim if self.frontend is not None else cfg.input_dim * cfg.stack
        self.lstm = nn.LSTM(in_dim, cfg.hidden, num_layers=cfg.layers, bidirectional=True,
                            batch_first=True, dropout=cfg.dropout)
        self.output = nn.Linear(2 * cfg.hidden, cfg.upsample * cfg.vocab_size)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        if self.frontend is not None:
            x, out_lengths = self.frontend(feats, lengths)
        else:
            x, out_lengths = stack_frames(feats, lengths, self.cfg.stack)
        y, _ = self.lstm(x)
        logits = self.output(y)
        u = self.cfg.upsample
        return logits.reshape(logits.shape[0], -1, self.cfg.vocab_size).log_softmax(-1), out_lengths * u


def time_model(model: nn.Module, device: torch.device, batch: int, frames: int, steps: int, bf16: bool,
               ) -> tuple[float, float | None]:
    """Seconds of audio trained per second of wall time, and the GPU's mean utilisation % (None off CUDA)."""
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    feats = torch.randn(batch, frames, model.cfg.input_dim, device=device)
    lengths = torch.full((batch,), frames, device=device)
    targets = torch.randint(1, model.cfg.vocab_size, (batch, frames // 12), device=device)
    tlens = torch.full((batch,), frames // 12, device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            lp, ol = model(feats, lengths)
        loss = nn.functional.ctc_loss(lp.float().transpose(0, 1), targets, ol, tlens, zero_infinity=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    with GpuUtilisation(device) as util:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
    return steps * batch * frames * 0.01 / wall, util.mean


def _ddp_worker(rank: int, world: int, init: str, cfg: ModelConfig, batch: int, frames: int, steps: int, out) -> None:
    import torch.distributed as dist

    from asr.nn.distributed import sum_gradients as _sync_grads

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(cfg).train()
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    mine = len(range(rank, batch, world))
    feats, lengths = torch.randn(mine, frames, cfg.input_dim), torch.full((mine,), frames)
    targets, tlens = torch.randint(1, cfg.vocab_size, (mine, frames // 12)), torch.full((mine,), frames // 12)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        lp, ol = model(feats, lengths)
        nn.functional.ctc_loss(lp.transpose(0, 1), targets, ol, tlens, zero_infinity=True, reduction="sum").backward()
        if world > 1:
            _sync_grads(params)
        opt.step()

    for _ in range(2):
        step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    if rank == 0:
        out.put(steps * batch * frames * 0.01 / (time.perf_counter() - t0))
    dist.destroy_process_group()


def time_data_parallel(cfg: ModelConfig, procs: int, batch: int, frames: int, steps: int) -> float:
    """Seconds of audio per second with `procs` one-thread gloo processes sharing each global batch."""
    import tempfile

    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = ctx.SimpleQueue()
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_ddp_worker, args=(procs, f"file://{tmp}/init", cfg, batch, frames, steps, out),
                           nprocs=procs, join=True, start_method="spawn")
    return out.get()


def write_random_data(root: Path, hours: float, dim: int, seed: int) -> tuple[Path, Path]:
    """root/{train,dev}: feats.ark + feats.scp, utt2num_frames, text of random 1-6 s utterances
    (hours of them in train, 16 in dev), each with a random lowercase transcript of ~1 letter per 12 frames."""
    import kaldiio
    import numpy as np

    from asr.data.datadir import write_table

    rng = np.random.default_rng(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    dirs = []
    for name, frames_left in (("train", int(hours * 360_000)), ("dev", None)):
        d = root / name
        d.mkdir(parents=True)
        feats, n_utts = {}, 0
        while (frames_left is None and n_utts < 16) or (frames_left is not None and frames_left > 0):
            n = int(rng.integers(100, 600))
            feats[f"{name}{n_utts:06d}"] = rng.standard_normal((n, dim), dtype=np.float32)
            n_utts += 1
            if frames_left is not None:
                frames_left -= n
        kaldiio.save_ark(str(d / "feats.ark"), feats, scp=str(d / "feats.scp"))
        write_table(d / "utt2num_frames", {u: str(len(f)) for u, f in feats.items()})
        write_table(d / "text", {u: " ".join("".join(rng.choice(list(letters), size=int(rng.integers(2, 8))))
                                             for _ in range(max(1, len(f) // 60))) for u, f in feats.items()})
        dirs.append(d)
    return dirs[0], dirs[1]


class GpuUtilisation:
    """Mean GPU utilisation (%) over a `with` block, sampled every `period` s in a thread (None off CUDA)."""

    def __init__(self, device: torch.device, period: float = 0.1) -> None:
        self.device, self.period, self.samples = device, period, []
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append(torch.cuda.utilization(self.device))

    def __enter__(self) -> GpuUtilisation:
        if self.device.type == "cuda":
            try:
                torch.cuda.utilization(self.device)
            except Exception as err:  # pynvml missing or no NVML: time without it
                print(f"(no GPU utilisation: {err})")
                return self
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if hasattr(self, "_thread"):
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def time_training(cfg: ModelConfig, train_dir: Path, dev_dir: Path, device: torch.device, max_frames: int,
                  workers: int, exp_dir: Path) -> tuple[float, float | None]:
    """One epoch of asr.nn.train.train on the data dirs: (× real time of the epoch, mean GPU utilisation %)."""
    from asr.data.batching import FeatureSet
    from asr.data.datadir import read_table
    from asr.data.tokens import build_token_table
    from asr.nn.checkpoint import load_state
    from asr.nn.launch import train
    from asr.nn.schedule import TrainConfig

    texts = {d: read_table(d / "text") for d in (train_dir, dev_dir)}
    tokens = build_token_table([t for d in texts.values() for t in d.values()])
    sets = [FeatureSet(d, {u: tokens.encode(t) for u, t in texts[d].items()}) for d in (train_dir, dev_dir)]
    cfg.vocab_size = len(tokens)
    torch.manual_seed(0)
    model = build_model(cfg)
    tcfg = TrainConfig(epochs=1, max_frames=max_frames, num_workers=workers, num_threads=0, save_every_minutes=60,
                       average_last=1)
    with GpuUtilisation(device) as util:
        train(model, sets[0], sets[1], texts[dev_dir], tokens, tcfg, exp_dir, device)
    return load_state(exp_dir / "epoch-1.pt")["history"][-1]["x_realtime"], util.mean


def main_loader(args, cfg: ModelConfig, max_frames: list[int]) -> None:
    from asr.nn.distributed import init_torchrun, rank, torchrun_env

    device = pick_device(args.device)
    if torchrun_env() is not None:
        _, device = init_torchrun(device)
    logging.basicConfig(level=logging.WARNING)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    with tempfile.TemporaryDirectory() as tmp:
        train_dir, dev_dir = write_random_data(Path(tmp), args.hours, cfg.input_dim, seed=0)
        if rank() == 0:
            print(f"model {cfg.layers}x{cfg.hidden} {cfg.frontend} x{cfg.subsampling}; one epoch of {args.hours} h; {where}; "
                  f"world size {torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1}")
        for frames in max_frames:
            for workers in args.workers:
                speed, util = time_training(cfg, train_dir, dev_dir, device, frames, workers,
                                            Path(tmp) / f"exp_{frames}_{workers}")
                if rank() == 0:
                    gpu = f", GPU busy {util:.0f}% of the time" if util is not None else ""
                    print(f"batches of {frames} frames, {workers} data worker(s): {speed:8.0f}x real time{gpu}", flush=True)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def lstm_macs_per_frame(cfg: ModelConfig, in_dim: int) -> int:
    """Multiply-adds of the BiLSTM layers' forward pass per output frame: 2 directions x 4H x (I + H) each."""
    macs, dim = 0, in_dim
    for _ in range(cfg.layers):
        macs += 2 * 4 * cfg.hidden * (dim + cfg.hidden)
        dim = 2 * cfg.hidden
    return macs


def gemm_gflops(steps: int, size: int = 2048) -> float:
    """The GEMM ceiling: GFLOP/s of torch.mm on two fp32 size x size matrices."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        a @ b
    t0 = time.perf_counter()
    for _ in range(steps):
        a @ b
    return steps * 2 * size**3 / (time.perf_counter() - t0) / 1e9


def time_lstm_layers(model: BiLSTMCTC, in_dim: int, batch: int, frames: int, steps: int) -> float:
    """Seconds per forward + backward of the model's BiLSTM layers alone (frames: input frames)."""
    t = -(-frames // model.cfg.subsampling)
    x = torch.randn(batch, t, in_dim, requires_grad=True)
    lengths = torch.full((batch,), t)

    def step() -> None:
        y = x
        for layer in model.lstms:
            y = layer(y, lengths)
        y.sum().backward()

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def report_flops(cfg: ModelConfig, batch: int, frames: int, steps: int) -> None:
    """How close the CPU training step runs to the core's GEMM ceiling (the --flops report)."""
    if cfg.proj > 0:
        raise SystemExit("--flops counts plain BiLSTM layers; this config has proj > 0")
    model = build_model(cfg)
    in_dim = model.frontend.output_dim if model.frontend is not None else cfg.input_dim * cfg.stack
    t_out = -(-frames // cfg.subsampling)
    lstm_flops = 3 * 2 * lstm_macs_per_frame(cfg, in_dim) * batch * t_out  # forward + backward (2x forward)
    peak = gemm_gflops(max(steps, 5))
    lstm_s = time_lstm_layers(model, in_dim, batch, frames, steps)
    speed, _ = time_model(model, torch.device("cpu"), batch, frames, steps, False)
    step_s = batch * frames * 0.01 / speed
    lstm_rate = lstm_flops / lstm_s / 1e9
    print(f"GEMM ceiling (torch.mm, 2048 x 2048 fp32): {peak:6.1f} GFLOP/s")
    print(f"BiLSTM layers alone, forward + backward:    {lstm_rate:6.1f} GFLOP/s = {lstm_rate / peak:.0%} of the ceiling "
          f"({lstm_flops / 1e9:.1f} GFLOP in {lstm_s * 1000:.0f} ms)")
    print(f"whole training step (front-end, LSTMs, output, CTC, AdamW): {step_s * 1000:.0f} ms = {speed:.0f}x real time; "
          f"the BiLSTM layers' FLOPs at their own rate take {lstm_s / step_s:.0%} of it")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="recipes/synth_en/conf/default.yaml", help="recipe config whose model section is timed")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    ap.add_argument("--seconds", type=float, default=3.0, help="utterance length in seconds (default: 3, the corpus's mean)")
    ap.add_argument("--max-frames", type=int, nargs="*", default=[],
                    help="padded frames per batch; with --workers several sizes (default: the config's train.max_frames)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per variant (default: 5)")
    ap.add_argument("--procs", type=int, nargs="*", default=[],
                    help="instead: time ours data-parallel over each of these numbers of one-thread CPU processes")
    ap.add_argument("--workers", type=int, nargs="*", default=[],
                    help="instead: time one epoch of the real training loop with each of these numbers of data workers")
    ap.add_argument("--flops", action="store_true",
                    help="instead: the BiLSTM layers' GFLOP/s against torch.mm's on this CPU (the GEMM ceiling)")
    ap.add_argument("--hours", type=float, default=0.5, help="with --workers: hours of random training features (default: 0.5)")
    args = ap.parse_args()

    import yaml

    raw = yaml.safe_load(open(args.config))
    cfg = ModelConfig(**raw.get("model", {}))
    cfg.vocab_size = 30
    max_frames = args.max_frames or [int(raw.get("train", {}).get("max_frames", 5000))]
    if args.workers:
        return main_loader(args, cfg, max_frames)
    max_frames = max_frames[0]
    frames = int(args.seconds * 100)
    batch = max(1, max_frames // frames)
    if args.procs:
        print(f"model {cfg.layers}x{cfg.hidden} {cfg.frontend} x{cfg.subsampling}; global batch {batch} x {args.seconds} s; "
              f"CPU data parallel ({torch.get_num_threads()} cores seen)")
        for n in args.procs:
            speed = time_data_parallel(cfg, n, batch, frames, args.steps)
            print(f"{n} process(es) of 1 thread: {speed:8.0f}x real time")
        return
    device = pick_device(args.device)
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = bool(raw.get("train", {}).get("mkldnn_lstm", True))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"model {cfg.layers}x{cfg.hidden} {cfg.frontend} x{cfg.subsampling}; batch {batch} x {args.seconds} s; {where}")
    if args.flops:
        if device.type != "cpu":
            raise SystemExit("--flops is a CPU report")
        return report_flops(cfg, batch, frames, args.steps)
    variants = [("fp32", False)] + ([("bf16", True)] if device.type == "cuda" else [])
    for name, bf16 in variants:
        torch.manual_seed(0)
        ours, util = time_model(build_model(cfg), device, batch, frames, args.steps, bf16)
        torch.manual_seed(0)
        peer, _ = time_model(PeerBiLSTM(cfg), device, batch, frames, args.steps, bf16)
        gpu = f" (GPU busy {util:.0f}%)" if util is not None else ""
        print(f"{name}: ours (exact on padding) {ours:8.0f}x real time{gpu} | nn.LSTM(bidirectional) {peer:8.0f}x | "
              f"ratio {ours / peer:.2f}")


if __name__ == "__main__":
    main()
