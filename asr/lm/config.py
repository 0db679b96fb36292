"""The recipe's `lm` section: what the word LM of stage 3 (asr.recipe.stages.lm_stage) is trained on and how it is pruned."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LMConfig:
    order: int = 3  # n-gram order of the word LM trained on data/train/text...
    extra_text: list[str] = field(default_factory=list)  # ...and on these files (one sentence per line; relative to data/)
    # word lists (relative to data/, whitespace-separated): words the texts lack join the LM and lexicon as
    # unigrams sharing <unk>'s probability, so the lexicon decoder can spell them (train_arpa's vocab)
    extra_vocab: list[str] = field(default_factory=list)
    # pruning (either set: the LM is trained by asr.lm.train_kn_arpa, the same Kneser-Ney model, scalable to
    # book text): keep the max_vocab most frequent words (0: all; the others are counted as <unk>, and the
    # lexicon gets only the LM's words plus the training transcripts'), and drop the n-grams of order k whose
    # count is below min_counts[k-1] (e.g. [1, 2, 2]; their mass goes to the back-off weights)
    max_vocab: int = 0
    min_counts: list[int] = field(default_factory=list)
