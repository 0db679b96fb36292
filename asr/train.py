"""CTC training loop: bucketed batches, SpecAugment, Adam with warm-up + cosine decay,
gradient clipping, per-epoch dev loss/CER, atomic checkpoints and resume after a kill.

Files written in exp_dir: train.log, curves.png, last.pt, epoch-N.pt, model.pt (see checkpoint.py).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from asr.batching import Batch, FeatureSet, bucket_batches
from asr.checkpoint import average_state_dicts, epoch_checkpoints, load_state, save_atomic
from asr.decode import decode_featureset
from asr.model import BiLSTMCTC
from asr.scoring import score
from asr.specaug import SpecAugConfig, spec_augment
from asr.tokens import TokenTable

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    epochs: int = 10
    max_frames: int = 12000  # padded input frames per batch (memory bound)
    max_utt_frames: int = 3000  # training utterances longer than this (30 s) are skipped
    lr: float = 2e-3  # peak learning rate
    warmup_steps: int = 300  # linear warm-up from 0 to lr
    final_lr_ratio: float = 0.05  # cosine decay ends at lr * final_lr_ratio
    weight_decay: float = 0.0
    grad_clip: float = 5.0  # max global gradient norm
    seed: int = 1
    num_threads: int = 0  # CPU intra-op threads; 0 = all cores
    mkldnn_lstm: bool = True  # oneDNN LSTM on CPU (measured faster here on our shapes)
    save_every_minutes: float = 5.0  # mid-epoch resume checkpoint period
    average_last: int = 2  # model.pt = average of the last N epoch checkpoints
    specaug: SpecAugConfig = field(default_factory=SpecAugConfig)


def lr_at(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Learning rate at optimizer step `step` (0-based)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    cos = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * (cfg.final_lr_ratio + (1 - cfg.final_lr_ratio) * cos)


def compute_loss(model: BiLSTMCTC, batch: Batch, device: torch.device) -> tuple[torch.Tensor, int]:
    """Summed CTC loss over the batch (fp32) and the number of target tokens."""
    log_probs, out_lengths = model(batch.feats.to(device), batch.feat_lengths.to(device))
    loss = torch.nn.functional.ctc_loss(
        log_probs.float().transpose(0, 1),  # [T', N, V]
        batch.targets.to(device),
        out_lengths,
        batch.target_lengths.to(device),
        blank=0,
        reduction="sum",
        zero_infinity=True,
    )
    return loss, int(batch.target_lengths.sum())


@torch.no_grad()
def evaluate(
    model: BiLSTMCTC, dev: FeatureSet, refs: dict[str, str], tokens: TokenTable, device: torch.device, max_frames: int
) -> tuple[float, float]:
    """Dev CTC loss per token and dev CER (%) with greedy decoding."""
    model.eval()
    total, count = 0.0, 0
    for utts in bucket_batches(dev.lengths, max_frames):
        loss, n = compute_loss(model, dev.batch(utts), device)
        total, count = total + float(loss), count + n
    hyps = decode_featureset(model, dev, tokens, device, max_frames)
    report = score({u: refs[u] for u in hyps}, {u: h.text for u, h in hyps.items()}, char_level=True)
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
    tmp = path.with_name(".curves.tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)


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


def train(
    model: BiLSTMCTC,
    train_set: FeatureSet,
    dev_set: FeatureSet,
    dev_refs: dict[str, str],
    tokens: TokenTable,
    cfg: TrainConfig,
    exp_dir: Path,
    device: torch.device,
) -> Path:
    """Train (or resume) and write exp_dir/model.pt; returns its path."""
    torch.manual_seed(cfg.seed)
    torch.backends.mkldnn.enabled = cfg.mkldnn_lstm
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    lengths = {u: n for u, n in train_set.lengths.items() if n <= cfg.max_utt_frames}
    skipped = len(train_set.lengths) - len(lengths)
    if skipped:
        log.warning("skipping %d training utterances longer than %d frames", skipped, cfg.max_utt_frames)
    steps_per_epoch = len(bucket_batches(lengths, cfg.max_frames, shuffle=True, seed=cfg.seed))
    total_steps = steps_per_epoch * cfg.epochs

    start_epoch, start_batch, step, history = 1, 0, 0, []
    resumed_totals = {"loss": 0.0, "tokens": 0, "frames": 0, "seconds": 0.0}
    last = exp_dir / "last.pt"
    if last.exists():
        state = load_state(last, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, start_batch, step = state["epoch"], state["batch_idx"], state["step"]
        history = list(state["history"])
        resumed_totals = dict(state.get("totals", resumed_totals))
        log.info("resuming from %s: epoch %d, batch %d, step %d", last, start_epoch, start_batch, step)

    gen = torch.Generator().manual_seed(cfg.seed * 1000 + start_epoch * 7 + start_batch)
    for epoch in range(start_epoch, cfg.epochs + 1):
        batches = bucket_batches(lengths, cfg.max_frames, shuffle=True, seed=cfg.seed * 100003 + epoch)
        first = start_batch if epoch == start_epoch else 0
        model.train()
        totals = resumed_totals if epoch == start_epoch else {"loss": 0.0, "tokens": 0, "frames": 0, "seconds": 0.0}
        tot_loss, tot_tokens, audio_frames = totals["loss"], totals["tokens"], totals["frames"]
        t0, last_save = time.time() - totals["seconds"], time.time()
        bar = tqdm(range(first, len(batches)), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False)
        for bi in bar:
            batch = train_set.batch(batches[bi])
            batch.feats = spec_augment(batch.feats, batch.feat_lengths, cfg.specaug, gen)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total_steps, cfg)
            loss, ntok = compute_loss(model, batch, device)
            opt.zero_grad(set_to_none=True)
            (loss / max(1, ntok)).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            tot_loss, tot_tokens = tot_loss + loss.item(), tot_tokens + ntok
            audio_frames += int(batch.feat_lengths.sum())
            bar.set_postfix(loss=f"{tot_loss / max(1, tot_tokens):.3f}", lr=f"{opt.param_groups[0]['lr']:.1e}")
            if time.time() - last_save > cfg.save_every_minutes * 60:
                totals = {"loss": tot_loss, "tokens": tot_tokens, "frames": audio_frames, "seconds": time.time() - t0}
                save_atomic(_training_state(model, opt, epoch, bi + 1, step, history, totals), last)
                last_save = time.time()
        bar.close()
        elapsed = time.time() - t0
        # Survive a kill during the dev evaluation without losing this epoch's training totals.
        totals = {"loss": tot_loss, "tokens": tot_tokens, "frames": audio_frames, "seconds": elapsed}
        save_atomic(_training_state(model, opt, epoch, len(batches), step, history, totals), last)
        dev_loss, dev_cer = evaluate(model, dev_set, dev_refs, tokens, device, cfg.max_frames * 2)
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

    ckpts = [p for e, p in epoch_checkpoints(exp_dir) if e <= cfg.epochs][-max(1, cfg.average_last) :]
    log.info("model.pt = average of %s", ", ".join(p.name for p in ckpts))
    save_atomic(average_state_dicts(ckpts), exp_dir / "model.pt")
    return exp_dir / "model.pt"
