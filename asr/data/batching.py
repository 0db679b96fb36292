"""Length-bucketed batching of stored features.

A batch is a list of utterance ids whose padded size (count x longest) stays under a frame
budget, so memory is bounded by `max_frames` whatever the utterance lengths.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import kaldiio
import numpy as np
import torch


def bucket_batches(
    lengths: dict[str, int], max_frames: int, *, shuffle: bool = False, seed: int = 0, max_utts: int = 512
) -> list[list[str]]:
    """Group utterances of similar length so that len(batch) * max_len <= max_frames.

    lengths: utt -> frames. An utterance longer than max_frames gets a batch of its own.
    With shuffle, lengths are jittered by up to 10% before sorting (so batches differ between
    epochs) and the batch order is shuffled; everything is a function of `seed`.
    """
    rng = random.Random(seed)
    if shuffle:
        key = {u: n * (1.0 + 0.1 * rng.random()) for u, n in lengths.items()}
    else:
        key = {u: float(n) for u, n in lengths.items()}
    order = sorted(lengths, key=lambda u: (key[u], u))
    batches: list[list[str]] = []
    current: list[str] = []
    longest = 0
    for utt in order:
        n = lengths[utt]
        new_longest = max(longest, n)
        if current and ((len(current) + 1) * new_longest > max_frames or len(current) >= max_utts):
            batches.append(current)
            current, new_longest = [], n
        current.append(utt)
        longest = new_longest
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


def pad_features(feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of [T_i, D] -> (padded [N, T_max, D] zeros after each T_i, lengths [N])."""
    lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
    out = torch.zeros(len(feats), int(lengths.max()) if len(feats) else 0, feats[0].shape[1] if feats else 0)
    for i, f in enumerate(feats):
        out[i, : f.shape[0]] = f
    return out, lengths


@dataclass
class Batch:
    utts: list[str]
    feats: torch.Tensor  # [N, T, D] float32, zero padded
    feat_lengths: torch.Tensor  # [N] frames
    targets: torch.Tensor  # [N, L] token ids, zero padded
    target_lengths: torch.Tensor  # [N]

    def pin_memory(self) -> Batch:
        """A copy in page-locked memory (DataLoader(pin_memory=True) calls it): faster, asynchronous host-to-GPU copies."""
        return Batch(self.utts, self.feats.pin_memory(), self.feat_lengths.pin_memory(), self.targets.pin_memory(),
                     self.target_lengths.pin_memory())


class FeatureSet:
    """Features of one data dir (feats.scp + utt2num_frames) with optional token targets."""

    def __init__(self, data_dir: str | Path, targets: dict[str, list[int]] | None = None) -> None:
        data_dir = Path(data_dir)
        self.data_dir = data_dir
        self.feats = kaldiio.load_scp(str(data_dir / "feats.scp"))
        self.lengths: dict[str, int] = {}
        for line in (data_dir / "utt2num_frames").read_text().splitlines():
            utt, n = line.split()
            self.lengths[utt] = int(n)
        self.targets = targets

    def __getstate__(self) -> dict:  # for worker processes: reopen the arks there
        return {"data_dir": self.data_dir, "targets": self.targets}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["data_dir"], state["targets"])

    def load(self, utt: str) -> torch.Tensor:
        return torch.from_numpy(np.array(self.feats[utt], dtype=np.float32))  # copy: kaldiio's array is read-only

    def batch(self, utts: list[str]) -> Batch:
        feats, lengths = pad_features([self.load(u) for u in utts])
        tgt = [self.targets[u] for u in utts] if self.targets is not None else [[] for _ in utts]
        target_lengths = torch.tensor([len(t) for t in tgt], dtype=torch.long)
        targets = torch.zeros(len(utts), max(1, int(target_lengths.max())), dtype=torch.long)
        for i, t in enumerate(tgt):
            targets[i, : len(t)] = torch.tensor(t, dtype=torch.long)
        return Batch(utts, feats, lengths, targets, target_lengths)
