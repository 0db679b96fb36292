"""The CTC training loop of one rank: bucketed batches, SpecAugment, AdamW on the schedule of
asr.nn.schedule, gradient clipping, per-epoch dev loss/CER, atomic checkpoints and resume after a kill,
and model.pt as the average of the last epochs. asr.nn.launch.train starts it on every rank.

Files written in exp_dir: train.log, curves.png, last.pt, epoch-N.pt, model.pt (see checkpoint.py).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from asr.data.batching import Batch, FeatureSet, bucket_batches
from asr.data.loader import RankBatches, rank_batches
from asr.data.tokens import TokenTable
from asr.decoding.greedy import GreedyDecoder
from asr.decoding.loop import decode_batches, feature_batches
from asr.fileio import atomic_output
from asr.nn.checkpoint import (
    average_state_dicts,
    epoch_checkpoints,
    load_state,
    save_atomic,
)
from asr.nn.distributed import sum_gradients
from asr.nn.model import BiLSTMCTC
from asr.nn.modeldir import ModelDir
from asr.nn.schedule import TrainConfig, batch_frames, lr_at, use_bf16, warmup_steps
from asr.scoring.wer import score

log = logging.getLogger(__name__)
POSTFIX_EVERY = 10  # training steps between read-backs of the running loss (each one waits for the GPU)


def ctc_loss_sum(log_probs: torch.Tensor, out_lengths: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Summed CTC loss (fp32) of log_probs [N, T', V] against the batch's targets."""
    device = log_probs.device
    return torch.nn.functional.ctc_loss(
        log_probs.float().transpose(0, 1),  # [T', N, V]
        batch.targets.to(device),
        out_lengths,
        batch.target_lengths.to(device),
        blank=0,
        reduction="sum",
        zero_infinity=True,
    )


def compute_loss(model: BiLSTMCTC, batch: Batch, device: torch.device, bf16: bool = False) -> tuple[torch.Tensor, int]:
    """Summed CTC loss over the batch (always fp32) and the number of target tokens."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        log_probs, out_lengths = model(batch.feats.to(device, non_blocking=True), batch.feat_lengths.to(device))
    return ctc_loss_sum(log_probs, out_lengths, batch), int(batch.target_lengths.sum())


def evaluate(
    model: BiLSTMCTC, dev: FeatureSet, refs: dict[str, str], tokens: TokenTable, device: torch.device, max_frames: int
) -> tuple[float, float]:
    """Dev CTC loss per token and dev CER (%) with greedy decoding, from one forward pass per batch."""
    model.eval()
    total, count, hyps = 0.0, 0, {}
    for out in decode_batches(model, feature_batches(dev, max_frames), {"greedy": GreedyDecoder(tokens)}, device):
        total += float(ctc_loss_sum(out.log_probs, out.lengths, out.batch))
        count += int(out.batch.target_lengths.sum())
        hyps.update((u, h.text) for u, h in zip(out.utts, out.hyps["greedy"]))
    report = score({u: refs[u] for u in hyps}, hyps, char_level=True)
    return total / max(1, count), report.total.wer


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["dev_loss"] for h in history], "o-", label="dev")
    ax1.set_xlabel("epoch"), ax1.set_ylabel("CTC loss per token"), ax1.legend(), ax1.grid(alpha=0.3)
    ax2.plot(epochs, [h["dev_cer"] for h in history], "o-", color="C2")
    ax2.set_xlabel("epoch"), ax2.set_ylabel("dev CER (%)"), ax2.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def _training_state(
    model, opt, epoch: int, batch_idx: int, step: int, history: list[dict], totals: dict | None = None
) -> dict:
    return {
        "totals": totals or {"loss": 0.0, "tokens": 0, "frames": 0, "seconds": 0.0},  # of the epoch in progress
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": epoch,  # epoch in progress (1-based)
        "batch_idx": batch_idx,  # batches of that epoch already done
        "step": step,
        "history": history,
    }


def _log_to(exp_dir: Path, rank: int, world: int) -> logging.Handler | None:
    """Rank 0 writes this module's INFO messages to exp_dir/train.log (and, in a spawned worker, to stderr)."""
    if rank != 0:
        return None
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    if world > 1 and not logging.getLogger().handlers:  # a spawned process starts unconfigured
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        logging.getLogger().addHandler(stream)
        logging.getLogger().setLevel(logging.INFO)
    handler = logging.FileHandler(exp_dir / "train.log")
    handler.setFormatter(fmt)
    log.addHandler(handler)
    log.setLevel(logging.INFO)  # train.log is complete whatever the caller's logging level
    return handler


def run_rank(rank: int, world: int, model: BiLSTMCTC, *args) -> None:
    """The training loop of one rank, with rank 0 logging to exp_dir/train.log."""
    exp_dir = args[-2]
    handler = _log_to(exp_dir, rank, world)
    try:
        _train_loop(rank, world, model, *args)
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()


def _train_loop(
    rank: int,
    world: int,
    model: BiLSTMCTC,
    train_set: FeatureSet,
    dev_set: FeatureSet,
    dev_refs: dict[str, str],
    tokens: TokenTable,
    cfg: TrainConfig,
    exp_dir: Path,
    device: torch.device,
) -> None:
    torch.manual_seed(cfg.seed + rank)
    torch.backends.mkldnn.enabled = cfg.mkldnn_lstm
    bf16 = use_bf16(cfg.amp, device)
    model.to(device)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    lengths = {u: n for u, n in train_set.lengths.items() if n <= cfg.max_utt_frames}
    skipped = len(train_set.lengths) - len(lengths)
    if skipped and rank == 0:
        log.warning("skipping %d training utterances longer than %d frames", skipped, cfg.max_utt_frames)
    max_frames = batch_frames(lengths, cfg)
    steps_per_epoch = len(bucket_batches(lengths, max_frames, shuffle=True, seed=cfg.seed))
    total_steps = steps_per_epoch * cfg.epochs
    if rank == 0:
        log.info("%d updates (%d per epoch, batches of up to %d frames), warm-up %d", total_steps, steps_per_epoch,
                 max_frames, warmup_steps(total_steps, cfg))

    start_epoch, start_batch, step, history = 1, 0, 0, []
    resumed_totals = {"loss": 0.0, "tokens": 0, "frames": 0, "seconds": 0.0}
    last = exp_dir / ModelDir.LAST
    if last.exists():
        state = load_state(last, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, start_batch, step = state["epoch"], state["batch_idx"], state["step"]
        history = list(state["history"])
        resumed_totals = dict(state.get("totals", resumed_totals))
        if rank == 0:
            log.info("resuming from %s: epoch %d, batch %d, step %d", last, start_epoch, start_batch, step)
    if rank == 0:
        log.info("training on %s (%s) with %d process(es), %d batches per epoch", device, "bf16 autocast" if bf16 else "fp32",
                 world, steps_per_epoch)

    for epoch in range(start_epoch, cfg.epochs + 1):
        shuffle = epoch > cfg.sortagrad_epochs
        batches = bucket_batches(lengths, max_frames, shuffle=shuffle, seed=cfg.seed * 100003 + epoch)
        first = start_batch if epoch == start_epoch else 0
        model.train()
        totals = resumed_totals if epoch == start_epoch else {"loss": 0.0, "tokens": 0, "frames": 0, "seconds": 0.0}
        tot_loss, tot_tokens, audio_frames = totals["loss"], totals["tokens"], totals["frames"]
        t0, last_save = time.time() - totals["seconds"], time.time()
        bar = tqdm(range(first, len(batches)), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False,
                   disable=rank != 0)
        made = rank_batches(RankBatches(train_set, batches, rank, world, cfg.specaug, cfg.seed, epoch), first,
                            cfg.num_workers, pin_memory=device.type == "cuda")
        pending = torch.zeros(3, dtype=torch.float64, device=device)
        for bi, batch in zip(bar, made):
            # Every process knows the whole batch's token count, so the per-token loss is exact.
            batch_tokens = sum(len(train_set.targets[u]) for u in batches[bi]) if train_set.targets else 0
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total_steps, cfg)
            opt.zero_grad(set_to_none=True)
            # loss sum, tokens, frames of this step; on the model's device, so that no step waits for the
            # GPU to finish (read back every POSTFIX_EVERY steps and when saving)
            stats = torch.zeros(3, dtype=torch.float64, device=device)
            if batch is not None:
                loss, ntok = compute_loss(model, batch, device, bf16)
                (loss / max(1, batch_tokens)).backward()
                stats[0] += loss.detach().double()
                stats[1] += ntok
                stats[2] += int(batch.feat_lengths.sum())
            if world > 1:
                sum_gradients(params)
                dist.all_reduce(stats)  # nccl on CUDA, gloo on the CPU: stats live where the model does
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            step += 1
            pending += stats
            due = cfg.save_every_steps > 0 and step % cfg.save_every_steps == 0
            saving = rank == 0 and (due or time.time() - last_save > cfg.save_every_minutes * 60)
            if saving or step % POSTFIX_EVERY == 0 or bi + 1 == len(batches):
                done = pending.tolist()
                pending.zero_()
                tot_loss, tot_tokens, audio_frames = tot_loss + done[0], tot_tokens + int(done[1]), audio_frames + int(done[2])
                bar.set_postfix(loss=f"{tot_loss / max(1, tot_tokens):.3f}", lr=f"{opt.param_groups[0]['lr']:.1e}")
            if saving:
                totals = {"loss": tot_loss, "tokens": tot_tokens, "frames": audio_frames, "seconds": time.time() - t0}
                save_atomic(_training_state(model, opt, epoch, bi + 1, step, history, totals), last)
                last_save = time.time()
        bar.close()
        elapsed = time.time() - t0
        if rank == 0:
            # Survive a kill during the dev evaluation without losing this epoch's training totals.
            totals = {"loss": tot_loss, "tokens": tot_tokens, "frames": audio_frames, "seconds": elapsed}
            save_atomic(_training_state(model, opt, epoch, len(batches), step, history, totals), last)
            dev_loss, dev_cer = evaluate(model, dev_set, dev_refs, tokens, device, max_frames * 2)
            entry = {
                "epoch": epoch,
                "train_loss": tot_loss / max(1, tot_tokens),
                "dev_loss": dev_loss,
                "dev_cer": dev_cer,
                "seconds": elapsed,
                "x_realtime": audio_frames * 0.01 / max(elapsed, 1e-9),
            }
            history.append(entry)
            log.info(
                "epoch %d: train loss %.4f, dev loss %.4f, dev CER %.2f%%, %.0f s (%.1fx real time)",
                epoch, entry["train_loss"], dev_loss, dev_cer, elapsed, entry["x_realtime"],
            )
            state = _training_state(model, opt, epoch + 1, 0, step, history)
            save_atomic(state, exp_dir / f"epoch-{epoch}.pt")
            save_atomic(state, last)
            plot_curves(history, exp_dir / "curves.png")
        if world > 1:
            dist.barrier()  # the other ranks wait for rank 0's evaluation and checkpoint


def average_into_model_pt(exp_dir: Path, cfg: TrainConfig) -> Path:
    ckpts = [p for e, p in epoch_checkpoints(exp_dir) if e <= cfg.epochs][-max(1, cfg.average_last) :]
    log.info("model.pt = average of %s", ", ".join(p.name for p in ckpts))
    save_atomic(average_state_dicts(ckpts), exp_dir / ModelDir.WEIGHTS)
    return exp_dir / ModelDir.WEIGHTS
