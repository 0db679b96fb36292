"""Training batches made in worker processes: read, padded and SpecAugmented off the training loop.

    batches [B] lists of utterance ids (the global batches of one epoch, asr.data.batching)
      --rank's share: batch[rank::world]--> FeatureSet.batch --> spec_augment (seeds per utterance)
      --> Batch (pinned when the model is on CUDA), in batch order, from index `first` on

With num_workers = 0 the same work happens in the calling process, so a run gives the same
batches, and the same parameters, with any number of workers: SpecAugment draws from each
utterance's own seed (asr.data.specaug.utterance_seed), never from a process's generator.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import DataLoader, Dataset

from asr.data.batching import Batch, FeatureSet
from asr.data.specaug import SpecAugConfig, spec_augment, utterance_seed


class RankBatches(Dataset):
    """Item i: this rank's share of global batch i, ready for the model; None when the share is empty."""

    def __init__(self, feature_set: FeatureSet, batches: list[list[str]], rank: int, world: int,
                 specaug: SpecAugConfig, seed: int, epoch: int) -> None:
        self.feature_set, self.batches = feature_set, batches
        self.rank, self.world = rank, world
        self.specaug, self.seed, self.epoch = specaug, seed, epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> Batch | None:
        mine = self.batches[i][self.rank :: self.world]
        if not mine:
            return None
        batch = self.feature_set.batch(mine)
        seeds = [utterance_seed(self.seed, self.epoch, u) for u in mine]
        batch.feats = spec_augment(batch.feats, batch.feat_lengths, self.specaug, seeds=seeds)
        return batch


def _identity(item):
    return item


def rank_batches(dataset: RankBatches, first: int = 0, num_workers: int = 0, pin_memory: bool = False,
                 ) -> Iterator[Batch | None]:
    """dataset[first], dataset[first + 1], ... in order; made by num_workers processes when > 0."""
    if num_workers <= 0:
        for i in range(first, len(dataset)):
            batch = dataset[i]
            yield batch.pin_memory() if pin_memory and batch is not None else batch
        return
    loader = DataLoader(dataset, batch_size=None, sampler=range(first, len(dataset)), num_workers=num_workers,
                        collate_fn=_identity, pin_memory=pin_memory, prefetch_factor=4)
    yield from loader
