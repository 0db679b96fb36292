"""asr: a small BiLSTM-CTC speech recognition toolkit with Kaldi-style recipes.

    import asr
    model = asr.load_model("models/en")    # a model directory (see `asr export`)
    print(model.transcribe("a.flac")[0].text)
"""

__version__ = "0.1.0"

__all__ = ["load_model", "__version__"]


def __getattr__(name: str):
    if name == "load_model":  # imported lazily: `import asr` alone does not import torch
        from asr.transcribe.api import load_model

        return load_model
    raise AttributeError(f"module 'asr' has no attribute {name!r}")
