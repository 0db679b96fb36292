"""The models that ship with the repository: `asr transcribe` and `asr.load_model()` use the default one
when no model directory is given, and a recipe's `train.init_from: bundled[:NAME]` starts from one.

    models/en/         the default: real English speech (recipes/en, then `asr export --half --gzip-lm`)
    models/en_synth/   trained only on synthetic speech (`make model CONFIG=...`: recipes/synth_en); the
                       start recipes/en fine-tunes (`init_from: bundled:en_synth`)

Each model's README.md says what it was trained on and what it scores.
"""

from __future__ import annotations

from pathlib import Path

from asr.errors import MissingInputError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_NAME = "en"
BUNDLED_MODEL = MODELS_DIR / DEFAULT_NAME


def bundled_model_dir(name: str | None = None) -> Path:
    """models/<name> (default: models/en, BUNDLED_MODEL) of the repository this package runs from;
    MissingInputError if it is not there (a wheel installed without the repository carries no model)."""
    from asr.nn.modeldir import ModelDir  # (torch: only when a model is about to be loaded anyway)

    path = BUNDLED_MODEL if name is None else MODELS_DIR / name
    if not (path / ModelDir.WEIGHTS).is_file():
        shipped = sorted(p.name for p in MODELS_DIR.glob("*") if (p / ModelDir.WEIGHTS).is_file()) if MODELS_DIR.is_dir() else []
        raise MissingInputError(
            f"the bundled model {path} is missing (models ship with the repository, not with a wheel; "
            f"here: {', '.join(shipped) or 'none'}): pass --model DIR, a directory made by `asr export` "
            "or a recipe's exp/<tag>"
        )
    return path
