"""A model directory, and the one place that knows its file names.

The recipe's exp/<tag>/ and an `asr export` folder have the same layout:

    config.yaml    model + feature config (plain YAML)
    tokens.txt     token table
    cmvn.stats     global CMVN statistics (Kaldi text matrix; also inside the weights as buffers)
    model.pt       inference weights: a plain state dict (loaded with weights_only=True)
    decoder.yaml   the decoder `asr transcribe` uses by default (written by the recipe's LM tuning)
    lm.arpa, lexicon.txt   the word LM (or lm.arpa.gz, lexicon.txt.gz, from `asr export --gzip-lm`) and lexicon decoder.yaml names
    RESULTS.md     the recipe's scores
    last.pt, epoch-N.pt    training state (exp/<tag> only; see asr/nn/train.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from asr.config import from_dict, load_yaml, save_yaml, to_dict
from asr.data.features import FbankConfig
from asr.data.tokens import TokenTable, read_tokens
from asr.decoding.base import DecoderConfig
from asr.errors import AsrError, MissingInputError
from asr.nn.checkpoint import load_state
from asr.nn.model import BiLSTMCTC, ModelConfig, build_model


class ModelDirError(AsrError, RuntimeError):
    """A model directory's file exists but cannot be used; the message names it."""


@dataclass(frozen=True)
class ModelDir:
    path: Path

    CONFIG = "config.yaml"
    TOKENS = "tokens.txt"
    CMVN = "cmvn.stats"
    WEIGHTS = "model.pt"
    DECODER = "decoder.yaml"
    LM = "lm.arpa"
    LEXICON = "lexicon.txt"
    RESULTS = "RESULTS.md"
    LAST = "last.pt"  # training state for resuming
    INFERENCE_FILES = (CONFIG, TOKENS, WEIGHTS)  # what transcription cannot do without

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def check_complete(self) -> None:
        """Raise MissingInputError naming the first file transcription needs that is missing."""
        for name in self.INFERENCE_FILES:
            if not (self.path / name).is_file():
                hint = " (has training finished?)" if name == self.WEIGHTS else ""
                raise MissingInputError(f"{self.path / name}: missing; {self.path} is not a complete model directory{hint}")

    def write_config(self, model_cfg: ModelConfig, fbank_cfg: FbankConfig) -> None:
        """config.yaml (model + features), so that the folder alone can rebuild the model."""
        save_yaml({"model": to_dict(model_cfg), "features": to_dict(fbank_cfg)}, self.path / self.CONFIG)

    def read_config(self) -> tuple[ModelConfig, FbankConfig]:
        path = self.path / self.CONFIG
        if not path.is_file():
            raise MissingInputError(f"{path}: no model config; is {self.path} a model directory?")
        import yaml

        data = yaml.safe_load(path.read_text()) or {}
        return (from_dict(ModelConfig, ModelConfig.upgrade(data.get("model", {})), f"{path}:model"),
                from_dict(FbankConfig, data.get("features", {}), f"{path}:features"))

    def read_tokens(self) -> TokenTable:
        return read_tokens(self.path / self.TOKENS)

    def load_weights(self) -> dict[str, torch.Tensor]:
        path = self.path / self.WEIGHTS
        if not path.is_file():
            raise MissingInputError(f"{path}: no trained weights (has training finished?)")
        try:
            return load_state(path)
        except Exception as e:  # a corrupt, truncated or foreign file: say which
            raise ModelDirError(f"{path}: cannot load the weights: {e}") from None

    def build_model(self, device: torch.device | str = "cpu") -> BiLSTMCTC:
        """The model of config.yaml with the weights of model.pt, on `device`, in eval mode."""
        model_cfg, _ = self.read_config()
        model = build_model(model_cfg)
        model.load_state_dict(self.load_weights())
        return model.to(device).eval()

    def read_decoder_config(self) -> DecoderConfig | None:
        """decoder.yaml as a DecoderConfig, or None when there is none."""
        path = self.path / self.DECODER
        return load_yaml(DecoderConfig, path) if path.is_file() else None

    def write_decoder_config(self, cfg: DecoderConfig) -> None:
        save_yaml(cfg, self.path / self.DECODER)
