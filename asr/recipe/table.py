"""The stage table every recipe shares: stages 1-7 (see asr.recipe.stages for what each reads and writes).

    stages = [Stage(0, "prepare", prepare), *model_stages(cfg, work, device, command)]

A recipe adds its stage 0 (corpus preparation) in front and may replace a stage by number
(TIMIT scores phones on 39).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import torch

from asr.config import ConfigError
from asr.errors import AsrError
from asr.nn.modeldir import ModelDir
from asr.recipe.decode_stages import decode_stage, score_stage, tune_lm_stage
from asr.recipe.runner import Stage, stage_seconds
from asr.recipe.stages import (
    ModelStagesConfig,
    features_stage,
    init_dir,
    lm_stage,
    tokens_stage,
    train_stage,
)

log = logging.getLogger(__name__)


def init_tokens(init_from: str, work: Path) -> str | None:
    """What stage 2 takes from train.init_from: the SHA-1 of its tokens.txt (not its path: fine-tuning passes
    from models with one token table make the same data/lang/tokens.txt); the path while it is not there yet."""
    if not init_from:
        return None
    try:
        init = init_dir(init_from, work)
    except AsrError:  # not trained yet: stage 4 of the experiment before it will make it
        return init_from
    return hashlib.sha1((init.path / ModelDir.TOKENS).read_bytes()).hexdigest()


def model_stages(
    cfg: ModelStagesConfig, work: Path, device: torch.device, command: str, heldout_speakers: list[str] | None = None
) -> list[Stage]:
    """Stages 1-7 on work/data/{train,dev,<decode_sets>} into work/exp/<tag>: the part every recipe shares.

    Stages 3 (lm) and 6 (tune_lm) do their work only when cfg.decoding.decoders has 'lm'."""
    data, exp, dec = work / "data", work / "exp" / cfg.tag, cfg.decoding
    dec.check()
    sets = list(dict.fromkeys(["train", "dev", *cfg.decode_sets]))
    heldout = list(heldout_speakers or [])
    uses_lm = dec.uses_lm

    def only_with_lm(run: Callable[[], None]) -> Callable[[], None]:
        def stage() -> None:
            if not uses_lm:
                log.info("decoding.decoders has no decoder that reads the LM: nothing to do")
                return
            if cfg.tokens.unit != "char":
                raise ConfigError(f"the LM decoders spell words with characters: they need tokens.unit 'char', not {cfg.tokens.unit!r}")
            run()
        return stage

    no_lm = list(dec.no_lm_decoders())
    return [
        Stage(1, "features", shared=True, run=lambda: features_stage(data, sets, cfg.features, cfg.nj),
              settings={"features": cfg.features, "sets": sets}),
        Stage(2, "tokens", shared=True, run=lambda: tokens_stage(data, cfg.tokens, init_dir(cfg.train.init_from, work)),
              settings={"tokens": cfg.tokens, "init_tokens": init_tokens(cfg.train.init_from, work)}),
        Stage(3, "lm", shared=True, run=only_with_lm(lambda: lm_stage(data, cfg.lm, cfg.decode_sets)),
              settings={"lm": cfg.lm if uses_lm else None}),
        Stage(4, "train", lambda: train_stage(data, exp, cfg.model, cfg.features, cfg.train, device), distributed=True,
              settings={"model": cfg.model, "train": cfg.train}),
        Stage(5, "decode", lambda: decode_stage(data, exp, cfg.decode_sets, device, dec.no_lm_decoders(), dec.max_frames,
                                                all_ranks=True, nj=cfg.nj),
              distributed=True, settings={"decode_sets": cfg.decode_sets, "decoders": no_lm,
                                          "beam": dec.decoder.beam if "beam" in no_lm else None}),
        Stage(6, "tune_lm", only_with_lm(lambda: tune_lm_stage(data, exp, cfg.decode_sets, device, dec, nj=cfg.nj)),
              settings={"decoding": dec if uses_lm else None, "decode_sets": cfg.decode_sets if uses_lm else None}),
        Stage(7, "score", lambda: score_stage(data, exp, cfg.decode_sets, heldout, stage_seconds(exp / ".stages"),
                                              command, dec.decoders),
              settings={"decode_sets": cfg.decode_sets, "decoders": dec.decoders, "heldout": heldout}),
    ]
