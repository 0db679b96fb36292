"""Score decode folders and write a recipe's RESULTS.md (per set and per speaker/voice)."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

import torch

from asr.checkpoint import load_state, read_model_config
from asr.datadir import read_table
from asr.scoring import ScoreResults, read_transcripts, write_score_dir


def score_decode_dir(data_dir: Path, decode_dir: Path) -> ScoreResults:
    """Score decode_dir/text against data_dir/text (speakers from utt2spk); writes into decode_dir."""
    return write_score_dir(
        decode_dir,
        read_table(data_dir / "text", allow_empty_value=True),
        read_transcripts(decode_dir / "text"),
        read_table(data_dir / "utt2spk"),
    )


def _training_summary(exp_dir: Path) -> list[str]:
    lines = []
    model_cfg, _ = read_model_config(exp_dir)
    last = exp_dir / "last.pt"
    if last.exists():
        history = load_state(last)["history"]
        secs = sum(h["seconds"] for h in history)
        speed = sum(h["x_realtime"] * h["seconds"] for h in history) / max(secs, 1e-9)
        lines.append(
            f"- Training: {len(history)} epochs, {secs / 60:.1f} min of training loops "
            f"({speed:.0f}x real time), final dev CER {history[-1]['dev_cer']:.2f}%"
        )
    nparams = sum(v.numel() for v in load_state(exp_dir / "model.pt").values() if v.is_floating_point())
    lines.append(
        f"- Model: BiLSTM {model_cfg.layers}x{model_cfg.hidden}, stacking x{model_cfg.stack}, "
        f"{nparams / 1e6:.2f}M parameters, {model_cfg.vocab_size} tokens"
    )
    return lines


def write_results(
    path: Path,
    sets: dict[str, tuple[Path, Path]],
    exp_dir: Path,
    heldout_speakers: list[str],
    stage_times: dict[str, float],
    command: str,
) -> dict[str, ScoreResults]:
    """Score each set {name: (data_dir, decode_dir)} and write RESULTS.md; returns the scores."""
    results = {name: score_decode_dir(d, dec) for name, (d, dec) in sets.items()}
    heldout = set(heldout_speakers)
    out = [f"# Results: {exp_dir.name}", ""]
    out.append(f"- Date: {datetime.date.today().isoformat()}; host: {platform.machine()}, "
               f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}")
    out.append(f"- Command: `{command}`")
    out += _training_summary(exp_dir)
    out += ["", "## Greedy CTC decoding", "", "| set | voices | #utts | #words | WER % | CER % | Kaldi line |", "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        groups = [("all", lambda s: True), ("seen in training", lambda s: s not in heldout), ("held out (unseen)", lambda s: s in heldout)]
        for label, keep in groups:
            spks = [s for s in r.words.per_spk if keep(s)]
            if not spks or (label != "all" and len(spks) == len(r.words.per_spk)):
                continue
            w = sum((r.words.per_spk[s] for s in spks), type(r.words.total)())
            c = sum((r.chars.per_spk[s] for s in spks), type(r.chars.total)())
            line = f"`{(sets[name][1] / 'wer').read_text().strip()}`" if label == "all" else ""
            out.append(f"| {name} | {label} | {w.utts} | {w.ref_words} | {w.wer:.2f} | {c.wer:.2f} | {line} |")
    out += ["", "## Per voice (speaker)", ""]
    names = list(results)
    out.append("| voice | " + " | ".join(f"{n} WER % | {n} CER %" for n in names) + " |")
    out.append("|---" * (1 + 2 * len(names)) + "|")
    speakers = sorted({s for r in results.values() for s in r.words.per_spk})
    for spk in speakers:
        cells = []
        for n in names:
            w, c = results[n].words.per_spk.get(spk), results[n].chars.per_spk.get(spk)
            cells += [f"{w.wer:.2f}" if w else "-", f"{c.wer:.2f}" if c else "-"]
        tag = " (held out)" if spk in heldout else ""
        out.append(f"| {spk}{tag} | " + " | ".join(cells) + " |")
    if stage_times:
        out += ["", "## Wall time per stage", "", "| stage | seconds |", "|---|---|"]
        out += [f"| {k} | {v:.0f} |" for k, v in stage_times.items()]
    path.write_text("\n".join(out) + "\n")
    return results
