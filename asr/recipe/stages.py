"""The recipe stages every corpus shares, and the stage table they make.

Each function checks its inputs, reads and writes the documented files, and raises a typed
error (asr.errors.AsrError) that the recipe runner reports; none exits the program.

    1 features  data/<set>/wav.scp -> data/<set>/{feats.scp,utt2num_frames}; data/train/cmvn.stats
    2 tokens    data/{train,dev}/text -> data/lang/tokens.txt (characters, phones or BPE pieces)
    3 lm        data/train/text -> data/lang/{lm.arpa,lexicon.txt,lm_eval.txt}   (when decoding uses 'lm')
    4 train     data/{train,dev}, data/lang -> exp/{config.yaml,tokens.txt,cmvn.stats,model.pt,...}
    5 decode    exp/model.pt, data/<set>/feats.scp -> exp/decode_<set>_<decoder>/{text,hyp.trn,ctm}
    6 tune_lm   LM weights on dev -> exp/{decoder.yaml,lm.arpa,lexicon.txt}, exp/decode_<set>_lm/   (when 'lm')
    7 score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk; exp/RESULTS.md

asr.recipe.table.model_stages makes the table of stages 1-7 from a `ModelStagesConfig`;
decode, tune_lm and score live in asr.recipe.decode_stages.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from asr.config import ConfigError, to_dict
from asr.data.batching import FeatureSet
from asr.data.datadir import read_table
from asr.data.feature_store import compute_cmvn_stats, make_features
from asr.data.features import FbankConfig, read_cmvn, write_cmvn
from asr.data.perturb import read_perturbations
from asr.data.tokens import (
    UNITS,
    WORD_SEP,
    TokenError,
    build_bpe_token_table,
    build_phone_token_table,
    build_token_table,
    read_tokens,
    write_tokens,
)
from asr.decoding.base import DecoderConfig
from asr.decoding.registry import DECODERS
from asr.decoding.lm import (
    build_lexicon,
    perplexity,
    read_arpa,
    write_arpa,
    write_lexicon,
)
from asr.errors import MissingInputError
from asr.lm import LMConfig
from asr.nn.distributed import barrier, rank
from asr.nn.model import ModelConfig, build_model
from asr.nn.modeldir import ModelDir
from asr.nn.launch import train
from asr.nn.schedule import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class TokenConfig:
    unit: str = "char"  # char (letters and '|'), bpe (sentencepiece pieces) or phone (space-separated symbols)
    bpe_vocab_size: int = 500  # bpe only: pieces, single characters included (a soft limit on tiny texts)


@dataclass
class DecodingConfig:
    """The recipe's decoding section: which decoders, their settings, and the LM weight grid tuned on dev."""

    decoders: list[str] = field(default_factory=lambda: ["greedy"])  # names in asr.decoding.registry; the first leads RESULTS.md
    decoder: DecoderConfig = field(default_factory=DecoderConfig)  # every decoder's options (kind and tuned weights are set per decoder)
    max_frames: int = 40000  # padded feature frames per decoding batch
    lm_weights: list[float] = field(default_factory=lambda: [0.5, 1.0, 1.5, 2.0, 2.5])
    word_scores: list[float] = field(default_factory=lambda: [-3.0, -2.0, -1.0, 0.0, 1.0])
    unk_scores: list[float] = field(default_factory=lambda: [-3.0, -6.0, -9.0])  # lexicon-free tries at the lexicon's best weights; [] = none

    def check(self) -> None:
        unknown = [d for d in self.decoders if d not in DECODERS]
        if unknown or not self.decoders:
            raise ConfigError(f"decoding.decoders must be some of {', '.join(DECODERS)}, got {self.decoders}")

    @property
    def uses_lm(self) -> bool:
        """Whether a named decoder reads the word LM: then stage 3 builds it and stage 6 tunes its weights."""
        return any(DECODERS[name].uses_lm for name in self.decoders if name in DECODERS)

    def no_lm_decoders(self) -> dict[str, DecoderConfig]:
        """The decode stage's decoders: every named one that needs no LM (tune_lm decodes with the others)."""
        return {name: replace(self.decoder, kind=name) for name in self.decoders if not DECODERS[name].uses_lm}

    def lm_decoder(self, lm_weight: float, word_score: float) -> DecoderConfig:
        """The lexicon decoder at one grid point, with paths inside the model directory."""
        return replace(self.decoder, kind="lm", lm=ModelDir.LM, lexicon=ModelDir.LEXICON, lm_weight=lm_weight,
                       word_score=word_score)


@dataclass
class ModelStagesConfig:
    """What stages 1-7 need; a recipe's config adds its corpus section."""

    tag: str = "bilstm"  # experiment folder name: exp/<tag>
    nj: int = 2  # parallel jobs for preparation checks and features
    features: FbankConfig = field(default_factory=FbankConfig)
    tokens: TokenConfig = field(default_factory=TokenConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    decode_sets: list[str] = field(default_factory=lambda: ["dev", "test"])  # data/<set> to decode and score


def require(*paths: Path) -> None:
    """Raise MissingInputError if an input of the stage is missing."""
    for p in paths:
        if not Path(p).exists():
            raise MissingInputError(f"missing input {p}: run the earlier stages first")


def features_stage(data: Path, sets: list[str], cfg: FbankConfig, nj: int) -> None:
    require(*(data / s / "wav.scp" for s in sets))
    for s in sets:
        make_features(data / s, cfg, nj=nj)
    write_cmvn(data / "train" / "cmvn.stats", compute_cmvn_stats(data / "train"))


def _token_texts(data: Path) -> list[str]:
    """Transcripts of data/train and data/dev: dev's are training targets too (for the dev loss)."""
    require(data / "train" / "text", data / "dev" / "text")
    return [t for s in ("train", "dev") for t in read_table(data / s / "text", allow_empty_value=True).values()]


def bpe_tokens_stage(data: Path, vocab_size: int) -> None:
    """Train a sentencepiece BPE model on data/train/text -> data/lang/{bpe.model,bpe.vocab,tokens.txt}.

    tokens.txt is the blank (in sentencepiece's <unk> slot, id 0) and the pieces in id order, so
    asr.data.tokens encodes like sentencepiece without it; the first 2000 transcripts are checked.
    """
    import sentencepiece as spm

    require(data / "train" / "text")
    lang = data / "lang"
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


def tokens_stage(data: Path, cfg: TokenConfig, init: ModelDir | None = None) -> None:
    """data/{train,dev}/text -> data/lang/tokens.txt in cfg.unit: blank first; characters ('|' second),
    phones, or sentencepiece BPE pieces of train (with data/lang/bpe.model).

    With `init` (the model train.init_from fine-tunes) its tokens.txt is kept as it is, once every
    train and dev transcript is known to be spellable with it."""
    if cfg.unit not in UNITS:
        raise ConfigError(f"tokens.unit must be one of {', '.join(UNITS)}, got {cfg.unit!r}")
    (data / "lang").mkdir(parents=True, exist_ok=True)
    if init is not None:
        table = init.read_tokens()
        require(data / "train" / "text", data / "dev" / "text")
        for s in ("train", "dev"):
            for utt, text in read_table(data / s / "text", allow_empty_value=True).items():
                try:
                    table.encode(text, utt=utt)
                except TokenError as e:
                    raise TokenError(f"{data / s / 'text'}: {e}; train.init_from keeps the tokens of "
                                     f"{init / ModelDir.TOKENS}: write the transcripts in its symbols") from None
        write_tokens(data / "lang" / "tokens.txt", table)
        log.info("tokens: the %d of %s (train.init_from)", len(table), init / ModelDir.TOKENS)
        return
    if cfg.unit == "bpe":
        bpe_tokens_stage(data, cfg.bpe_vocab_size)
    elif cfg.unit == "phone":
        write_tokens(data / "lang" / "tokens.txt", build_phone_token_table(_token_texts(data)))
    else:
        write_tokens(data / "lang" / "tokens.txt", build_token_table(_token_texts(data)))


def lm_stage(data: Path, cfg: LMConfig, eval_sets: list[str]) -> None:
    """data/train/text (+ cfg.extra_text, cfg.extra_vocab), data/lang/tokens.txt -> data/lang/{lm.arpa,lexicon.txt,lm_eval.txt}.

    The LM and the lexicon see the training transcripts, the extra text and the extra word lists only
    (never a dev or test transcript); lm_eval.txt gives the perplexity and OOV rate of each eval set's text.
    The perturbed copies of data/train (its utt2perturb) are left out: each sentence counts once.
    """
    lang = data / "lang"
    extra, vocab_files = [data / f for f in cfg.extra_text], [data / f for f in cfg.extra_vocab]
    require(data / "train" / "text", lang / "tokens.txt", *extra, *vocab_files, *(data / s / "text" for s in eval_sets))
    copies = read_perturbations(data / "train")
    train_text = [t for u, t in read_table(data / "train" / "text", allow_empty_value=True).items() if u not in copies]
    text = train_text + [line for path in extra for line in path.read_text(encoding="utf-8").splitlines()]
    tokens = read_tokens(lang / "tokens.txt")
    letters = set(tokens.symbols) - {tokens.symbols[tokens.blank_id], WORD_SEP}
    in_text = {w for t in text for w in t.split()}
    listed = {w for path in vocab_files for w in path.read_text(encoding="utf-8").split()} - in_text
    vocab = {w for w in listed if set(w) <= letters}  # a word the model cannot spell is of no use to the decoder
    if cfg.max_vocab or cfg.min_counts:  # pruned: the LM's vocabulary may be smaller than the text's
        from asr.lm import train_kn_arpa

        train_kn_arpa(text, lang / "lm.arpa", cfg.order, vocab=vocab, max_vocab=cfg.max_vocab,
                      min_counts=cfg.min_counts)
    else:
        write_arpa(lang / "lm.arpa", text, cfg.order, vocab)
    lm = read_arpa(lang / "lm.arpa")
    lexicon = build_lexicon((w for t in train_text for w in t.split()), tokens)  # must all be spellable
    more = (lm.vocab - {"<s>", "</s>", "<unk>"}) - set(lexicon)  # in_text | vocab, less what max_vocab cut
    spellable = {w for w in more if set(w) <= letters}
    if more - spellable:
        log.info("lexicon: %d words of the extra text have characters the model lacks; left out", len(more - spellable))
    write_lexicon(lang / "lexicon.txt", {**lexicon, **build_lexicon(spellable, tokens)})
    sources = " + ".join(["data/train/text", *(f"data/{f}" for f in cfg.extra_text)])
    lines = [f"# {cfg.order}-gram Kneser-Ney LM on {sources} ({len(text)} sentences): {len(lm.vocab) - 3} words + <s> </s> <unk>"]
    if cfg.extra_vocab:
        lines[0] += (f", {len(vocab)} of them only from the word lists {' + '.join(f'data/{f}' for f in cfg.extra_vocab)}"
                     " (unigrams sharing <unk>'s probability)")
    for s in eval_sets:
        lines.append(perplexity(lm, read_table(data / s / "text", allow_empty_value=True).values()).summary(s))
    (lang / "lm_eval.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        log.info("%s", line)


def _targets(data_dir: Path, table) -> dict[str, list[int]]:
    return {u: table.encode(t, utt=u) for u, t in read_table(data_dir / "text", allow_empty_value=True).items()}


def init_dir(init_from: str, work: Path) -> ModelDir | None:
    """train.init_from as a model directory: "bundled" is the default model of `asr transcribe`
    (models/en), "bundled:NAME" is models/NAME (e.g. bundled:en_synth), a relative path is read from
    the work dir; None for ""."""
    if not init_from:
        return None
    if init_from == "bundled" or init_from.startswith("bundled:"):
        from asr.transcribe.bundled import bundled_model_dir

        return ModelDir(bundled_model_dir(init_from.partition(":")[2] or None))
    path = Path(init_from)
    init = ModelDir(path if path.is_absolute() else work / path)
    init.check_complete()
    return init


def init_model_dir(init_from: str, work: Path, model_cfg: ModelConfig, fbank_cfg: FbankConfig, table) -> ModelDir:
    """train.init_from as a complete model directory (relative to the work dir) whose model, features
    and tokens are this run's: fine-tuning continues the same network on the same inputs and outputs."""
    init = init_dir(init_from, work)
    assert init is not None
    if not (init / ModelDir.CMVN).is_file():
        raise MissingInputError(f"{init / ModelDir.CMVN}: missing; train.init_from needs the model's CMVN statistics")
    old_model, old_fbank = init.read_config()
    for name, old, new in (("model", old_model, model_cfg), ("features", old_fbank, fbank_cfg)):
        # dropout and dither may change: neither is part of what the weights expect
        diff = sorted(k for k, v in to_dict(new).items() if to_dict(old).get(k) != v and k not in ("dropout", "dither"))
        if diff:
            shown = ", ".join(f"{k}: {to_dict(old).get(k)!r} there, {to_dict(new)[k]!r} here" for k in diff)
            raise ConfigError(f"train.init_from: {init / ModelDir.CONFIG} has another {name} section ({shown})")
    if init.read_tokens().symbols != table.symbols:
        raise ConfigError(f"train.init_from: {init / ModelDir.TOKENS} is not this run's token table "
                          f"(data/lang/tokens.txt): fine-tuning needs the same tokens")
    return init


def train_stage(
    data: Path, exp: Path, model_cfg: ModelConfig, fbank_cfg: FbankConfig, train_cfg: TrainConfig, device: torch.device
) -> None:
    require(data / "train" / "feats.scp", data / "dev" / "feats.scp", data / "lang" / "tokens.txt", data / "train" / "cmvn.stats")
    table = read_tokens(data / "lang" / "tokens.txt")
    model_cfg.vocab_size, model_cfg.input_dim = len(table), fbank_cfg.num_mel_bins
    init = init_model_dir(train_cfg.init_from, data.parent, model_cfg, fbank_cfg, table) if train_cfg.init_from else None
    if rank() == 0:  # under torchrun the other ranks train too, but only rank 0 writes
        exp.mkdir(parents=True, exist_ok=True)
        ModelDir(exp).write_config(model_cfg, fbank_cfg)
        shutil.copy(data / "lang" / "tokens.txt", exp / ModelDir.TOKENS)
        # a fine-tuned model keeps the normalisation its weights were trained with
        shutil.copy(init / ModelDir.CMVN if init else data / "train" / "cmvn.stats", exp / ModelDir.CMVN)
    barrier()
    torch.manual_seed(train_cfg.seed)  # the initial weights: the same on every rank and in every run
    model = build_model(model_cfg)
    mean, istd = read_cmvn(exp / ModelDir.CMVN).mean_istd()
    model.cmvn.mean.copy_(torch.from_numpy(mean))
    model.cmvn.istd.copy_(torch.from_numpy(istd))
    if init:
        model.load_state_dict(init.load_weights())  # copied into the fp32 parameters, also from a float16 export
        log.info("initial weights and CMVN from %s (train.init_from)", init.path)
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
