"""Time every decoder on the same emissions of a trained model, in one run, with its WER.

The acoustic model runs once over a data dir; then greedy, prefix beam search, beam search with
the lexicon and the word LM, and lexicon-free beam search with the same LM each decode all of
those emissions, on one CPU thread and on two. Speeds are utterances per second and times real
time (audio seconds = input frames x the 10 ms frame shift, over decoding seconds; the acoustic
model's own time is reported apart).

Two threads: greedy and prefix beam search are torch code, so torch gets two intra-op threads.
flashlight's decoders hold the GIL and decode one utterance at a time, so there the utterances
are split between two worker processes (forked after the emissions exist, decoders built and
warmed up before the clock starts).

The LM weight, word score and beams come from the model directory's decoder.yaml (written by
the recipe's tune_lm stage, chosen on dev), the LM and lexicon from its lm.arpa and lexicon.txt.

    python benchmarks/decode.py --model recipes/synth_en/exp/bilstm --data-dir recipes/synth_en/data/test
    python benchmarks/decode.py --model DIR --data-dir DIR --max-utts 100 --threads 1
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import torch

from asr.data.batching import FeatureSet
from asr.data.datadir import read_table
from asr.decoding.base import DecoderConfig
from asr.decoding.registry import build_decoder
from asr.decoding.loop import (
    cache_emissions,
    decode_batches,
    decode_cached,
    feature_batches,
)
from asr.nn.modeldir import ModelDir
from asr.scoring.wer import score
from asr.transcribe.recognizer import load_recognizer


def compute_emissions(model, feats: FeatureSet, device: torch.device) -> dict:
    """{utt: log-probs [T', V]}: the model over a FeatureSet, through the decoding loop."""
    return cache_emissions(decode_batches(model, feature_batches(feats, 40000), {}, device))

_WORKER: dict = {}  # per worker process: the decoder and the (forked) emissions


def _init_worker(cfg: DecoderConfig, model_dir: str, emissions: dict) -> None:
    torch.set_num_threads(1)
    rec_tokens = ModelDir(model_dir).read_tokens()
    _WORKER["decoder"] = build_decoder(cfg, rec_tokens, model_dir)
    _WORKER["emissions"] = emissions


def _decode_shard(utts: list[str]) -> dict:
    ems = _WORKER["emissions"]
    return decode_cached(_WORKER["decoder"], {u: ems[u] for u in utts})


def _warm(_: int) -> bool:
    return "decoder" in _WORKER


def time_in_processes(cfg: DecoderConfig, model_dir: Path, emissions: dict, workers: int) -> tuple[dict, float]:
    """Decode with `workers` forked processes, one shard each (similar total frames) -> (hyps, seconds)."""
    utts = sorted(emissions, key=lambda u: -emissions[u].shape[0])
    shards = [utts[i::workers] for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(cfg, str(model_dir), emissions)) as pool:
        assert all(pool.map(_warm, range(workers * 4)))
        t0 = time.perf_counter()
        parts = list(pool.map(_decode_shard, shards))
        seconds = time.perf_counter() - t0
    hyps = {}
    for p in parts:
        hyps.update(p)
    return hyps, seconds


def time_in_process(cfg: DecoderConfig, model_dir: Path, tokens, emissions: dict, threads: int) -> tuple[dict, float]:
    torch.set_num_threads(threads)
    decoder = build_decoder(cfg, tokens, model_dir)
    first = next(iter(emissions))
    decode_cached(decoder, {first: emissions[first]})  # warm-up
    t0 = time.perf_counter()
    hyps = decode_cached(decoder, emissions)
    return hyps, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path, help="model directory with model.pt, decoder.yaml, lm.arpa, lexicon.txt")
    parser.add_argument("--data-dir", required=True, type=Path, help="data dir with feats.scp, utt2num_frames and text")
    parser.add_argument("--max-utts", type=int, default=0, help="decode only the first N utterances (0: all)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to time (default: 1 2)")
    parser.add_argument("--skip", nargs="*", default=[], help="decoders to leave out: greedy beam lm lm-free")
    args = parser.parse_args()

    chosen = ModelDir(args.model).read_decoder_config()
    if chosen is None or chosen.kind != "lm":
        print(f"note: no LM decoder.yaml in {args.model}; using LM weight 1, word score 0")
        chosen = DecoderConfig(kind="lm")
    feats = FeatureSet(args.data_dir)
    utts = sorted(feats.lengths)[: args.max_utts or None]
    feats.lengths = {u: feats.lengths[u] for u in utts}
    refs = read_table(args.data_dir / "text", allow_empty_value=True)
    refs = {u: refs[u] for u in utts}

    torch.set_num_threads(max(args.threads))
    rec = load_recognizer(args.model, "cpu")
    frame_shift = rec.fbank_cfg.frame_shift_ms / 1000.0
    audio_seconds = sum(feats.lengths.values()) * frame_shift
    first = FeatureSet(args.data_dir)
    first.lengths = {utts[0]: feats.lengths[utts[0]]}
    compute_emissions(rec.model, first, torch.device("cpu"))  # warm-up: the first call allocates
    t0 = time.perf_counter()
    emissions = compute_emissions(rec.model, feats, torch.device("cpu"))
    am_seconds = time.perf_counter() - t0

    mark = {True: " *", False: ""}
    decoders = {
        "greedy": DecoderConfig("greedy"),
        f"beam (prefix, beam {chosen.beam})": DecoderConfig("beam", beam=chosen.beam),
        f"lm (lexicon, beam {chosen.lm_beam}){mark[bool(chosen.lexicon)]}": replace(chosen, lexicon=chosen.lexicon or "lexicon.txt"),
        f"lm-free (no lexicon, beam {chosen.lm_beam}){mark[not chosen.lexicon]}": replace(chosen, lexicon=None),
    }
    skip = {"greedy": "greedy", "beam": "beam (", "lm": "lm (", "lm-free": "lm-free"}
    decoders = {k: v for k, v in decoders.items() if not any(k.startswith(skip[s]) for s in args.skip)}

    print(f"# Decoding benchmark: {args.model} on {args.data_dir}")
    print(f"- {len(utts)} utterances, {audio_seconds / 60:.1f} min of audio, {sum(e.shape[0] for e in emissions.values())} "
          f"output frames; torch {torch.__version__}, {multiprocessing.cpu_count()} CPUs on the machine")
    print(f"- acoustic model (BiLSTM, {torch.get_num_threads()} threads): {am_seconds:.1f} s, "
          f"{audio_seconds / am_seconds:.0f}x real time (not included below)")
    print(f"- LM decoders (decoder.yaml; * = the one it chose on dev): lm_weight {chosen.lm_weight}, word_score "
          f"{chosen.word_score}, unk_score {chosen.unk_score} (lexicon-free only), beam {chosen.lm_beam}, beam threshold "
          f"{chosen.beam_threshold}, tokens per frame {chosen.beam_size_token or 'all'}, LM {chosen.lm}")
    print()
    print("| decoder | threads | seconds | utts/s | x real time | WER % |")
    print("|---|---|---|---|---|---|")
    for name, cfg in decoders.items():
        for threads in args.threads:
            if cfg.kind == "lm" and threads > 1:
                hyps, secs = time_in_processes(cfg, args.model, emissions, threads)
            else:
                hyps, secs = time_in_process(cfg, args.model, rec.tokens, emissions, threads)
            wer = score(refs, {u: h.text for u, h in hyps.items()}).total.wer
            print(f"| {name} | {threads} | {secs:.2f} | {len(utts) / secs:.1f} | {audio_seconds / secs:.0f} | {wer:.2f} |", flush=True)


if __name__ == "__main__":
    main()
