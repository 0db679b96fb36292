"""The recipe stages after training: decode, tune the LM decoder, score.

    decode    exp/model.pt, data/<set>/{feats.scp,wav.scp} -> exp/decode_<set>_<name>/{text,hyp.trn,ctm}
    tune_lm   data/lang/{lm.arpa,lexicon.txt}, dev -> exp/{decoder.yaml,lm.arpa,lexicon.txt},
              exp/tune_lm_dev/wer_grid.tsv, exp/decode_<set>_lm/
    score     decode dirs + data/<set>/text -> wer, cer, per_utt, per_spk...; exp/RESULTS.md

Decoding goes through asr.decoding.loop (the loop `asr transcribe` and training's dev CER use)
and the CTM through asr.transcribe (the word timings and the writer `asr transcribe --format ctm`
uses), so `asr transcribe --pause-seconds 0 --format ctm data/<set>/wav.scp` writes the same CTM.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import torch

from asr.data.batching import FeatureSet
from asr.data.datadir import read_table
from asr.data.feature_store import UtteranceAudio
from asr.decoding.base import DecoderConfig
from asr.decoding.registry import DECODERS, build_decoder
from asr.decoding.loop import decode_batches, feature_batches
from asr.fileio import atomic_write_text
from asr.nn.distributed import barrier, rank, world_size
from asr.nn.modeldir import ModelDir
from asr.recipe.results import lm_decoding_notes, write_results
from asr.recipe.stages import DecodingConfig, require
from asr.scoring.files import write_text, write_trn
from asr.scoring.wer import score
from asr.transcribe.formats import write_transcripts
from asr.transcribe.recognizer import Recognizer, load_recognizer
from asr.transcribe.transcript import Transcript

log = logging.getLogger(__name__)



def write_decode_dir(out: Path, transcripts: dict[str, Transcript]) -> None:
    """out/{text,hyp.trn,ctm} from {utt: Transcript} (the CTM needs the transcripts' word times)."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "text", {u: t.text for u, t in transcripts.items()})
    write_trn(out / "hyp.trn", {u: t.text for u, t in transcripts.items()})
    ctm = io.StringIO()
    write_transcripts(ctm, [transcripts[u] for u in sorted(transcripts)], "ctm")
    atomic_write_text(out / "ctm", ctm.getvalue())


def decode_set(rec: Recognizer, data_dir: Path, decoders: dict[str, DecoderConfig], max_frames: int,
               shard: tuple[int, int] = (0, 1), progress: bool = True) -> dict[str, dict[str, Transcript]]:
    """Decode one data dir with every named decoder -> {name: {utt: Transcript with timed words}}.

    The model runs once per batch. shard (k, n): only the utterances k, k+n, k+2n... in sorted order
    (the model is exact on padded batches, so a shard's utterances decode as they would in the whole set)."""
    built = {name: build_decoder(cfg, rec.tokens, rec.model_dir) for name, cfg in decoders.items()}
    audio = UtteranceAudio(data_dir, rec.fbank_cfg.sample_rate)
    feats = FeatureSet(data_dir)
    feats.lengths = {u: feats.lengths[u] for u in sorted(feats.lengths)[shard[0]::shard[1]]}
    out: dict[str, dict[str, Transcript]] = {name: {} for name in built}
    for batch in decode_batches(rec.model, feature_batches(feats, max_frames), built, rec.device,
                                progress=progress, desc=f"decode {data_dir.name}"):
        for i, utt in enumerate(batch.utts):
            wave = audio[utt]
            for name, hyps in batch.hyps.items():
                words = rec.timed_words(hyps[i], batch.emission(i), wave)
                out[name][utt] = Transcript(utt, utt, hyps[i].text, len(wave) / rec.fbank_cfg.sample_rate,
                                            hyps[i].score, words)
    return out


def decode_sets(data: Path, exp: Path, sets: list[str], device: torch.device, decoders: dict[str, DecoderConfig],
                max_frames: int = 40000, nj: int = 1) -> dict[str, dict[str, dict[str, Transcript]]]:
    """Every set decoded with every named decoder -> {set: {name: {utt: Transcript}}}; the model runs once per batch.

    nj > 1 on the CPU: nj spawned worker processes of one thread each decode a shard of every set (the
    beam searches run in one thread, so one process leaves a core idle); the model is exact on padded
    batches, so the merged result is the one process's."""
    if nj > 1 and device.type == "cpu":
        with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as pool:
            shards = list(pool.map(_decode_shard, [(data, exp, sets, decoders, max_frames, (k, nj)) for k in range(nj)]))
        return {s: {name: {u: t for shard in shards for u, t in shard[s][name].items()} for name in decoders}
                for s in sets}
    rec = load_recognizer(exp, str(device))
    return {s: decode_set(rec, data / s, decoders, max_frames) for s in sets}


def decode_stage(data: Path, exp: Path, sets: list[str], device: torch.device, decoders: dict[str, DecoderConfig],
                 max_frames: int = 40000, all_ranks: bool = False, nj: int = 1) -> None:
    """exp/model.pt, data/<set>/feats.scp -> exp/decode_<set>_<name>/{text,hyp.trn,ctm} for each named decoder.

    Relative LM and lexicon paths resolve against exp/. all_ranks: every rank of a torchrun group
    calls this (stage 5 is a distributed stage); each decodes every world-th utterance and rank 0
    writes the merged set, the same files one process writes. nj > 1 on the CPU outside a torchrun
    group: nj one-thread worker processes (decode_sets)."""
    require(exp / ModelDir.WEIGHTS, *(data / s / "feats.scp" for s in sets))
    me, world = (rank(), world_size()) if all_ranks else (0, 1)
    if nj > 1 and world == 1 and device.type == "cpu":
        t0 = time.time()
        for s, decoded in decode_sets(data, exp, sets, device, decoders, max_frames, nj).items():
            for name, transcripts in decoded.items():
                write_decode_dir(exp / f"decode_{s}_{name}", transcripts)
        log.info("decoded %s with %s in %.1f s (%d processes)", ", ".join(sets), ", ".join(decoders), time.time() - t0, nj)
        return
    rec = load_recognizer(exp, str(device))
    for s in sets:
        t0 = time.time()
        decoded = decode_set(rec, data / s, decoders, max_frames, shard=(me, world))
        if world > 1:  # under torchrun each rank decodes a shard; rank 0 writes the whole set
            decoded = _gather_on_rank0(decoded, exp / f".decode_{s}", me, world)
        if me == 0:
            for name, transcripts in decoded.items():
                write_decode_dir(exp / f"decode_{s}_{name}", transcripts)
        log.info("decoded %s with %s in %.1f s", s, ", ".join(decoders), time.time() - t0)


def _decode_shard(job: tuple) -> dict[str, dict[str, dict[str, Transcript]]]:
    """One worker of decode_stage's pool: shard (k, n) of every set -> {set: {name: {utt: Transcript}}}.
    Worker 0 shows the progress bars (its shard is 1/n of the work)."""
    data, exp, sets, decoders, max_frames, shard = job
    torch.set_num_threads(1)
    rec = load_recognizer(exp, "cpu")
    return {s: decode_set(rec, data / s, decoders, max_frames, shard=shard, progress=shard[0] == 0) for s in sets}


def _gather_on_rank0(decoded: dict[str, dict[str, Transcript]], tmp: Path, me: int, world: int) -> dict:
    """Every rank's {name: {utt: Transcript}} merged on rank 0 (through JSON-lines shard files in `tmp`)."""
    tmp.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"decoder": name, **t.to_dict()}) for name, ts in decoded.items() for t in ts.values()]
    atomic_write_text(tmp / f"rank{me}.jsonl", "".join(line + "\n" for line in lines))
    barrier()
    merged: dict[str, dict[str, Transcript]] = {name: {} for name in decoded}
    if me == 0:
        for r in range(world):
            for line in (tmp / f"rank{r}.jsonl").read_text(encoding="utf-8").splitlines():
                d = json.loads(line)
                merged[d.pop("decoder")][d["id"]] = Transcript.from_dict(d)
        shutil.rmtree(tmp)
    barrier()
    return merged


def tune_lm_stage(data: Path, exp: Path, sets: list[str], device: torch.device, cfg: DecodingConfig, tune_set: str = "dev",
                  nj: int = 1) -> None:
    """Pick the LM decoder's weights on `tune_set` only, then decode every set with them.

    The lexicon decoder runs over the grid cfg.lm_weights x cfg.word_scores; then the
    lexicon-free decoder, at the best of those weights, with each of cfg.unk_scores. The
    lowest WER wins (the first of equals, in that order). Each round decodes `tune_set` once with
    all its points (decode_sets: the model runs once per batch; nj processes on the CPU, each a shard),
    and the winner's transcripts of `tune_set` are its decode dir: only the other sets are decoded again.
    Reads data/lang/{lm.arpa,lexicon.txt}, exp/model.pt, data/<set>/{feats.scp,text}. Writes
    exp/{lm.arpa,lexicon.txt} (so the model directory stays self-contained),
    exp/tune_lm_<tune_set>/wer_grid.tsv (every point's WER), exp/decoder.yaml (the chosen
    decoder, `asr transcribe`'s default) and exp/decode_<set>_lm/{text,hyp.trn,ctm}.
    """
    lang = data / "lang"
    require(exp / ModelDir.WEIGHTS, lang / "lm.arpa", lang / "lexicon.txt", data / tune_set / "text",
            *(data / s / "feats.scp" for s in {tune_set, *sets}))
    shutil.copy(lang / "lm.arpa", exp / ModelDir.LM)
    shutil.copy(lang / "lexicon.txt", exp / ModelDir.LEXICON)
    refs = read_table(data / tune_set / "text", allow_empty_value=True)
    rows: list[tuple[float, DecoderConfig, int, int]] = []
    transcripts: list[dict[str, Transcript]] = []  # rows[i]'s transcripts of tune_set

    def evaluate(points: list[DecoderConfig]) -> None:
        t0 = time.time()
        names = {f"point{len(rows) + i}": dcfg for i, dcfg in enumerate(points)}
        decoded = decode_sets(data, exp, [tune_set], device, names, cfg.max_frames, nj)[tune_set]
        for name, dcfg in names.items():
            wer = score(refs, {u: t.text for u, t in decoded[name].items()}).total
            rows.append((wer.wer, dcfg, wer.errors, wer.ref_words))
            transcripts.append(decoded[name])
            log.info("%s: %s lm_weight %.2f word_score %.2f unk_score %.2f: WER %.2f%%", tune_set,
                     "lexicon" if dcfg.lexicon else "lexicon-free", dcfg.lm_weight, dcfg.word_score, dcfg.unk_score,
                     wer.wer)
        log.info("%d point(s) on %s in %.1f s (%d process(es))", len(points), tune_set, time.time() - t0, nj)

    evaluate([cfg.lm_decoder(lm_weight, word_score) for lm_weight in cfg.lm_weights for word_score in cfg.word_scores])
    best_lexicon = min(rows, key=lambda r: r[0])[1]
    if cfg.unk_scores:
        evaluate([replace(best_lexicon, lexicon=None, unk_score=unk_score) for unk_score in cfg.unk_scores])
    out = exp / f"tune_lm_{tune_set}"
    out.mkdir(exist_ok=True)
    (out / "wer_grid.tsv").write_text(
        "decoder\tlm_weight\tword_score\tunk_score\twer\terrors\twords\n"
        + "".join(f"{'lexicon' if c.lexicon else 'lexicon-free'}\t{c.lm_weight}\t{c.word_score}\t{c.unk_score}\t{w:.2f}\t{e}\t{n}\n"
                  for w, c, e, n in rows)
    )
    best = min(range(len(rows)), key=lambda i: rows[i][0])
    best_wer, chosen, _, _ = rows[best]
    ModelDir(exp).write_decoder_config(chosen)
    log.info("chosen on %s: %s, lm_weight %.2f word_score %.2f unk_score %.2f (WER %.2f%%) -> %s", tune_set,
             "lexicon" if chosen.lexicon else "lexicon-free", chosen.lm_weight, chosen.word_score, chosen.unk_score,
             best_wer, exp / ModelDir.DECODER)
    if tune_set in sets:
        write_decode_dir(exp / f"decode_{tune_set}_lm", transcripts[best])
    rest = [s for s in sets if s != tune_set]
    if rest:
        decode_stage(data, exp, rest, device, {"lm": chosen}, cfg.max_frames, nj=nj)


def score_stage(
    data: Path,
    exp: Path,
    sets: list[str],
    heldout_speakers: list[str],
    stage_times: dict[str, float],
    command: str,
    decoders: list[str] = ("greedy",),
) -> None:
    """Score exp/decode_<set>_<name> for each decoder name, side by side (the first is the main
    table; with 'lm', the LM tuning notes too) -> exp/RESULTS.md."""
    first, *rest = decoders
    decode_dirs = {s: exp / f"decode_{s}_{first}" for s in sets}
    more = {DECODERS[name].label: {s: exp / f"decode_{s}_{name}" for s in sets} for name in decoders} if rest else {}
    require(*(d / "text" for d in decode_dirs.values()), *(d / "text" for m in more.values() for d in m.values()),
            *(data / s / "text" for s in sets))
    write_results(
        exp / ModelDir.RESULTS,
        {s: (data / s, d) for s, d in decode_dirs.items()},
        exp,
        heldout_speakers=heldout_speakers,
        stage_times=stage_times,
        command=command,
        decoders=more or None,
        decoding_notes=lm_decoding_notes(exp, data / "lang") if any(DECODERS[n].uses_lm for n in decoders) else None,
    )
    print((exp / ModelDir.RESULTS).read_text())
