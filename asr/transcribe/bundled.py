"""The model that ships with the repository: `asr transcribe` and `asr.load_model()` use it when no
model directory is given.

    models/en_synth/   made by `make model` (recipes/synth_en, then `asr export --half --gzip-lm`);
                       its README.md says what it is: a model trained only on synthetic speech
"""

from __future__ import annotations

from pathlib import Path

from asr.errors import MissingInputError

BUNDLED_MODEL = Path(__file__).resolve().parents[2] / "models" / "en_synth"


def bundled_model_dir() -> Path:
    """models/en_synth of the repository this package runs from; MissingInputError if it is not there
    (a wheel installed without the repository carries no model)."""
    if not (BUNDLED_MODEL / "model.pt").is_file():
        raise MissingInputError(
            f"no --model given and the bundled model {BUNDLED_MODEL} is missing (it ships with the repository, "
            "not with a wheel): pass --model DIR, a directory made by `asr export` or a recipe's exp/<tag>"
        )
    return BUNDLED_MODEL
