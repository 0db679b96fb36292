"""What `asr score` runs: read REF and HYP, score, print the summary, write the reports.

    run_score(ref, hyp, out_dir=None, char_level=False, ...)     # asr score REF HYP
    run_compare(ref, hyp_a, hyp_b, ...)                          # asr score REF --compare A B

Both print and return an exit status (0 ok, 1 error) rather than raising; the scoring itself
is asr.scoring.wer's, the reports asr.scoring.reports'.
"""

from __future__ import annotations

import sys
from pathlib import Path

from asr.scoring.reports import format_comparison, format_summary, kaldi_wer_line
from asr.scoring.wer import score, write_score_dir
from asr.scoring.significance import bootstrap_wer, paired_bootstrap
from asr.scoring.files import Normalizer, ScoringError, read_mapping, read_ref_hyp, read_transcripts


def _normalizer(normalize: bool, mapping_path: str | Path | None) -> Normalizer | None:
    if not normalize and mapping_path is None:
        return None
    mapping = read_mapping(mapping_path) if mapping_path is not None else {}
    return Normalizer(mapping, None if mapping_path is None else str(mapping_path))


def run_score(
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
    bootstrap: int = 1000,
    seed: int = 0,
) -> int:
    """What `asr score REF HYP` does: print the summary (and write out_dir); 0 on success, 1 on error.

    Prints %WER, or %CER with `char_level`; both when writing `out_dir`. A mapping file
    implies `normalize`. `bootstrap` resamples give the 95% interval (0: none).
    """
    try:
        refs, hyps, speakers = read_ref_hyp(ref_path, hyp_path, ignore_extra)
        utt2spk = speakers if utt2spk_path is None else read_transcripts(utt2spk_path)  # `<utt> <spk>` lines
        kw = dict(utt2spk=utt2spk, ignore_extra=ignore_extra, case_sensitive=case_sensitive,
                  normalizer=_normalizer(normalize, mapping_path))
        if out_dir is not None:
            res = write_score_dir(out_dir, refs, hyps, **kw, bootstrap=bootstrap, seed=seed,
                                  names=(str(ref_path), str(hyp_path)))
            shown = [(res.words, res.words_ci), (res.chars, res.chars_ci)]
        else:
            report = score(refs, hyps, char_level=char_level, **kw)
            shown = [(report, bootstrap_wer(*report.utt_arrays(), reps=bootstrap, seed=seed))]
    except ScoringError as e:
        print(f"asr score {ref_path} {hyp_path}: error: {e}", file=sys.stderr)
        return 1
    print(format_summary(*shown))
    if out_dir is not None:
        print(f"Wrote wer, cer, sum, rsum, pra, dtl, score.json, per_utt, per_spk, ref.trn, hyp.trn to {out_dir}")
    return 0


def run_compare(
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
    bootstrap: int = 10000,
    seed: int = 0,
) -> int:
    """What `asr score REF --compare HYP_A HYP_B` does: score both systems on every reference
    utterance (a missing hypothesis is all deletions) and print a paired bootstrap test:
    which is better and the p-value. 0 on success, 1 on error."""
    try:
        (refs, hyps_a, speakers), (_, hyps_b, _) = (read_ref_hyp(ref_path, h, ignore_extra) for h in (hyp_a, hyp_b))
        utt2spk = speakers if utt2spk_path is None else read_transcripts(utt2spk_path)
        kw = dict(char_level=char_level, utt2spk=utt2spk, ignore_extra=ignore_extra,
                  case_sensitive=case_sensitive, normalizer=_normalizer(normalize, mapping_path))
        reports = [score(refs, hyps, **kw) for hyps in (hyps_a, hyps_b)]
        if not refs:
            raise ScoringError(f"{ref_path}: no utterances to compare")
        if bootstrap < 1:
            raise ScoringError("a paired test needs --bootstrap >= 1")
    except ScoringError as e:
        print(f"asr score {ref_path} --compare {hyp_a} {hyp_b}: error: {e}", file=sys.stderr)
        return 1
    (err_a, nref), (err_b, _) = reports[0].utt_arrays(), reports[1].utt_arrays()
    test = paired_bootstrap(err_a, err_b, nref, reps=bootstrap, seed=seed)
    for name, path, r in zip("AB", (hyp_a, hyp_b), reports):
        print(f"{name}: {kaldi_wer_line(r.total, r.label)}  {path}")
    print("\n".join(format_comparison(test, [str(hyp_a), str(hyp_b)], reports[0].label)))
    return 0
