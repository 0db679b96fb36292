"""Time asr.data.features.compute_fbank against kaldi-native-fbank on the same audio, in one run.

Both extractors use Kaldi's 80-bin log-mel fbank with the same options (dither 0, povey window,
snip_edges, low_freq 20 Hz, energy_floor 0, int16-scaled samples) and one CPU thread. Each is
timed end to end per utterance (waveform [S] -> features [T, 80] array), best of --repeats.

    python benchmarks/features.py                       # 60 s of synthetic speech-like audio
    python benchmarks/features.py --data-dir data/train --seconds 120
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from asr.data.features import INT16_SCALE, FbankConfig, compute_fbank


def speech_like(seconds: float, seed: int, sample_rate: int = 16000) -> np.ndarray:
    """Harmonics on a wobbling pitch, syllable-rate envelope, plus noise -> float32 [S] in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = 160 + 40 * np.sin(2 * np.pi * (1.5 + rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + rng.random() * 6.28)
    return np.clip(0.12 * voiced * envelope + 0.02 * rng.standard_normal(n), -1, 1).astype(np.float32)


def load_waves(data_dir: Path | None, seconds: float, utt_seconds: float, sample_rate: int) -> tuple[list[np.ndarray], str]:
    """Utterances totalling about `seconds` of audio: from data_dir/wav.scp, or synthetic."""
    if data_dir is None:
        count = max(1, round(seconds / utt_seconds))
        return [speech_like(seconds / count, seed=i, sample_rate=sample_rate) for i in range(count)], "synthetic speech-like"
    from asr.data.audio import load_audio
    from asr.data.datadir import read_table

    waves, total = [], 0.0
    for utt, path in read_table(data_dir / "wav.scp").items():
        if total >= seconds:
            break
        wave = load_audio(path, sample_rate, utt=utt)
        waves.append(wave)
        total += len(wave) / sample_rate
    return waves, str(data_dir / "wav.scp")


def knf_fbank(wave: np.ndarray, cfg: FbankConfig) -> np.ndarray:
    """kaldi-native-fbank with the options asr.data.features uses -> [T, num_mel_bins] float32."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = cfg.sample_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.window_type = "povey"
    opts.frame_opts.frame_length_ms = cfg.frame_length_ms
    opts.frame_opts.frame_shift_ms = cfg.frame_shift_ms
    opts.mel_opts.num_bins = cfg.num_mel_bins
    opts.mel_opts.low_freq = cfg.low_freq
    opts.mel_opts.high_freq = cfg.high_freq
    opts.energy_floor = 0.0
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(cfg.sample_rate, wave * INT16_SCALE)
    fbank.input_finished()
    n = fbank.num_frames_ready
    if n == 0:
        return np.zeros((0, cfg.num_mel_bins), dtype=np.float32)
    return np.stack([fbank.get_frame(i) for i in range(n)])


def ours_fbank(wave: np.ndarray, cfg: FbankConfig) -> np.ndarray:
    return compute_fbank(wave, cfg).numpy()


def best_time(fn, waves: list[np.ndarray], cfg: FbankConfig, repeats: int) -> tuple[float, list[np.ndarray]]:
    """Smallest wall time (seconds) over `repeats` passes over all waves, and the last outputs."""
    fn(waves[0], cfg)  # warm-up: first-call overheads (allocations, lazy init) are not measured
    best, out = float("inf"), []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = [fn(w, cfg) for w in waves]
        best = min(best, time.perf_counter() - t0)
    return best, out


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="total audio to process (seconds)")
    parser.add_argument("--utt-seconds", type=float, default=5.0, help="length of each synthetic utterance (seconds)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per extractor; the best is reported")
    parser.add_argument("--data-dir", type=Path, default=None, help="use audio from this data dir's wav.scp")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    torch.set_num_threads(1)
    cfg = FbankConfig()
    waves, source = load_waves(args.data_dir, args.seconds, args.utt_seconds, cfg.sample_rate)
    audio_s = sum(len(w) for w in waves) / cfg.sample_rate

    t_ours, f_ours = best_time(ours_fbank, waves, cfg, args.repeats)
    t_knf, f_knf = best_time(knf_fbank, waves, cfg, args.repeats)
    frames = sum(len(f) for f in f_ours)
    if [f.shape for f in f_ours] != [f.shape for f in f_knf]:
        raise SystemExit("feature shapes differ between the two extractors")
    max_diff = max(float(np.abs(a - b).max()) for a, b in zip(f_ours, f_knf) if len(a))

    print(f"audio: {audio_s:.1f} s in {len(waves)} utterances ({source}); 1 thread; best of {args.repeats}")
    print(f"{'extractor':<34} {'seconds':>9} {'x real time':>12}")
    print(f"{'asr.data.features.compute_fbank':<34} {t_ours:>9.3f} {audio_s / t_ours:>12.0f}")
    print(f"{'kaldi_native_fbank.OnlineFbank':<34} {t_knf:>9.3f} {audio_s / t_knf:>12.0f}")
    print(f"time ratio asr / knf: {t_ours / t_knf:.2f}")
    print(f"max |asr - knf|: {max_diff:.2e} over {frames} frames x {cfg.num_mel_bins} bins")


if __name__ == "__main__":
    main()
