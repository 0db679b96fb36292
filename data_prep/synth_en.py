"""A synthesised English speech corpus: WordNet example sentences read by local TTS voices.

    python -m data_prep.synth_en --audio-dir corpus/synth_en --data-root data --num-train 5000 --nj 2

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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.data.audio import load_audio, write_audio
from asr.data.augment import (
    CHANNELS,
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
from data_prep import kokoro
from data_prep.synth_conditions import CONDITION_SETS, write_condition_sets
from data_prep.tts_engines import (
    SYNTH_FUNCTIONS,
    TTSError,
    Voice,
    check_espeak_variant,
)
from data_prep.tts_install import check_voices_installed
from data_prep.wordnet_text import load_wordnet_sentences, split_of

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "test")
_SPLIT_CODE = {"train": 0, "dev": 1, "test": 2}  # part of each utterance's RNG seed
DEFAULT_VOICES = [
    "espeak:en-us", "espeak:en+m3", "espeak:en+f3", "espeak:en-us+f2", "espeak:en-us+m1",
    "espeak:en-us+klatt2", "espeak:en-gb-scotland+m2", "espeak:en-gb-scotland+f1", "espeak:en-gb-x-rp+m4",
    "espeak:en-gb-x-rp+f5", "espeak:en-gb-x-gbclan+m5", "espeak:en-gb-x-gbcwmd+f2", "espeak:en-029+m7",
    "espeak:en-us-nyc+croak", "espeak:en+klatt3", "espeak:en-us+f4",
    "espeak:mb-us1", "espeak:mb-us2", "espeak:mb-us3", "espeak:mb-en1",
    "flite:kal", "flite:kal16", "flite:awb", "flite:rms",
    "festival:kal_diphone", "festival:rab_diphone", "festival:don_diphone", "festival:us1_mbrola",
    "festival:us2_mbrola", "festival:us3_mbrola", "festival:en1_mbrola",
    "pico:en-US", "pico:en-GB",
    "rhvoice:alan", "rhvoice:bdl",
]
# Held out: one voice of each of three engines, none of whose recordings train hears.
# pico:en-GB: the other Pico speaker (en-US trains). espeak:mb-en1 and festival:en1_mbrola:
# the British male MBROLA database en1, through both front ends (holding out only one would
# leak its diphones). rhvoice:bdl: a US male HTS voice (RHVoice alan, Scottish, trains).
DEFAULT_HELDOUT = ["pico:en-GB", "espeak:mb-en1", "festival:en1_mbrola", "rhvoice:bdl"]

@dataclass
class SynthConfig:
    seed: int = 0  # one seed for the sentence order and every utterance's random draws
    num_train: int = 5000  # utterances in train (sentences are reused with other voices if too few)
    num_dev: int = 300  # utterances in dev
    num_test: int = 300  # utterances in test
    dev_fraction: float = 0.05  # share of sentences (by SHA-1) reserved for dev
    test_fraction: float = 0.05  # share of sentences (by SHA-1) reserved for test
    min_words: int = 4  # shortest sentence kept, in words
    max_words: int = 20  # longest sentence kept, in words
    voices: list[str] = field(default_factory=lambda: list(DEFAULT_VOICES))  # `<engine>:<name>`, all splits
    heldout_voices: list[str] = field(default_factory=lambda: list(DEFAULT_HELDOUT))  # dev/test only
    # train share of a voice of `voices` instead of its round-robin turn, e.g. {"kokoro:*": 0.01}: for
    # slow engines (Kokoro: ~2x real time); dev and test keep the round robin over all voices
    voice_shares: dict[str, float] = field(default_factory=dict)
    rate_range: tuple[float, float] = (0.8, 1.25)  # speaking-rate factor (1.0 = voice default)
    pitch_range: tuple[float, float] = (0.85, 1.2)  # mean-F0 factor, every engine (flite:rms ignores it)
    pad_range_s: tuple[float, float] = (0.05, 0.3)  # silence added before and after, seconds (each end)
    peak_db_range: tuple[float, float] = (-20.0, -1.0)  # random gain: peak level in dBFS
    noise_prob: float = 0.5  # probability of additive white/pink/brown noise
    noise_splits: list[str] = field(default_factory=lambda: ["train"])  # splits that get every augmentation below
    noise_colors: list[str] = field(default_factory=lambda: ["white", "pink", "brown"])  # drawn uniformly
    snr_db_range: tuple[float, float] = (10.0, 35.0)  # speech-to-noise ratio when noise is added, dB
    noise_floor_dbfs: float = -70.0  # white floor (RMS, dBFS) in every utterance: no digital silence
    speed_prob: float = 0.3  # probability of Kaldi-style speed perturbation (resampling: tempo and pitch)
    speed_factors: list[float] = field(default_factory=lambda: [0.9, 1.1])  # drawn uniformly when perturbed
    reverb_prob: float = 0.3  # probability of a simulated room (image-source impulse response)
    rt60_range_s: tuple[float, float] = (0.1, 1.0)  # the room's reverberation time, seconds
    channel_prob: float = 0.15  # probability of a telephone (G.711) or codec channel
    channels: list[str] = field(default_factory=lambda: list(CHANNELS))  # asr.data.augment.CHANNELS, drawn uniformly
    babble_prob: float = 0.1  # probability of babble made of other (training) utterances
    babble_talkers: tuple[int, int] = (3, 7)  # talkers in the babble, inclusive
    babble_snr_db_range: tuple[float, float] = (5.0, 25.0)  # speech-to-babble ratio, dB
    babble_pool_size: int = 40  # training sentences read once for babble: <audio_dir>/babble_pool.flac
    clip_prob: float = 0.05  # probability of mild clipping at the utterance's peak level
    clip_drive_db_range: tuple[float, float] = (1.0, 6.0)  # how far above the peak level the clipped signal goes
    condition_sets: list[str] = field(default_factory=lambda: list(CONDITION_SETS))  # test copies, held-out conditions
    wordnet_dir: str = "/usr/share/wordnet"  # holds data.noun, data.verb, data.adj, data.adv


@dataclass(frozen=True)
class UttPlan:
    """What one utterance will be: id, speaker, voice, split, index in split, transcript, audio path."""

    utt: str
    spk: str
    voice: str
    split: str
    index: int
    text: str
    path: str


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
    are applied. babble_pool: speech [P] for babble (`make_babble_pool`); None: no babble.
    SNRs are relative to the speech's active power (frames within 30 dB of the loudest).
    """
    lead, trail = (int(rng.uniform(*cfg.pad_range_s) * SAMPLE_RATE) for _ in range(2))
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


def resolve_voice(spec: str, cfg: SynthConfig, split: str, index: int) -> str:
    """A voice spec as one utterance reads it: `kokoro:*` becomes that utterance's own blend of two
    Kokoro voices (seeded by seed, split and index), others as they are. The blend has no component of a
    held-out Kokoro voice, nor the Kokoro voice a held-out hibari voice was distilled from (heart: af_heart)."""
    if spec != f"kokoro:{kokoro.MIX}":
        return spec
    rng = np.random.default_rng([cfg.seed, _SPLIT_CODE.get(split, 9), index, 11])
    return "kokoro:" + kokoro.mix_voice(rng, cfg.heldout_voices)


def utterance_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The RNG of one utterance: a function of (seed, split, index) only, never of the worker."""
    return np.random.default_rng([seed, _SPLIT_CODE[split], index])


def plan_corpus(sentences: list[str], cfg: SynthConfig, audio_dir: Path) -> list[UttPlan]:
    """Assign a sentence and a voice to every utterance of every split (no audio is made).

    Utterance i of a split reads the i-th sentence of that split's seeded shuffle (cycling
    when the split has fewer sentences) with voice i mod #voices, shifted by one on every
    cycle so a repeated sentence gets another voice. Train uses voices minus heldout_voices; a voice
    in voice_shares reads round(share * num_train) train utterances (the last ones) instead of its turn.
    """
    for spec in cfg.voices + cfg.heldout_voices:
        Voice.parse(spec)  # raises for a malformed or reserved voice
    missing = [v for v in cfg.heldout_voices if v not in cfg.voices]
    if missing:
        raise ValueError(f"heldout_voices {missing} are not in voices; add them to voices")
    bad = {v: p for v, p in cfg.voice_shares.items() if v not in cfg.voices or v in cfg.heldout_voices or not 0 <= p < 1}
    if bad or sum(cfg.voice_shares.values()) >= 1:
        raise ValueError(f"voice_shares {bad or cfg.voice_shares}: each voice must be a training voice of `voices` "
                         "with a share in [0, 1), and the shares must sum to less than 1")
    shared = [(v, round(p * cfg.num_train)) for v, p in cfg.voice_shares.items()]
    train_voices = [v for v in cfg.voices if v not in cfg.heldout_voices and v not in cfg.voice_shares]
    if not train_voices:
        raise ValueError("every voice is held out; leave at least one voice for train")
    by_split: dict[str, list[str]] = {s: [] for s in SPLITS}
    for s in sentences:
        by_split[split_of(s, cfg.dev_fraction, cfg.test_fraction)].append(s)
    counts = {"train": cfg.num_train, "dev": cfg.num_dev, "test": cfg.num_test}
    plans: list[UttPlan] = []
    for split in SPLITS:
        pool, voices = by_split[split], (train_voices if split == "train" else cfg.voices)
        if counts[split] == 0:
            continue
        if not pool:
            raise ValueError(f"split '{split}' has no sentences; change dev_fraction/test_fraction")
        if counts[split] > len(pool):
            log.warning("%s: %d utterances from %d sentences: sentences repeat with other voices",
                        split, counts[split], len(pool))
        order = np.random.default_rng([cfg.seed, _SPLIT_CODE[split]]).permutation(len(pool))
        turns = [v for v, n in shared for _ in range(n)] if split == "train" else []
        for i in range(counts[split]):
            k = i - (counts[split] - len(turns))  # the last len(turns) train utterances go to shared voices
            spec = turns[k] if k >= 0 else voices[(i + i // len(pool)) % len(voices)]
            voice = resolve_voice(spec, cfg, split, i)
            spk = Voice.parse(voice).speaker_id
            utt = f"{spk}-{split}-{i:06d}"
            path = str((audio_dir / spk / f"{utt}.flac").resolve())
            plans.append(UttPlan(utt, spk, voice, split, i, pool[order[i % len(pool)]], path))
    return plans


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
                             "use a new --audio-dir or delete this one")
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
