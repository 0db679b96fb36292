"""Word n-gram LM training at scale (NumPy): counting, Kneser-Ney estimation, pruning, ARPA output.

    train_kn_arpa(sentences, path, order, vocab=, max_vocab=, min_counts=) -> KNStats   (asr/lm/kneser_ney.py)
    LMConfig: the recipe's `lm` section                                                  (asr/lm/config.py)

Reading, scoring and the lexicon stay in asr/decoding/lm.py, whose train_arpa (kaldingram) this
package's estimator matches when nothing is pruned.
"""

from asr.lm.config import LMConfig
from asr.lm.kneser_ney import KNError, KNStats, train_kn_arpa

__all__ = ["KNError", "KNStats", "LMConfig", "train_kn_arpa"]
