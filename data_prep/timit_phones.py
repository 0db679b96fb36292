"""TIMIT's phone sets and their folding: 61 -> 48 (training) -> 39 (scoring), after Lee & Hon (1989).

The table is Kaldi's egs/timit/s5/conf/phones.60-48-39.map plus the glottal stop `q`, which
both folds delete. A phone error rate (PER) is the word error rate of the scorer with phones as
words, after folding reference and hypothesis to the same set:

    write_per_dir(out_dir, refs, hyps, fold_map(48, 39))  ->  '%PER 18.20 [ ... ]'
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from asr.data.datadir import read_table
from asr.errors import AsrError
from asr.recipe.stages import require
from asr.scoring.wer import write_score_dir

# 61-phone symbol -> (48-phone symbol, 39-phone symbol); None deletes the phone.
TIMIT_FOLDING: dict[str, tuple[str | None, str | None]] = {
    "aa": ("aa", "aa"), "ae": ("ae", "ae"), "ah": ("ah", "ah"), "ao": ("ao", "aa"), "aw": ("aw", "aw"),
    "ax": ("ax", "ah"), "ax-h": ("ax", "ah"), "axr": ("er", "er"), "ay": ("ay", "ay"), "b": ("b", "b"),
    "bcl": ("vcl", "sil"), "ch": ("ch", "ch"), "d": ("d", "d"), "dcl": ("vcl", "sil"), "dh": ("dh", "dh"),
    "dx": ("dx", "dx"), "eh": ("eh", "eh"), "el": ("el", "l"), "em": ("m", "m"), "en": ("en", "n"),
    "eng": ("ng", "ng"), "epi": ("epi", "sil"), "er": ("er", "er"), "ey": ("ey", "ey"), "f": ("f", "f"),
    "g": ("g", "g"), "gcl": ("vcl", "sil"), "h#": ("sil", "sil"), "hh": ("hh", "hh"), "hv": ("hh", "hh"),
    "ih": ("ih", "ih"), "ix": ("ix", "ih"), "iy": ("iy", "iy"), "jh": ("jh", "jh"), "k": ("k", "k"),
    "kcl": ("cl", "sil"), "l": ("l", "l"), "m": ("m", "m"), "n": ("n", "n"), "ng": ("ng", "ng"),
    "nx": ("n", "n"), "ow": ("ow", "ow"), "oy": ("oy", "oy"), "p": ("p", "p"), "pau": ("sil", "sil"),
    "pcl": ("cl", "sil"), "q": (None, None), "r": ("r", "r"), "s": ("s", "s"), "sh": ("sh", "sh"),
    "t": ("t", "t"), "tcl": ("cl", "sil"), "th": ("th", "th"), "uh": ("uh", "uh"), "uw": ("uw", "uw"),
    "ux": ("uw", "uw"), "v": ("v", "v"), "w": ("w", "w"), "y": ("y", "y"), "z": ("z", "z"),
    "zh": ("zh", "sh"),
}
TIMIT_61 = tuple(sorted(TIMIT_FOLDING))
TIMIT_48 = tuple(sorted({p48 for p48, _ in TIMIT_FOLDING.values() if p48}))
TIMIT_39 = tuple(sorted({p39 for _, p39 in TIMIT_FOLDING.values() if p39}))
log = logging.getLogger(__name__)

PHONE_SETS = {61: TIMIT_61, 48: TIMIT_48, 39: TIMIT_39}


class PhoneError(AsrError, ValueError):
    """A phone is not in the set a folding map starts from."""


def fold_map(source: int, target: int) -> dict[str, str | None]:
    """{phone of the source set: phone of the target set or None (deleted)}; sets are 61, 48, 39."""
    if source not in PHONE_SETS or target not in PHONE_SETS or target > source:
        raise PhoneError(f"cannot fold {source} phones to {target}: sets are 61, 48, 39, folding only shrinks")
    if source == 61:
        col = {61: None, 48: 0, 39: 1}[target]
        return {p: (p if col is None else TIMIT_FOLDING[p][col]) for p in TIMIT_61}
    if source == target:
        return {p: p for p in PHONE_SETS[source]}
    # 48 -> 39: every 61-phone that folds to a 48-phone folds to one 39-phone (checked by the tests).
    return {p48: p39 for p48, p39 in TIMIT_FOLDING.values() if p48}


def fold_phones(phones: Iterable[str], mapping: dict[str, str | None], where: str = "") -> list[str]:
    """Map each phone; deleted ones (None) disappear. Raises PhoneError naming `where` for an unknown phone."""
    out = []
    for p in phones:
        if p not in mapping:
            raise PhoneError(f"{where + ': ' if where else ''}phone {p!r} is not in the {len(mapping)}-phone set")
        if mapping[p] is not None:
            out.append(mapping[p])
    return out


def fold_transcripts(texts: dict[str, str], mapping: dict[str, str | None], what: str) -> dict[str, str]:
    """{utt: 'p1 p2 ...'} folded; `what` names the file for errors."""
    return {u: " ".join(fold_phones(t.split(), mapping, f"{what}: utt '{u}'")) for u, t in texts.items()}


def write_per_dir(
    out_dir: str | Path,
    refs: dict[str, str],
    hyps: dict[str, str],
    mapping: dict[str, str | None],
    utt2spk: dict[str, str] | None = None,
) -> str:
    """Fold refs and hyps with `mapping`, score them with asr.scoring.wer (phones as words) into out_dir.

    out_dir gets the scorer's files (its `wer` line is the PER) and `per`, the same line
    labelled %PER. Returns that line.
    """
    out_dir = Path(out_dir)
    write_score_dir(out_dir, fold_transcripts(refs, mapping, "reference"), fold_transcripts(hyps, mapping, "hypothesis"),
                    utt2spk)
    line = (out_dir / "wer").read_text(encoding="utf-8").strip().replace("%WER", "%PER", 1)
    (out_dir / "per").write_text(line + "\n", encoding="utf-8")
    return line


def per_stage(data: Path, exp: Path, sets: list[str], mapping: dict[str, str | None], name: str = "per39") -> None:
    """Phone error rate of each set after folding refs and hyps with `mapping` (TIMIT's score stage, after
    asr.recipe.decode_stages.score_stage).

    Writes exp/decode_<set>_greedy/<name>/ (the scorer's files, and `per`: the %PER line) and a
    section `## Phone error rate (<name>)` in exp/RESULTS.md (replaced when run again).
    """
    decode_dirs = {s: exp / f"decode_{s}_greedy" for s in sets}
    require(exp / "RESULTS.md", *(d / "text" for d in decode_dirs.values()), *(data / s / "text" for s in sets))
    rows = []
    for s, dec in decode_dirs.items():
        line = write_per_dir(dec / name, read_table(data / s / "text", allow_empty_value=True),
                             read_table(dec / "text", allow_empty_value=True), mapping, read_table(data / s / "utt2spk"))
        rows.append(f"| {s} | `{line}` |")
        log.info("%s: %s", s, line)
    heading = f"## Phone error rate ({name})"
    results = (exp / "RESULTS.md").read_text(encoding="utf-8").split(f"\n{heading}\n")[0].rstrip("\n")
    section = [heading, "", f"References and hypotheses folded to {len(set(v for v in mapping.values() if v))} phones.",
               "", "| set | Kaldi line |", "|---|---|", *rows]
    (exp / "RESULTS.md").write_text(results + "\n\n" + "\n".join(section) + "\n", encoding="utf-8")
    print("\n".join(section))
