"""Compute features for a data dir once and store them as Kaldi ark/scp.

Writes into the data dir: feats.scp (utt -> ark:offset), utt2num_frames, and the arks under
`<data_dir>/feats/`. CMVN statistics are accumulated from stored features.

A data dir with a `segments` file (asr/data/segments.py) is cut per utterance: each recording is
read once per chunk of utterances and sliced at the segment's start and end. A data dir with an
`utt2perturb` file (asr/data/perturb.py: speed, room, channel and noise copies for training) has
each listed utterance's waveform perturbed before its features are computed.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import kaldiio
import numpy as np
import torch
from tqdm import tqdm

from asr.data.audio import AudioError, load_audio
from asr.data.datadir import read_datadir, read_table, write_table
from asr.data.features import CmvnStats, FbankConfig, compute_fbank
from asr.data.perturb import perturb_wave, read_perturbations
from asr.data.segments import audio_items, read_any_datadir, read_segmented_datadir
from asr.fileio import atomic_output

log = logging.getLogger(__name__)


def cut_segment(wave: np.ndarray, sample_rate: int, start: float, end: float, utt: str, path: str) -> np.ndarray:
    """Samples [start, end) seconds of a recording [S]; end -1 means to the end. Raises AudioError naming utt and file."""
    first = int(round(start * sample_rate))
    last = len(wave) if end == -1 else int(round(end * sample_rate))
    if first >= len(wave):
        raise AudioError(f"utt '{utt}': {path}: segment starts at {start} s, after the end of the audio "
                         f"({len(wave) / sample_rate:.3f} s)")
    if last > len(wave) + sample_rate // 100:  # Kaldi's extract-segments also tolerates a few ms
        raise AudioError(f"utt '{utt}': {path}: segment ends at {end} s, after the end of the audio "
                         f"({len(wave) / sample_rate:.3f} s)")
    return wave[first:last]


def _featurize_chunk(args: tuple[int, list[tuple], str, FbankConfig, dict[str, str]]) -> dict[str, tuple[str, int]]:
    """Worker: compute fbank for (utt, path[, start, end]) items into ark file number k, each
    utterance in `perturb` ({utt: spec}) through asr.data.perturb.perturb_wave first.

    Returns utt -> (scp entry, frames). Consecutive items of one recording read it once.
    """
    k, items, ark_dir, cfg, perturb = args
    torch.set_num_threads(1)
    ark = Path(ark_dir) / f"feats.{k}.ark"
    out: dict[str, tuple[str, int]] = {}
    loaded: tuple[str, np.ndarray] | None = None
    with atomic_output(ark) as tmp_ark:
        tmp_scp = tmp_ark.with_suffix(".scp")
        with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
            for item in items:
                utt, path = item[0], item[1]
                if len(item) == 2:
                    wave = load_audio(path, cfg.sample_rate, utt=utt)
                else:
                    if loaded is None or loaded[0] != path:
                        loaded = (path, load_audio(path, cfg.sample_rate, utt=utt))
                    wave = cut_segment(loaded[1], cfg.sample_rate, item[2], item[3], utt, path)
                if utt in perturb:
                    wave = perturb_wave(wave, cfg.sample_rate, perturb[utt], utt)
                feats = compute_fbank(wave, cfg).numpy()
                writer(utt, feats)
                out[utt] = ("", feats.shape[0])
        # The scp written by kaldiio points at the temporary name; rewrite it for the final one.
        for line in tmp_scp.read_text().splitlines():
            utt, loc = line.split(maxsplit=1)
            out[utt] = (loc.replace(str(tmp_ark), str(ark)), out[utt][1])
        tmp_scp.unlink()
    return out


def make_features(data_dir: str | Path, cfg: FbankConfig, nj: int = 1, chunk_size: int = 200) -> None:
    """Compute features for every utterance in data_dir/wav.scp (or segments); writes feats.scp, utt2num_frames."""
    data_dir = Path(data_dir)
    items: list[tuple]
    if (data_dir / "segments").exists():
        # Sorted by recording, then start, so a chunk reads each recording once.
        cuts = audio_items(read_segmented_datadir(data_dir))
        items = sorted(cuts, key=lambda it: (it[1], it[2], it[0]))
    else:
        data = read_datadir(data_dir)
        items = list(data.wav_scp.items())
    ark_dir = (data_dir / "feats").resolve()
    ark_dir.mkdir(exist_ok=True)
    perturb = read_perturbations(data_dir)
    chunks = [(k, chunk, str(ark_dir), cfg, {it[0]: perturb[it[0]] for it in chunk if it[0] in perturb})
              for k, chunk in enumerate(items[i : i + chunk_size] for i in range(0, len(items), chunk_size))]
    results: dict[str, tuple[str, int]] = {}
    bar = tqdm(total=len(items), desc=f"fbank {data_dir.name}", unit="utt")
    if nj > 1 and len(chunks) > 1:  # one chunk: a worker pool would only add start-up time
        # concurrent.futures rather than multiprocessing.Pool: a worker that dies (killed, or unable to
        # start, as from a `python -` script under spawn) raises BrokenProcessPool instead of hanging.
        with ProcessPoolExecutor(nj, mp_context=mp.get_context("spawn")) as pool:
            try:
                for done in as_completed([pool.submit(_featurize_chunk, c) for c in chunks]):
                    res = done.result()
                    results.update(res)
                    bar.update(len(res))
            except BrokenProcessPool as err:
                raise RuntimeError(
                    f"{data_dir}: a feature worker process died (killed, out of memory, or unable to start: spawned "
                    "workers re-import the main script, so run from a file, not `python -`); rerun with nj: 1 to see"
                ) from err
    else:
        for chunk in chunks:
            res = _featurize_chunk(chunk)
            results.update(res)
            bar.update(len(res))
    bar.close()
    write_table(data_dir / "utt2num_frames", {u: str(n) for u, (_, n) in results.items()})
    write_table(data_dir / "feats.scp", {u: loc for u, (loc, _) in results.items()})
    frames = sum(n for _, n in results.values())
    log.info("%s: %d utterances, %.2f hours of features", data_dir, len(results), frames / 360000)


def compute_cmvn_stats(data_dir: str | Path) -> CmvnStats:
    """Accumulate global CMVN statistics over data_dir/feats.scp."""
    scp = read_table(Path(data_dir) / "feats.scp")
    stats: CmvnStats | None = None
    for utt, feats in tqdm(kaldiio.load_scp_sequential(str(Path(data_dir) / "feats.scp")), total=len(scp), desc="cmvn"):
        feats = np.asarray(feats)
        if stats is None:
            stats = CmvnStats.zeros(feats.shape[1])
        stats.accumulate(feats)
    if stats is None:
        raise ValueError(f"{data_dir}/feats.scp: no features to compute CMVN from")
    return stats


class UtteranceAudio:
    """The waveform of each utterance of a data dir (whole files or `segments` cuts), read on demand.

    audio = UtteranceAudio("data/test", 16000); wave = audio["utt1"]   # [S] float32 at sample_rate
    Reads the same samples as make_features; the last recording read is kept for its next segment.
    """

    def __init__(self, data_dir: str | Path, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.items = {u: (p, s, e) for u, p, s, e in audio_items(read_any_datadir(data_dir, check_audio=False))}
        self._loaded: tuple[str, np.ndarray] | None = None

    def __getitem__(self, utt: str) -> np.ndarray:
        path, start, end = self.items[utt]
        if self._loaded is None or self._loaded[0] != path:
            self._loaded = (path, load_audio(path, self.sample_rate, utt=utt))
        wave = self._loaded[1]
        return wave if end < 0 else cut_segment(wave, self.sample_rate, start, end, utt, path)
