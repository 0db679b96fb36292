"""What a synthesised corpus will be, before any audio is made: its configuration (`SynthConfig`)
and the plan of every utterance (`plan_corpus`: sentence, voice, split, id, audio path).

Utterance i of a split reads the i-th sentence of that split's seeded shuffle with voice i mod
#voices (held-out voices read dev and test only); `kokoro:*` slots resolve to one seeded blend per
utterance (`resolve_voice`); each utterance's random draws come from `utterance_rng(seed, split, i)`,
so the corpus is the same for any number of workers. data_prep.synth.corpus makes the audio.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.data.augment import CHANNELS
from data_prep.synth import kokoro
from data_prep.synth.conditions import CONDITION_SETS
from data_prep.synth.engines import Voice
from data_prep.synth.wordnet_text import split_of

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
    # the same for the splits of noise_splits (train) when set: less silence is fewer frames to train on. The
    # draw is the same number scaled to this range, so every other draw (and dev/test audio) stays as it was
    train_pad_range_s: tuple[float, float] | None = None
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

