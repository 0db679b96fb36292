"""The recipe stages every corpus shares: features, tokens, train, decode, score.

Each function checks its inputs, reads and writes the documented files, and can be
called from any recipe's stage table (recipes/<corpus>/run.py):

    features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}; data/train/cmvn.stats
    tokens    data/train/text -> data/lang/tokens.txt
    lm        data/train/text -> data/lang/{lm.arpa,lexicon.txt,lm_eval.txt}
    train     data/{train,dev}, data/lang -> exp/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
    decode    exp/model.pt, data/<set>/feats.scp -> exp/decode_<set>_greedy/{text,hyp.trn}
              (decode_sets_stage: any decoders -> exp/decode_<set>_<name>/{text,hyp.trn,ctm})
    tune_lm   data/lang/{lm.arpa,lexicon.txt}, dev -> exp/{decoder.yaml,lm.arpa,lexicon.txt},
              exp/tune_lm_dev/wer_grid.tsv, exp/decode_<set>_lm/
    score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/RESULTS.md

`model_stages` makes stages 1-5 of a recipe from a `ModelStagesConfig`; `TokenConfig.unit` picks
the tokens stage: characters (`char_tokens_stage`) or phones (`phone_tokens_stage`) of train and dev,
or sentencepiece BPE pieces of train (`bpe_tokens_stage`, which also writes data/lang/bpe.model). `per_stage` adds a phone
error rate after folding phone sets (TIMIT's 48 -> 39).
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from asr.data.batching import FeatureSet
from asr.nn.checkpoint import write_model_config
from asr.data.datadir import read_table
from asr.decoding.greedy import decode_featureset
from asr.decoding.decoders import (
    DECODER_CONFIG,
    DecoderConfig,
    DecodingConfig,
    build_decoder,
    compute_emissions,
    decode_emissions,
    model_frame_seconds,
    write_ctm,
    write_decoder_config,
)
from asr.data.feature_store import compute_cmvn_stats, make_features
from asr.data.features import FbankConfig, read_cmvn, write_cmvn
from asr.transcribe.recognizer import load_model
from asr.decoding.lm import build_lexicon, perplexity, read_arpa, write_arpa, write_lexicon
from asr.nn.model import BiLSTMCTC, ModelConfig
from data_prep.timit_phones import write_per_dir
from asr.recipe.runner import Stage, stage_seconds
from asr.recipe.results import lm_decoding_notes, write_results
from asr.scoring.wer import score, write_text, write_trn
from asr.data.tokens import (
    UNITS,
    build_bpe_token_table,
    build_phone_token_table,
    build_token_table,
    read_tokens,
    write_tokens,
)
from asr.nn.train import TrainConfig, train

log = logging.getLogger(__name__)


def require(*paths: Path) -> None:
    """Stop with a clear message if an input of the stage is missing."""
    for p in paths:
        if not Path(p).exists():
            sys.exit(f"missing input {p}: run the earlier stages first")


def features_stage(data: Path, sets: list[str], cfg: FbankConfig, nj: int) -> None:
    require(*(data / s / "wav.scp" for s in sets))
    for s in sets:
        make_features(data / s, cfg, nj=nj)
    write_cmvn(data / "train" / "cmvn.stats", compute_cmvn_stats(data / "train"))


def tokens_stage(data: Path) -> None:
    require(data / "train" / "text")
    (data / "lang").mkdir(parents=True, exist_ok=True)
    write_tokens(data / "lang" / "tokens.txt", build_token_table(read_table(data / "train" / "text").values()))


def _targets(data_dir: Path, table) -> dict[str, list[int]]:
    return {u: table.encode(t, utt=u) for u, t in read_table(data_dir / "text", allow_empty_value=True).items()}


def train_stage(
    data: Path, exp: Path, model_cfg: ModelConfig, fbank_cfg: FbankConfig, train_cfg: TrainConfig, device: torch.device
) -> None:
    require(data / "train" / "feats.scp", data / "dev" / "feats.scp", data / "lang" / "tokens.txt", data / "train" / "cmvn.stats")
    exp.mkdir(parents=True, exist_ok=True)
    table = read_tokens(data / "lang" / "tokens.txt")
    model_cfg.vocab_size, model_cfg.input_dim = len(table), fbank_cfg.num_mel_bins
    write_model_config(exp, model_cfg, fbank_cfg)
    shutil.copy(data / "lang" / "tokens.txt", exp / "tokens.txt")
    shutil.copy(data / "train" / "cmvn.stats", exp / "cmvn.stats")
    model = BiLSTMCTC(model_cfg)
    mean, istd = read_cmvn(exp / "cmvn.stats").mean_istd()
    model.cmvn.mean.copy_(torch.from_numpy(mean))
    model.cmvn.istd.copy_(torch.from_numpy(istd))
    log.info("model: %.2fM parameters, device %s", sum(p.numel() for p in model.parameters()) / 1e6, device)
    train(
        model,
        FeatureSet(data / "train", _targets(data / "train", table)),
        FeatureSet(data / "dev", _targets(data / "dev", table)),
        read_table(data / "dev" / "text", allow_empty_value=True),
        table,
        train_cfg,
        exp,
        device,
    )


def decode_stage(data: Path, exp: Path, sets: list[str], device: torch.device) -> None:
    require(exp / "model.pt", *(data / s / "feats.scp" for s in sets))
    rec = load_model(exp, str(device))
    for s in sets:
        hyps = decode_featureset(rec.model, FeatureSet(data / s), rec.tokens, device, progress=True)
        out = exp / f"decode_{s}_greedy"
        out.mkdir(exist_ok=True)
        write_text(out / "text", {u: h.text for u, h in hyps.items()})
        write_trn(out / "hyp.trn", {u: h.text for u, h in hyps.items()})


def score_stage(
    data: Path,
    exp: Path,
    sets: list[str],
    heldout_speakers: list[str],
    stage_times: dict[str, float],
    command: str,
    decoders: dict[str, str] | None = None,
) -> None:
    """Score exp/decode_<set>_greedy (and with `decoders` {label: name}, every exp/decode_<set>_<name>,
    side by side, plus the LM tuning notes) -> exp/RESULTS.md."""
    decode_dirs = {s: exp / f"decode_{s}_greedy" for s in sets}
    more = {label: {s: exp / f"decode_{s}_{name}" for s in sets} for label, name in (decoders or {}).items()}
    require(*(d / "text" for d in decode_dirs.values()), *(d / "text" for m in more.values() for d in m.values()), *(data / s / "text" for s in sets))
    write_results(
        exp / "RESULTS.md",
        {s: (data / s, d) for s, d in decode_dirs.items()},
        exp,
        heldout_speakers=heldout_speakers,
        stage_times=stage_times,
        command=command,
        decoders=more or None,
        decoding_notes=lm_decoding_notes(exp, data / "lang") if more else None,
    )
    print((exp / "RESULTS.md").read_text())


# ---------------------------------------------------------------------------------------------
# Word LM, beam search and LM decoding (issue #3)


def lm_stage(data: Path, order: int, eval_sets: list[str]) -> None:
    """data/train/text, data/lang/tokens.txt -> data/lang/{lm.arpa,lexicon.txt,lm_eval.txt}.

    The LM and the lexicon see the training transcripts only; lm_eval.txt gives the perplexity
    and OOV rate of each eval set's text.
    """
    lang = data / "lang"
    require(data / "train" / "text", lang / "tokens.txt", *(data / s / "text" for s in eval_sets))
    train_text = list(read_table(data / "train" / "text", allow_empty_value=True).values())
    write_arpa(lang / "lm.arpa", train_text, order)
    lm = read_arpa(lang / "lm.arpa")
    write_lexicon(lang / "lexicon.txt", build_lexicon((w for t in train_text for w in t.split()), read_tokens(lang / "tokens.txt")))
    lines = [f"# {order}-gram Kneser-Ney LM on data/train/text: {len(lm.vocab) - 3} words + <s> </s> <unk>"]
    for s in eval_sets:
        lines.append(perplexity(lm, read_table(data / s / "text", allow_empty_value=True).values()).summary(s))
    (lang / "lm_eval.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        log.info("%s", line)


def _write_decode_dir(out: Path, hyps: dict, tokens, frame_seconds: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "text", {u: h.text for u, h in hyps.items()})
    write_trn(out / "hyp.trn", {u: h.text for u, h in hyps.items()})
    if getattr(tokens, "unit", "char") == "char":
        write_ctm(out / "ctm", hyps, tokens, frame_seconds)


def decode_sets_stage(
    data: Path,
    exp: Path,
    sets: list[str],
    device: torch.device,
    decoders: dict[str, DecoderConfig],
    emissions: dict[str, dict[str, torch.Tensor]] | None = None,
) -> None:
    """exp/model.pt, data/<set>/feats.scp -> exp/decode_<set>_<name>/{text,hyp.trn,ctm} for each named decoder.

    The acoustic model runs once per set (unless `emissions` {set: {utt: [T, V]}} has it);
    every decoder reads the same emissions. Relative LM and lexicon paths resolve against exp/.
    """
    require(exp / "model.pt", *(data / s / "feats.scp" for s in sets))
    rec = load_model(exp, str(device))
    frame_s = model_frame_seconds(rec.fbank_cfg.frame_shift_ms, rec.model_cfg.stack)
    built = {name: build_decoder(cfg, rec.tokens, exp) for name, cfg in decoders.items()}
    for s in sets:
        ems = (emissions or {}).get(s) or compute_emissions(rec.model, FeatureSet(data / s), device, progress=True)
        for name, decoder in built.items():
            t0 = time.time()
            hyps = decode_emissions(decoder, ems, progress=True)
            _write_decode_dir(exp / f"decode_{s}_{name}", hyps, rec.tokens, frame_s)
            log.info("decoded %s with %s: %d utterances in %.1f s", s, name, len(hyps), time.time() - t0)


def tune_lm_stage(data: Path, exp: Path, sets: list[str], device: torch.device, cfg: DecodingConfig, tune_set: str = "dev") -> None:
    """Pick the LM decoder's weights on `tune_set` only, then decode every set with them.

    The lexicon decoder runs over the grid cfg.lm_weights x cfg.word_scores; then the
    lexicon-free decoder, at the best of those weights, with each of cfg.unk_scores. The
    lowest WER wins (the first of equals, in that order).
    Reads data/lang/{lm.arpa,lexicon.txt}, exp/model.pt, data/<set>/{feats.scp,text}. Writes
    exp/{lm.arpa,lexicon.txt} (so the model directory stays self-contained),
    exp/tune_lm_<tune_set>/wer_grid.tsv (every point's WER), exp/decoder.yaml (the chosen
    decoder, `asr transcribe`'s default) and exp/decode_<set>_lm/{text,hyp.trn,ctm}.
    """
    lang = data / "lang"
    require(exp / "model.pt", lang / "lm.arpa", lang / "lexicon.txt", data / tune_set / "text", *(data / s / "feats.scp" for s in {tune_set, *sets}))
    shutil.copy(lang / "lm.arpa", exp / "lm.arpa")
    shutil.copy(lang / "lexicon.txt", exp / "lexicon.txt")
    rec = load_model(exp, str(device))
    refs = read_table(data / tune_set / "text", allow_empty_value=True)
    emissions = compute_emissions(rec.model, FeatureSet(data / tune_set), device, progress=True)
    rows: list[tuple[float, DecoderConfig, int, int]] = []

    def evaluate(dcfg: DecoderConfig) -> None:
        hyps = decode_emissions(build_decoder(dcfg, rec.tokens, exp), emissions)
        wer = score(refs, {u: h.text for u, h in hyps.items()}).total
        rows.append((wer.wer, dcfg, wer.errors, wer.ref_words))
        log.info("%s: %s lm_weight %.2f word_score %.2f unk_score %.2f: WER %.2f%%", tune_set,
                 "lexicon" if dcfg.lexicon else "lexicon-free", dcfg.lm_weight, dcfg.word_score, dcfg.unk_score, wer.wer)

    for lm_weight in cfg.lm_weights:
        for word_score in cfg.word_scores:
            evaluate(cfg.lm_decoder(lm_weight, word_score))
    best_lexicon = min(rows, key=lambda r: r[0])[1]
    for unk_score in cfg.unk_scores:
        evaluate(replace(best_lexicon, lexicon=None, unk_score=unk_score))
    out = exp / f"tune_lm_{tune_set}"
    out.mkdir(exist_ok=True)
    (out / "wer_grid.tsv").write_text(
        "decoder\tlm_weight\tword_score\tunk_score\twer\terrors\twords\n"
        + "".join(f"{'lexicon' if c.lexicon else 'lexicon-free'}\t{c.lm_weight}\t{c.word_score}\t{c.unk_score}\t{w:.2f}\t{e}\t{n}\n"
                  for w, c, e, n in rows)
    )
    best_wer, chosen, _, _ = min(rows, key=lambda r: r[0])
    write_decoder_config(exp, chosen)
    log.info("chosen on %s: %s, lm_weight %.2f word_score %.2f unk_score %.2f (WER %.2f%%) -> %s", tune_set,
             "lexicon" if chosen.lexicon else "lexicon-free", chosen.lm_weight, chosen.word_score, chosen.unk_score,
             best_wer, exp / DECODER_CONFIG)
    decode_sets_stage(data, exp, sets, device, {"lm": chosen}, emissions={tune_set: emissions})


@dataclass
class TokenConfig:
    unit: str = "char"  # char (letters and '|'), bpe (sentencepiece pieces) or phone (space-separated symbols)
    bpe_vocab_size: int = 500  # bpe only: pieces, single characters included (a soft limit on tiny texts)


@dataclass
class ModelStagesConfig:
    """What stages 1-5 (features, tokens, train, decode, score) need; a recipe adds its corpus section."""

    tag: str = "bilstm"  # experiment folder name: exp/<tag>
    nj: int = 2  # parallel jobs for preparation checks and features
    features: FbankConfig = field(default_factory=FbankConfig)
    tokens: TokenConfig = field(default_factory=TokenConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode_sets: list[str] = field(default_factory=lambda: ["dev", "test"])  # data/<set> to decode and score


def _token_texts(data: Path) -> list[str]:
    """Transcripts of data/train and data/dev: dev's are training targets too (for the dev loss)."""
    require(data / "train" / "text", data / "dev" / "text")
    return [t for s in ("train", "dev") for t in read_table(data / s / "text", allow_empty_value=True).values()]


def char_tokens_stage(data: Path) -> None:
    """data/{train,dev}/text -> data/lang/tokens.txt: blank, '|', then the characters of both sets."""
    (data / "lang").mkdir(parents=True, exist_ok=True)
    write_tokens(data / "lang" / "tokens.txt", build_token_table(_token_texts(data)))


def phone_tokens_stage(data: Path) -> None:
    """data/{train,dev}/text of space-separated phones -> data/lang/tokens.txt (blank, then the phones)."""
    (data / "lang").mkdir(parents=True, exist_ok=True)
    write_tokens(data / "lang" / "tokens.txt", build_phone_token_table(_token_texts(data)))


def bpe_tokens_stage(data: Path, vocab_size: int) -> None:
    """Train a sentencepiece BPE model on data/train/text -> data/lang/{bpe.model,bpe.vocab,tokens.txt}.

    tokens.txt is the blank (in sentencepiece's <unk> slot, id 0) and the pieces in id order, so
    asr.data.tokens encodes like sentencepiece without it; the first 2000 transcripts are checked.
    """
    require(data / "train" / "text")
    try:
        import sentencepiece as spm
    except ImportError:
        sys.exit("tokens.unit 'bpe' needs sentencepiece: .venv/bin/pip install sentencepiece")
    lang = data / "lang"
    lang.mkdir(parents=True, exist_ok=True)
    texts = [t for t in read_table(data / "train" / "text", allow_empty_value=True).values() if t]
    (lang / "bpe_train.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(lang / "bpe_train.txt"), model_prefix=str(lang / "bpe"), vocab_size=vocab_size, model_type="bpe",
        character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, normalization_rule_name="identity",
        hard_vocab_limit=False, input_sentence_size=2_000_000, shuffle_input_sentence=True, minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(lang / "bpe.model"))
    table = build_bpe_token_table(sp.id_to_piece(i) for i in range(sp.get_piece_size()))
    for text in texts[:2000]:
        if table.encode(text) != sp.encode(text):
            raise RuntimeError(f"{lang / 'bpe.model'}: asr.data.tokens splits {text!r} unlike sentencepiece")
    write_tokens(lang / "tokens.txt", table)
    log.info("BPE: %d pieces (asked for %d)", len(table) - 1, vocab_size)


def unit_tokens_stage(data: Path, cfg: TokenConfig) -> None:
    """The tokens stage of cfg.unit: char_tokens_stage, bpe_tokens_stage or phone_tokens_stage."""
    if cfg.unit not in UNITS:
        sys.exit(f"tokens.unit must be one of {', '.join(UNITS)}, got {cfg.unit!r}")
    if cfg.unit == "bpe":
        bpe_tokens_stage(data, cfg.bpe_vocab_size)
    elif cfg.unit == "phone":
        phone_tokens_stage(data)
    else:
        char_tokens_stage(data)


def model_stages(
    cfg: ModelStagesConfig, work: Path, device: torch.device, command: str, heldout_speakers: list[str] | None = None
) -> list[Stage]:
    """Stages 1-5 on work/data/{train,dev,<decode_sets>} into work/exp/<tag>: the part every recipe shares."""
    data, exp = work / "data", work / "exp" / cfg.tag
    sets = list(dict.fromkeys(["train", "dev", *cfg.decode_sets]))
    heldout = list(heldout_speakers or [])
    return [
        Stage(1, "features", lambda: features_stage(data, sets, cfg.features, cfg.nj)),
        Stage(2, "tokens", lambda: unit_tokens_stage(data, cfg.tokens)),
        Stage(3, "train", lambda: train_stage(data, exp, cfg.model, cfg.features, cfg.train, device)),
        Stage(4, "decode", lambda: decode_stage(data, exp, cfg.decode_sets, device)),
        Stage(5, "score", lambda: score_stage(data, exp, cfg.decode_sets, heldout, stage_seconds(exp / ".stages"), command)),
    ]


def per_stage(data: Path, exp: Path, sets: list[str], mapping: dict[str, str | None], name: str = "per39") -> None:
    """Phone error rate of each set after folding refs and hyps with `mapping`.

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
