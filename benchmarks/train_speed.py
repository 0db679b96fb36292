"""Training throughput of the acoustic model, in times real time, against torch's own BiLSTM.

Times forward + CTC loss + backward + AdamW step on random features of the default recipe's
shapes (batches of `--max-frames` padded frames, utterances of `--seconds` s), on the chosen
device, for:

- ours: asr.nn.model.BiLSTMCTC, whose BiLSTMLayer is exact on padded batches;
- peer: the same sizes with one nn.LSTM(bidirectional=True) per layer on the padded batch (what
  most code does; its backward direction starts in the padding, so it is not exact);

each in fp32, and on CUDA also with bf16 autocast (the recipe's default there: train.amp auto).

    .venv/bin/python benchmarks/train_speed.py --threads 1            # CPU, one thread
    .venv/bin/python benchmarks/train_speed.py --procs 1 2            # ours, data-parallel over 1 and 2 processes
    python3 benchmarks/train_speed.py --device cuda                    # a GPU machine

--procs N times the training code's own CPU data parallelism (asr.nn.train with train.num_procs, or
torchrun on the CPU): N one-thread gloo processes, each on its share of the global batch, gradients
summed in one flat all-reduce per step (asr.nn.train._sync_grads).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn

from asr.device import pick_device
from asr.nn.model import BiLSTMCTC, ModelConfig


class PeerBiLSTM(nn.Module):
    """Same sizes as BiLSTMCTC, but nn.LSTM(bidirectional=True, num_layers=L) on the padded batch."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lstm = nn.LSTM(cfg.input_dim * cfg.stack, cfg.hidden, num_layers=cfg.layers, bidirectional=True,
                            batch_first=True, dropout=cfg.dropout)
        self.output = nn.Linear(2 * cfg.hidden, cfg.vocab_size)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        n, t, d = feats.shape
        s = self.cfg.stack
        t2 = t // s
        x = feats[:, : t2 * s].reshape(n, t2, s * d)
        y, _ = self.lstm(x)
        return self.output(y).log_softmax(-1), torch.div(lengths, s, rounding_mode="floor")


def time_model(model: nn.Module, device: torch.device, batch: int, frames: int, steps: int, bf16: bool) -> float:
    """Seconds of audio trained per second of wall time."""
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
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    return steps * batch * frames * 0.01 / wall


def _ddp_worker(rank: int, world: int, init: str, cfg: ModelConfig, batch: int, frames: int, steps: int, out) -> None:
    import torch.distributed as dist

    from asr.nn.train import _sync_grads

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = BiLSTMCTC(cfg).train()
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="recipes/synth_en/conf/default.yaml", help="recipe config whose model section is timed")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    ap.add_argument("--seconds", type=float, default=3.0, help="utterance length in seconds (default: 3, the corpus's mean)")
    ap.add_argument("--max-frames", type=int, default=0, help="padded frames per batch (default: the config's train.max_frames)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per variant (default: 5)")
    ap.add_argument("--procs", type=int, nargs="*", default=[],
                    help="instead: time ours data-parallel over each of these numbers of one-thread CPU processes")
    args = ap.parse_args()

    import yaml

    raw = yaml.safe_load(open(args.config))
    cfg = ModelConfig(**raw.get("model", {}))
    cfg.vocab_size = 30
    max_frames = args.max_frames or int(raw.get("train", {}).get("max_frames", 5000))
    frames = int(args.seconds * 100)
    batch = max(1, max_frames // frames)
    if args.procs:
        print(f"model {cfg.layers}x{cfg.hidden} stack {cfg.stack}; global batch {batch} x {args.seconds} s; "
              f"CPU data parallel ({torch.get_num_threads()} cores seen)")
        for n in args.procs:
            speed = time_data_parallel(cfg, n, batch, frames, args.steps)
            print(f"{n} process(es) of 1 thread: {speed:8.0f}x real time")
        return
    device = pick_device(args.device)
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = bool(raw.get("train", {}).get("mkldnn_lstm", True))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"model {cfg.layers}x{cfg.hidden} stack {cfg.stack}; batch {batch} x {args.seconds} s; {where}")
    variants = [("fp32", False)] + ([("bf16", True)] if device.type == "cuda" else [])
    for name, bf16 in variants:
        torch.manual_seed(0)
        ours = time_model(BiLSTMCTC(cfg), device, batch, frames, args.steps, bf16)
        torch.manual_seed(0)
        peer = time_model(PeerBiLSTM(cfg), device, batch, frames, args.steps, bf16)
        print(f"{name}: ours (exact on padding) {ours:8.0f}x real time | nn.LSTM(bidirectional) {peer:8.0f}x | ratio {ours / peer:.2f}")


if __name__ == "__main__":
    main()
