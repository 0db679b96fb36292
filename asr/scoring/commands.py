"""What `asr score` runs: read REF and HYP, score, write the reports, return the summary to print.

    print(score_files(ref, hyp, out_dir=None, char_level=False, ...))   # asr score REF HYP
    print(compare_files(ref, hyp_a, hyp_b, ...))                        # asr score REF --compare A B

Both raise ScoringError (the message names the file); asr.cli prints it. The scoring itself is
asr.scoring.wer's, the reports asr.scoring.reports'.
"""

from __future__ import annotations

from pathlib import Path

from asr.scoring.files import (
    ScoringError,
    read_ref_hyp,
    read_transcripts,
)
from asr.scoring.normalize import Normalizer, read_mapping
from asr.scoring.reports import format_comparison, format_summary, kaldi_wer_line
from asr.scoring.significance import bootstrap_wer, paired_bootstrap
from asr.scoring.wer import score, write_score_dir

BOOTSTRAP_REPS = 1000  # resamples for the 95% interval of `asr score`
COMPARE_REPS = 10000  # resamples for the paired test of `asr score --compare`


def _normalizer(normalize: bool, mapping_path: str | Path | None) -> Normalizer | None:
    if not normalize and mapping_path is None:
        return None
    mapping = read_mapping(mapping_path) if mapping_path is not None else {}
    return Normalizer(mapping, None if mapping_path is None else str(mapping_path))


def score_files(
    ref_path: str | Path,
    hyp_path: str | Path,
    out_dir: str | Path | None = None,
    char_level: bool = False,
    ignore_extra: bool = False,
    utt2spk_path: str | Path | None = None,
    *,
    case_sensitive: bool = False,
    normalize: bool = False,
    mapping_path: str | Path | None = None,
    bootstrap: int = BOOTSTRAP_REPS,
    seed: int = 0,
) -> str:
    """What `asr score REF HYP` does: the summary to print (and the reports in out_dir).

    Prints %WER, or %CER with `char_level`; both when writing `out_dir`. A mapping file
    implies `normalize`. `bootstrap` resamples give the 95% interval (0: none).
    """
    refs, hyps, speakers = read_ref_hyp(ref_path, hyp_path, ignore_extra)
    utt2spk = speakers if utt2spk_path is None else read_transcripts(utt2spk_path)  # `<utt> <spk>` lines
    kw = dict(utt2spk=utt2spk, ignore_extra=ignore_extra, case_sensitive=case_sensitive,
              normalizer=_normalizer(normalize, mapping_path))
    if out_dir is None:
        report = score(refs, hyps, char_level=char_level, **kw)
        return format_summary((report, bootstrap_wer(*report.utt_arrays(), reps=bootstrap, seed=seed)))
    res = write_score_dir(out_dir, refs, hyps, **kw, bootstrap=bootstrap, seed=seed, names=(str(ref_path), str(hyp_path)))
    return (format_summary((res.words, res.words_ci), (res.chars, res.chars_ci))
            + f"\nWrote wer, cer, sum, rsum, pra, dtl, score.json, per_utt, per_spk, ref.trn, hyp.trn to {out_dir}")


def compare_files(
    ref_path: str | Path,
    hyp_a: str | Path,
    hyp_b: str | Path,
    char_level: bool = False,
    ignore_extra: bool = False,
    utt2spk_path: str | Path | None = None,
    *,
    case_sensitive: bool = False,
    normalize: bool = False,
    mapping_path: str | Path | None = None,
    bootstrap: int = COMPARE_REPS,
    seed: int = 0,
) -> str:
    """What `asr score REF --compare HYP_A HYP_B` does: score both systems on every reference
    utterance (a missing hypothesis is all deletions) and print a paired bootstrap test:
    which is better and the p-value."""
    (refs, hyps_a, speakers), (_, hyps_b, _) = (read_ref_hyp(ref_path, h, ignore_extra) for h in (hyp_a, hyp_b))
    utt2spk = speakers if utt2spk_path is None else read_transcripts(utt2spk_path)
    kw = dict(char_level=char_level, utt2spk=utt2spk, ignore_extra=ignore_extra,
              case_sensitive=case_sensitive, normalizer=_normalizer(normalize, mapping_path))
    reports = [score(refs, hyps, **kw) for hyps in (hyps_a, hyps_b)]
    if not refs:
        raise ScoringError(f"{ref_path}: no utterances to compare")
    if bootstrap < 1:
        raise ScoringError("a paired test needs --bootstrap >= 1")
    (err_a, nref), (err_b, _) = reports[0].utt_arrays(), reports[1].utt_arrays()
    test = paired_bootstrap(err_a, err_b, nref, reps=bootstrap, seed=seed)
    lines = [f"{name}: {kaldi_wer_line(r.total, r.label)}  {path}" for name, path, r in zip("AB", (hyp_a, hyp_b), reports)]
    return "\n".join(lines + format_comparison(test, [str(hyp_a), str(hyp_b)], reports[0].label))
