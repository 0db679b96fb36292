"""A synthesised English speech corpus: WordNet example sentences read by local TTS voices.

    python -m data_prep.synth.corpus --audio-dir corpus/synth_en --data-root data --num-train 5000 --nj 2

Reads  /usr/share/wordnet/data.{noun,verb,adj,adv} (Debian wordnet-base).
Writes <audio_dir>/<spk>/<utt>.flac (16 kHz mono 16-bit), <audio_dir>/synth_config.json,
       <data_root>/{train,dev,test}/{wav.scp,text,utt2spk,spk2utt} (absolute audio paths).

Sentences go to train/dev/test by a SHA-1 of the normalised text, so no sentence is in
two splits. Held-out voices read only dev and test, so the recipe can report the error
rate on a voice it never trained on. Each utterance draws its rate, pitch, padding, gain
and noise from an RNG seeded by (seed, split, index): the corpus is the same for any
--nj, and a rerun skips every utterance whose .flac already exists.

Augmentation defaults (SynthConfig): rate x0.8-1.25 and pitch x0.85-1.2 of the voice's
default; 0.05-0.3 s of padding at each end; peak level -20 to -1 dBFS; a white floor at
-70 dBFS everywhere. The training split alone also gets, each with its own probability
(asr.data.augment does the work): speed perturbation x0.9/x1.1 (0.3), a simulated room of
RT60 0.1-1.0 s (0.3), white/pink/brown noise at 10-35 dB SNR (0.5), babble of 3-7 other
utterances at 5-25 dB SNR (0.1), a telephone or codec channel (0.15) and mild clipping (0.05).

Held-out conditions: at the end, copies of the test set under conditions that no test
utterance has (CONDITION_SETS: test_reverb, test_phone, test_noise10) go to
<audio_dir>/<name>/ and <data_root>/<name>/, with the test set's utterance ids.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.data.audio import load_audio, write_audio
from asr.data.augment import (
    active_power,
    add_noise,
    babble,
    channel,
    check_channels,
    clip_peak,
    coloured_noise,
    reverberate,
    room_impulse_response,
    speed_perturb,
)
from asr.data.datadir import DataDir, write_datadir
from asr.data.resample import resample
from asr.fileio import atomic_output
from data_prep.synth.conditions import write_condition_sets
from data_prep.synth.plan import (  # noqa: F401 (re-exported: the corpus's plan is part of this module's API)
    DEFAULT_HELDOUT,
    DEFAULT_VOICES,
    SAMPLE_RATE,
    SPLITS,
    SynthConfig,
    UttPlan,
    plan_corpus,
    resolve_voice,
    utterance_rng,
)
from data_prep.synth.engines import (
    SYNTH_FUNCTIONS,
    TTSError,
    Voice,
    check_espeak_variant,
)
from data_prep.synth.install import check_voices_installed
from data_prep.synth.wordnet_text import load_wordnet_sentences, split_of

log = logging.getLogger(__name__)


def synthesize(text: str, voice: str | Voice, rate: float = 1.0, pitch: float = 1.0) -> np.ndarray:
    """Read `text` with `voice` ('<engine>:<name>'); return float32 samples [S] at 16 kHz.

    `rate` and `pitch` are factors relative to the voice's default. Raises TTSError naming
    the voice, the text and the command when the engine fails.
    """
    v = voice if isinstance(voice, Voice) else Voice.parse(voice)
    wave, sr = SYNTH_FUNCTIONS[v.engine](text, v, rate, pitch)
    return resample(wave.astype(np.float32), sr, SAMPLE_RATE).astype(np.float32)


def augment(wave: np.ndarray, rng: np.random.Generator, cfg: SynthConfig, noisy: bool = True,
            babble_pool: np.ndarray | None = None) -> np.ndarray:
    """Speed, pad, room, noise, babble, channel, peak level, clipping, floor (asr.data.augment).

    wave: [S] at 16 kHz. Returns float32 [S' + padding] in [-1, 1] (S' = S / speed factor).
    Every draw is made, in a fixed order, whether its augmentation happens or not, and the
    room, noise and babble draw from generators seeded here: the result depends only on
    `wave` and the state of `rng`, and changing one probability leaves the other draws alone.
    With noisy=False (a split outside cfg.noise_splits) only padding, peak level and floor
    are applied; with noisy=True the padding is drawn from cfg.train_pad_range_s when it is set.
    babble_pool: speech [P] for babble (`make_babble_pool`); None: no babble.
    SNRs are relative to the speech's active power (frames within 30 dB of the loudest).
    """
    pad_range = cfg.train_pad_range_s if noisy and cfg.train_pad_range_s is not None else cfg.pad_range_s
    lead, trail = (int(rng.uniform(*pad_range) * SAMPLE_RATE) for _ in range(2))
    do_noise = rng.uniform() < cfg.noise_prob and noisy
    color = cfg.noise_colors[int(rng.integers(len(cfg.noise_colors)))]
    snr_db = rng.uniform(*cfg.snr_db_range)
    peak_db = rng.uniform(*cfg.peak_db_range)
    do_speed = rng.uniform() < cfg.speed_prob and noisy
    speed = cfg.speed_factors[int(rng.integers(len(cfg.speed_factors)))] if cfg.speed_factors else 1.0
    do_reverb = rng.uniform() < cfg.reverb_prob and noisy
    rt60 = rng.uniform(*cfg.rt60_range_s)
    do_channel = rng.uniform() < cfg.channel_prob and noisy and bool(cfg.channels)
    chan = cfg.channels[int(rng.integers(len(cfg.channels)))] if cfg.channels else ""
    do_babble = rng.uniform() < cfg.babble_prob and noisy and babble_pool is not None
    talkers = int(rng.integers(cfg.babble_talkers[0], cfg.babble_talkers[1] + 1))
    babble_snr_db = rng.uniform(*cfg.babble_snr_db_range)
    do_clip = rng.uniform() < cfg.clip_prob and noisy
    drive_db = rng.uniform(*cfg.clip_drive_db_range)
    room_rng, noise_rng, babble_rng = (np.random.default_rng(s) for s in rng.integers(0, 2**63, size=3))

    x = speed_perturb(wave, SAMPLE_RATE, speed) if do_speed else wave
    out = np.concatenate([np.zeros(lead), x.astype(np.float64), np.zeros(trail)]).astype(np.float32)
    if do_reverb:  # the tail rings into the trailing padding
        out = reverberate(out, room_impulse_response(rt60, SAMPLE_RATE, room_rng))
    power = active_power(out, SAMPLE_RATE)
    if do_noise:
        out = add_noise(out, coloured_noise(len(out), color, noise_rng, SAMPLE_RATE), snr_db, power)
    if do_babble:
        out = add_noise(out, babble(babble_pool, len(out), babble_rng, talkers), babble_snr_db, power)
    if do_channel:  # noise and babble are in the room, before the line
        out = channel(out, SAMPLE_RATE, chan)
    peak = 10 ** (peak_db / 20)
    out = out.astype(np.float64) * (peak / max(float(np.abs(out).max()), 1e-6))
    if do_clip:
        out = clip_peak(out, peak, drive_db).astype(np.float64)
    out += rng.standard_normal(len(out)) * 10 ** (cfg.noise_floor_dbfs / 20)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def make_babble_pool(sentences: list[str], cfg: SynthConfig, path: Path) -> np.ndarray:
    """Speech for babble [P]: cfg.babble_pool_size training sentences (a seeded choice) read by
    the training voices in turn, each at unit RMS, end to end; made once into `path` (FLAC)."""
    if path.exists():
        return load_audio(path, SAMPLE_RATE)
    train = [s for s in sentences if split_of(s, cfg.dev_fraction, cfg.test_fraction) == "train"]
    voices = [v for v in cfg.voices if v not in cfg.heldout_voices]
    rng = np.random.default_rng([cfg.seed, 99])
    parts = []
    for i, k in enumerate(rng.permutation(len(train))[: cfg.babble_pool_size]):
        wave = synthesize(train[k], resolve_voice(voices[i % len(voices)], cfg, "babble", i)).astype(np.float64)
        parts.append(wave / max(float(np.sqrt(np.mean(wave**2))), 1e-6))
    pool = np.concatenate(parts)
    pool *= 0.5 / max(float(np.abs(pool).max()), 1e-6)  # fits 16-bit FLAC
    with atomic_output(path) as tmp:
        write_audio(tmp, pool, SAMPLE_RATE)
    return load_audio(path, SAMPLE_RATE)  # the 16-bit version, as a resumed run reads it


def synthesize_utterance(plan: UttPlan, cfg: SynthConfig, babble_pool: np.ndarray | None = None) -> float:
    """Make one utterance's audio file unless it exists; return its duration in seconds.
    babble_pool: speech [P] for babble (`make_babble_pool`); None: no babble."""
    path = Path(plan.path)
    if path.exists():
        return -1.0  # made by an earlier run
    rng = utterance_rng(cfg.seed, plan.split, plan.index)
    rate, pitch = rng.uniform(*cfg.rate_range), rng.uniform(*cfg.pitch_range)
    try:
        wave = synthesize(plan.text, plan.voice, rate, pitch)
    except TTSError as e:
        raise TTSError(f"utt '{plan.utt}': {e}") from None
    wave = augment(wave, rng, cfg, noisy=plan.split in cfg.noise_splits, babble_pool=babble_pool)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # a partial file never has the final name
        write_audio(tmp, wave, SAMPLE_RATE)
    return len(wave) / SAMPLE_RATE


_BABBLE_POOL: np.ndarray | None = None  # this process's speech for babble (set by _worker_init)


def _worker_init(babble_pool: np.ndarray | None = None) -> None:
    import torch

    global _BABBLE_POOL
    torch.set_num_threads(1)  # nj processes already fill the cores
    _BABBLE_POOL = babble_pool


def _synthesize_job(job: tuple[UttPlan, SynthConfig]) -> float:
    return synthesize_utterance(*job, babble_pool=_BABBLE_POOL)


def _check_config_stamp(audio_dir: Path, cfg: SynthConfig) -> None:
    """Refuse to resume into audio made with other settings (sizes may change: they only add utts)."""
    stamp = {k: v for k, v in asdict(cfg).items() if k not in ("num_train", "num_dev", "num_test", "condition_sets")}
    stamp = json.loads(json.dumps(stamp))  # tuples -> lists, as they come back from the file
    path = audio_dir / "synth_config.json"
    if path.exists():
        old = json.loads(path.read_text())
        diff = sorted(k for k in set(old) | set(stamp) if old.get(k) != stamp.get(k))
        if diff:
            raise ValueError(f"{path}: audio here was made with other settings ({', '.join(diff)}); "
                             "use another audio dir (--audio-dir; the synth_en recipe's corpus_dir) or delete this one")
    else:
        audio_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stamp, indent=1) + "\n")


def prepare_synth_en(audio_dir: str | Path, data_root: str | Path, cfg: SynthConfig, nj: int = 2) -> None:
    """Synthesise the corpus into `audio_dir` and write Kaldi data dirs data_root/{train,dev,test}."""
    audio_dir, data_root = Path(audio_dir), Path(data_root)
    sentences = load_wordnet_sentences(Path(cfg.wordnet_dir), cfg.min_words, cfg.max_words)
    plans = plan_corpus(sentences, cfg, audio_dir)
    check_voices_installed([Voice.parse(spec) for spec in cfg.voices])  # one line naming the Debian packages
    for spec in cfg.voices:
        check_espeak_variant(Voice.parse(spec))
    _check_config_stamp(audio_dir, cfg)  # only once the config is known to be usable
    log.info("%d sentences; %d utterances (train %d, dev %d, test %d); %d voices, held out: %s",
             len(sentences), len(plans), cfg.num_train, cfg.num_dev, cfg.num_test, len(cfg.voices),
             ", ".join(cfg.heldout_voices) or "none")
    todo = [p for p in plans if not Path(p.path).exists()]
    log.info("%d utterances already made, %d to synthesise with nj=%d", len(plans) - len(todo), len(todo), nj)
    augmented = any(p.split in cfg.noise_splits for p in todo)
    if augmented and cfg.channel_prob > 0:
        check_channels(cfg.channels)  # a missing sox/ffmpeg is named now, not mid-run
    babble_pool = None
    if augmented and cfg.babble_prob > 0:
        babble_pool = make_babble_pool(sentences, cfg, audio_dir / "babble_pool.flac")
    jobs = [(p, cfg) for p in todo]
    with tqdm(total=len(jobs), unit="utt", desc="synth_en") as bar:
        durations = []
        if nj <= 1:
            for job in jobs:
                durations.append(synthesize_utterance(*job, babble_pool=babble_pool))
                bar.update()
        else:
            with multiprocessing.Pool(nj, initializer=_worker_init, initargs=(babble_pool,)) as pool:
                for d in pool.imap_unordered(_synthesize_job, jobs, chunksize=4):
                    durations.append(d)
                    bar.update()
    durations = [d for d in durations if d >= 0]
    if durations:
        log.info("made %.2f h of audio, %.2f s per utterance", sum(durations) / 3600, float(np.mean(durations)))
    for split in SPLITS:
        data = DataDir()
        for p in plans:
            if p.split == split:
                data.wav_scp[p.utt], data.text[p.utt], data.utt2spk[p.utt] = p.path, p.text, p.spk
        write_datadir(data_root / split, data)
        log.info("wrote %s: %d utterances, %d speakers", data_root / split, len(data.wav_scp), len(data.spk2utt))
    if cfg.condition_sets and cfg.num_test > 0:
        write_condition_sets(cfg.condition_sets, cfg.seed, audio_dir, data_root, nj=nj)


def get_parser() -> argparse.ArgumentParser:
    d = SynthConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--audio-dir", type=Path, required=True, help="where <spk>/<utt>.flac files go")
    p.add_argument("--data-root", type=Path, required=True, help="where the train, dev and test data dirs go")
    p.add_argument("--num-train", type=int, default=d.num_train, help="utterances in train")
    p.add_argument("--num-dev", type=int, default=d.num_dev, help="utterances in dev")
    p.add_argument("--num-test", type=int, default=d.num_test, help="utterances in test")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed for sentence order, prosody and noise")
    p.add_argument("--voices", nargs="+", default=d.voices, help="voices as <engine>:<name>")
    p.add_argument("--heldout-voices", nargs="*", default=d.heldout_voices, help="voices kept out of train")
    p.add_argument("--dev-fraction", type=float, default=d.dev_fraction, help="share of sentences for dev")
    p.add_argument("--test-fraction", type=float, default=d.test_fraction, help="share of sentences for test")
    p.add_argument("--noise-prob", type=float, default=d.noise_prob, help="probability of additive noise")
    p.add_argument("--nj", type=int, default=2, help="parallel worker processes")
    return p


def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = SynthConfig(seed=args.seed, num_train=args.num_train, num_dev=args.num_dev, num_test=args.num_test,
                      dev_fraction=args.dev_fraction, test_fraction=args.test_fraction, voices=args.voices,
                      heldout_voices=args.heldout_voices, noise_prob=args.noise_prob)
    prepare_synth_en(args.audio_dir, args.data_root, cfg, nj=args.nj)


if __name__ == "__main__":
    main()
