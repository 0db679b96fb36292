"""Score decode folders and write a recipe's RESULTS.md (per set and per speaker/voice)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import torch

from asr.data.datadir import read_table
from asr.nn.checkpoint import load_state
from asr.nn.modeldir import ModelDir
from asr.scoring.counts import ScoreResults
from asr.scoring.files import read_transcripts
from asr.scoring.wer import write_score_dir


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
    md = ModelDir(exp_dir)
    model_cfg, _ = md.read_config()
    last = md / ModelDir.LAST
    if last.exists():
        history = load_state(last)["history"]
        secs = sum(h["seconds"] for h in history)
        speed = sum(h["x_realtime"] * h["seconds"] for h in history) / max(secs, 1e-9)
        lines.append(
            f"- Training: {len(history)} epochs, {secs / 60:.1f} min of training loops "
            f"({speed:.0f}x real time), final dev CER {history[-1]['dev_cer']:.2f}%"
        )
    nparams = sum(v.numel() for v in md.load_weights().values() if v.is_floating_point())
    front = (f"conv front-end ({model_cfg.conv_channels} channels, time stride {model_cfg.conv_stride})"
             if model_cfg.frontend == "conv" else f"stacking x{model_cfg.stack}")
    if model_cfg.utt_cmn:
        front += ", per-utterance mean normalisation"
    if model_cfg.upsample > 1:
        front += f", {model_cfg.upsample} output frames per LSTM step"
    lines.append(
        f"- Model: BiLSTM {model_cfg.layers}x{model_cfg.hidden}, {front}, "
        f"{nparams / 1e6:.2f}M parameters, {model_cfg.vocab_size} tokens"
    )
    return lines


def _group_counts(r: ScoreResults, keep) -> tuple:
    """Summed (word, char) counts of the speakers `keep` accepts, or None when there are none."""
    spks = [s for s in r.words.per_spk if keep(s)]
    if not spks:
        return None
    w = sum((r.words.per_spk[s] for s in spks), type(r.words.total)())
    c = sum((r.chars.per_spk[s] for s in spks), type(r.chars.total)())
    return spks, w, c


def voice_family(spk: str) -> str:
    """The engine of a synthetic voice id (`festival-us1-mbrola` -> festival): its text up to the first '-'."""
    return spk.split("-", 1)[0]


def _family_table(scores: dict, labels: list[str], heldout: set[str]) -> list[str]:
    """WER per voice family (engine), seen and held-out voices apart, per set: first and last decoder.

    Empty when every speaker is its own family (real corpora) or there is only one family.
    """
    first, last = labels[0], labels[-1]
    names = list(scores[first])
    speakers = sorted({s for r in scores[first].values() for s in r.words.per_spk})
    families = sorted({voice_family(s) for s in speakers})
    if len(families) < 2 or len(families) == len(speakers):
        return []
    decoders = first if first == last else f"{first} / {last}"
    out = ["", "## Per voice family", "", f"WER % per engine, {decoders}.", "",
           "| family | voices | " + " | ".join(names) + " |", "|---" * (2 + len(names)) + "|"]
    for fam in families:
        for label, held in (("seen", False), ("held out", True)):
            keep = lambda s, fam=fam, held=held: voice_family(s) == fam and (s in heldout) == held  # noqa: E731
            cells = []
            for n in names:
                per = [_group_counts(scores[lab][n], keep) for lab in dict.fromkeys((first, last))]
                cells.append(" / ".join(f"{p[1].wer:.1f}" for p in per) if per[0] else "-")
            if any(c != "-" for c in cells):
                out.append(f"| {fam} | {label} | " + " | ".join(cells) + " |")
    return out


def write_results(
    path: Path,
    sets: dict[str, tuple[Path, Path]],
    exp_dir: Path,
    heldout_speakers: list[str],
    stage_times: dict[str, float],
    command: str,
    decoders: dict[str, dict[str, Path]] | None = None,
    decoding_notes: list[str] | None = None,
) -> dict[str, ScoreResults]:
    """Score each set {name: (data_dir, decode_dir)} and write RESULTS.md; returns the scores.

    `decoders` {label: {set: decode_dir}} scores more decoders on the same sets; the first
    label names `sets`' own decode dirs (e.g. {'greedy': ..., 'beam': ..., 'beam+LM': ...}).
    Their error rates then stand side by side, per set and per voice, followed by
    `decoding_notes` (e.g. the LM weight and word score chosen on dev).
    """
    labels = list(decoders) if decoders else ["greedy"]
    dirs = {labels[0]: {n: dec for n, (_, dec) in sets.items()}, **{k: v for k, v in (decoders or {}).items() if k != labels[0]}}
    scores = {lab: {n: score_decode_dir(sets[n][0], dirs[lab][n]) for n in sets} for lab in labels}
    results = scores[labels[0]]
    heldout = set(heldout_speakers)
    out = [f"# Results: {exp_dir.name}", ""]
    out.append(f"- Date: {datetime.date.today().isoformat()}; host: {platform.machine()}, "
               f"{os.cpu_count()} CPU cores, torch {torch.__version__}")
    out.append(f"- Command: `{command}`")
    out += _training_summary(exp_dir)
    groups = [("all", lambda s: True), ("seen in training", lambda s: s not in heldout), ("held out (unseen)", lambda s: s in heldout)]
    if len(labels) == 1:
        out += ["", "## Greedy CTC decoding", "", "| set | voices | #utts | #words | WER % | CER % | Kaldi line |", "|---|---|---|---|---|---|---|"]
    else:
        head = " | ".join(f"{lab} WER %" for lab in labels) + " | " + " | ".join(f"{lab} CER %" for lab in labels)
        out += ["", "## Error rates by decoder", "", f"| set | voices | #utts | #words | {head} |", "|---" * (4 + 2 * len(labels)) + "|"]
    for name, r in results.items():
        for label, keep in groups:
            found = _group_counts(r, keep)
            if found is None or (label != "all" and len(found[0]) == len(r.words.per_spk)):
                continue
            spks, w, c = found
            if len(labels) == 1:
                line = f"`{(sets[name][1] / 'wer').read_text().strip()}`" if label == "all" else ""
                out.append(f"| {name} | {label} | {w.utts} | {w.ref_words} | {w.wer:.2f} | {c.wer:.2f} | {line} |")
                continue
            per = [_group_counts(scores[lab][name], keep) for lab in labels]
            cells = [f"{p[1].wer:.2f}" for p in per] + [f"{p[2].wer:.2f}" for p in per]
            out.append(f"| {name} | {label} | {w.utts} | {w.ref_words} | " + " | ".join(cells) + " |")
    if len(labels) > 1:
        out += ["", "| decoder | set | Kaldi line | decode dir |", "|---|---|---|---|"]
        for lab in labels:
            for name in sets:
                d = dirs[lab][name]
                out.append(f"| {lab} | {name} | `{(d / 'wer').read_text().strip()}` | {d.name} |")
    if decoding_notes:
        out += ["", "## Decoding", ""] + decoding_notes
    families = _family_table(scores, labels, heldout)
    out += families
    # synthetic voices (several per engine) are "voices"; people are speakers
    noun = "voice" if families else "speaker"
    out += ["", "## Per voice (speaker)" if families else "## Per speaker", ""]
    names = list(results)
    if len(labels) == 1:
        out.append(f"| {noun} | " + " | ".join(f"{n} WER % | {n} CER %" for n in names) + " |")
        out.append("|---" * (1 + 2 * len(names)) + "|")
    else:
        out.append(f"WER % per {noun} and decoder.")
        out.append("")
        out.append(f"| {noun} | " + " | ".join(f"{n} {lab}" for n in names for lab in labels) + " |")
        out.append("|---" * (1 + len(names) * len(labels)) + "|")
    speakers = sorted({s for r in results.values() for s in r.words.per_spk})
    for spk in speakers:
        cells = []
        for n in names:
            if len(labels) == 1:
                w, c = results[n].words.per_spk.get(spk), results[n].chars.per_spk.get(spk)
                cells += [f"{w.wer:.2f}" if w else "-", f"{c.wer:.2f}" if c else "-"]
            else:
                for lab in labels:
                    w = scores[lab][n].words.per_spk.get(spk)
                    cells.append(f"{w.wer:.2f}" if w else "-")
        tag = " (held out)" if spk in heldout else ""
        out.append(f"| {spk}{tag} | " + " | ".join(cells) + " |")
    if stage_times:
        out += ["", "## Wall time per stage", "", "| stage | seconds |", "|---|---|"]
        out += [f"| {k} | {v:.0f} |" for k, v in stage_times.items()]
    path.write_text("\n".join(out) + "\n")
    return results


def lm_decoding_notes(exp_dir: Path, lang_dir: Path, tune_set: str = "dev") -> list[str]:
    """RESULTS.md lines on the LM decoder: the LM's perplexities, the dev grid, the chosen weights.

    Reads data/lang/lm_eval.txt, exp/tune_lm_<tune_set>/wer_grid.tsv and exp/decoder.yaml (any may be absent).
    """
    lines = []
    lm_eval = lang_dir / "lm_eval.txt"
    if lm_eval.is_file():
        lines.append("Word LM (never trained on a dev or test transcript; OOV words scored as `<unk>`):")
        lines.append("")
        lines += [f"    {line}" for line in lm_eval.read_text().splitlines()]
        lines.append("")
    c = ModelDir(exp_dir).read_decoder_config()
    if c is not None:
        how = (f"lexicon (`{c.lexicon}`) + word n-gram (`{c.lm}`)" if c.lexicon
               else f"lexicon-free, word n-gram (`{c.lm}`), unknown words at unk_score {c.unk_score}")
        lines.append(
            f"- beam+LM: {how}, through flashlight's {'LexiconDecoder with KenLM' if c.lexicon else 'LexiconFreeDecoder'}; "
            f"**LM weight {c.lm_weight}, word insertion score {c.word_score}**, chosen on {tune_set} only; "
            f"beam {c.lm_beam}, beam threshold {c.beam_threshold}, tokens per frame "
            f"{c.beam_size_token or 'all'}. Stored in `{ModelDir.DECODER}`, the default of `asr transcribe --model`."
        )
        lines.append(f"- beam: CTC prefix beam search without LM, beam {c.beam}.")
    grid = exp_dir / f"tune_lm_{tune_set}" / "wer_grid.tsv"
    if grid.is_file():
        rows = [dict(zip(grid.read_text().splitlines()[0].split("\t"), r.split("\t"))) for r in grid.read_text().splitlines()[1:] if r.strip()]
        lex = [r for r in rows if r.get("decoder", "lexicon") == "lexicon"]
        weights = sorted({float(r["lm_weight"]) for r in lex})
        scores_ = sorted({float(r["word_score"]) for r in lex})
        wer = {(float(r["lm_weight"]), float(r["word_score"])): r["wer"] for r in lex}
        lines += ["", f"{tune_set} WER % of the lexicon decoder over the grid (rows: LM weight, columns: word insertion score):", ""]
        lines.append("| LM weight | " + " | ".join(f"{s:g}" for s in scores_) + " |")
        lines.append("|---" * (1 + len(scores_)) + "|")
        for lw in weights:
            lines.append(f"| {lw:g} | " + " | ".join(wer.get((lw, s), "-") for s in scores_) + " |")
        free = [r for r in rows if r.get("decoder") == "lexicon-free"]
        if free:
            lines += ["", f"{tune_set} WER % of the lexicon-free decoder at the lexicon's best weights:", ""]
            lines += [f"- unk_score {float(r['unk_score']):g} (LM weight {float(r['lm_weight']):g}, word score "
                      f"{float(r['word_score']):g}): {r['wer']}" for r in free]
    return lines
