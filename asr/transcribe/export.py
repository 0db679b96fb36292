"""`asr export EXP_DIR OUT_DIR`: a model directory holding what transcription needs, and nothing else.

    OUT_DIR/
      config.yaml    model + feature config
      tokens.txt     token table
      cmvn.stats     global CMVN (also inside the weights as buffers), when the experiment has it
      model.pt       inference weights: a plain state dict of tensors (torch.load(weights_only=True))
      decoder.yaml   decoder defaults, when the experiment has them (else greedy)
      lm.arpa, lexicon.txt   what decoder.yaml refers to, copied in and referred to by name
                     (lm.arpa.gz, lexicon.txt.gz with gzip_lm: the readers and the decoder take them)
      README.md      what the model is, how to use it, its RESULTS, and the files' SHA-256

With half=True the weights are stored as float16 (half the bytes; they load back into the float32
model), except the CMVN buffers, which stay float32. The directory is built in a temporary folder beside OUT_DIR, loaded back and run once, and
only then renamed into place: a failed export leaves nothing half-written.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from asr.decoding.registry import decoder_entry
from asr.errors import AsrError, MissingInputError
from asr.nn.checkpoint import load_state, save_atomic
from asr.nn.modeldir import ModelDir


class ExportError(AsrError, RuntimeError):
    """The experiment directory cannot be exported; the message names the file."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _copy_decoder_files(exp: Path, tmp: Path, gzip_lm: bool = False) -> None:
    cfg = ModelDir(exp).read_decoder_config()
    if cfg is None:
        return
    changes = {}
    for name in ("lm", "lexicon"):
        value = getattr(cfg, name)
        if not value:
            continue
        src = Path(value) if Path(value).is_absolute() else exp / value
        if not src.is_file():
            if name in decoder_entry(cfg.kind).options:  # the chosen decoder reads it
                raise ExportError(f"{exp / ModelDir.DECODER}: {name} file {src} is missing")
            continue  # a greedy/beam decoder.yaml may name LM files that were never made
        dest = ModelDir.LM if name == "lm" else ModelDir.LEXICON
        if gzip_lm and src.suffix != ".gz":
            dest += ".gz"
            with open(src, "rb") as fin, gzip.GzipFile(tmp / dest, "wb", mtime=0) as fout:
                shutil.copyfileobj(fin, fout)  # mtime=0: the same LM gives the same bytes
        else:
            dest = dest + ".gz" if src.suffix == ".gz" else dest
            shutil.copyfile(src, tmp / dest)
        changes[name] = dest
    ModelDir(tmp).write_decoder_config(replace(cfg, **changes))


def _readme(exp: Path, out_name: str, files: list[Path], note: str | None = None) -> str:
    results = exp / ModelDir.RESULTS
    lines = [
        f"# {out_name}: a BiLSTM-CTC model exported by `asr export`",
        "",
        *([note.strip(), ""] if note else []),
        f"Exported from `{exp}`.",
        "",
        "```sh",
        f"asr transcribe --model {out_name} audio.flac            # text",
        f"asr transcribe --model {out_name} --format srt --output-dir subs/ recordings/",
        "```",
        "",
        "```python",
        "import asr",
        f"model = asr.load_model({out_name!r})",
        "print(model.transcribe(\"audio.flac\")[0].text)",
        "```",
        "",
        "## Files",
        "",
        "| file | bytes | sha256 |",
        "|---|---|---|",
        *[f"| {p.name} | {p.stat().st_size} | {_sha256(p)} |" for p in files],
        "",
    ]
    if results.is_file():
        lines += ["## Results (the experiment's RESULTS.md)", "", results.read_text(encoding="utf-8")]
    else:
        lines += ["No RESULTS.md was found in the experiment directory.", ""]
    return "\n".join(lines)


def half_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point weights as float16; the CMVN buffers (and integer tensors) unchanged."""
    return {k: v.half() if v.is_floating_point() and not k.startswith("cmvn.") else v for k, v in state.items()}


def export_model(
    exp_dir: str | Path, out_dir: str | Path, force: bool = False, half: bool = False, gzip_lm: bool = False,
    note: str | None = None,
) -> Path:
    """Export EXP_DIR (a training or model directory) to OUT_DIR; returns OUT_DIR.

    half: store the weights as float16; gzip_lm: store the LM and lexicon as lm.arpa.gz, lexicon.txt.gz (see the module docstring);
    note: Markdown put at the top of README.md (what the model is, how it was made).

    Raises ExportError when a needed file is missing or does not load, or OUT_DIR exists and
    is not empty (unless force, which replaces it).
    """
    exp, out = Path(exp_dir), Path(out_dir)
    try:
        ModelDir(exp).check_complete()
    except MissingInputError as e:
        raise ExportError(str(e)) from None
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ExportError(f"{out}: exists and is not empty (use --force to replace it)")
    if out.resolve() == exp.resolve():
        raise ExportError(f"{out}: is the experiment directory itself")
    tmp = out.with_name(f".{out.name}.export-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        try:
            ModelDir(exp).read_config()
            state = load_state(exp / ModelDir.WEIGHTS)
        except Exception as e:  # a corrupt or foreign file: say which
            raise ExportError(f"{exp}: cannot load the model: {e}") from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ExportError(f"{exp / ModelDir.WEIGHTS}: not a state dict of tensors")
        state = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        save_atomic(half_weights(state) if half else state, tmp / ModelDir.WEIGHTS)
        for name in (ModelDir.CONFIG, ModelDir.TOKENS, ModelDir.CMVN):
            if (exp / name).is_file():
                shutil.copyfile(exp / name, tmp / name)
        _copy_decoder_files(exp, tmp, gzip_lm)
        _check_loads(tmp)
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        (tmp / "README.md").write_text(_readme(exp, out.name, files, note), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _check_loads(model_dir: Path) -> None:
    """Load the exported directory as a user would and run one second of silence through it."""
    import numpy as np

    from asr.transcribe.api import load_model

    try:
        rec = load_model(model_dir, device="cpu")
        rec.decoder  # builds the LM decoder too, so a broken lm.arpa or lexicon fails here
        rec.transcribe(np.zeros(16000, np.float32), sample_rate=16000, timestamps=False)
    except Exception as e:
        raise ExportError(f"the exported model does not load: {e}") from None
