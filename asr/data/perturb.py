"""Training-data augmentation as perturbed copies of a data dir, made when features are computed.

Kaldi's way (`utils/data/perturb_data_dir_speed_3way.sh`, and the reverberated and noisy copies of
its `_aug` recipes): the training set is the original utterances plus copies of each one under
another id, each copy with a perturbation that its features are computed through. The copies'
features are stored like any others, so training reads them at no extra cost per epoch; the
price is feature time and disk once (measured in docs/experiments/real_speech.md).

    data/<set>/utt2perturb    <utt> <spec>      (only the perturbed copies are listed)

A spec is comma-separated `name=value` steps, applied in order to the waveform [S]:

    speed=0.9        asr.data.augment.speed_perturb (tempo and pitch, as sox `speed`)
    room=0.6         reverberation by a drawn shoebox room of RT60 0.6 s
    channel=mulaw    a telephone law or codec (asr.data.augment.CHANNELS)
    noise=pink@12    white/pink/brown noise at 12 dB SNR over the active speech
    gain=-6          gain in dB

Everything drawn (room geometry, noise samples) comes from a generator seeded by the SHA-1 of the
copy's utterance id and the config's seed: the same features on every machine, run and number
of feature jobs. Copy ids are Kaldi's: `sp0.9-<utt>` (speaker `sp0.9-<spk>`) and `aug1-<utt>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.data import augment
from asr.data.datadir import DataDirError, read_table, write_table
from asr.data.segments import SegmentedDataDir, read_any_datadir, write_any_datadir

PERTURB_FILE = "utt2perturb"
STEPS = ("speed", "room", "channel", "noise", "gain")
NOISE_COLOURS = ("white", "pink", "brown")


@dataclass
class PerturbConfig:
    """Which perturbed copies of the training set to make (nothing by default)."""

    speeds: list[float] = field(default_factory=lambda: [1.0])  # one copy per factor; 1.0 is the original
    channel_copies: int = 0  # copies at speed 1.0, each utterance drawing one of `conditions`
    conditions: list[str] = field(default_factory=lambda: ["room", "channel", "noise"])
    rt60: tuple[float, float] = (0.2, 0.8)  # seconds, drawn uniformly (room)
    channels: list[str] = field(default_factory=lambda: ["mulaw", "alaw", "gsm", "opus"])  # (channel)
    snr_db: tuple[float, float] = (5.0, 20.0)  # drawn uniformly (noise)
    seed: int = 0

    def check(self) -> None:
        if not self.speeds or any(not 0.5 <= s <= 2.0 for s in self.speeds) or len(set(self.speeds)) != len(self.speeds):
            raise DataDirError(f"perturb.speeds: distinct factors in 0.5..2.0 expected, got {self.speeds}")
        if unknown := [c for c in self.conditions if c not in ("room", "channel", "noise")]:
            raise DataDirError(f"perturb.conditions: unknown {unknown}; known: room, channel, noise")
        if self.channel_copies and not self.conditions:
            raise DataDirError("perturb.channel_copies needs at least one of perturb.conditions")
        if self.channel_copies and "channel" in self.conditions:
            augment.check_channels(self.channels)

    @property
    def enabled(self) -> bool:
        return self.speeds != [1.0] or self.channel_copies > 0


def utt_rng(utt: str, seed: int = 0) -> np.random.Generator:
    """A generator that depends only on (seed, utterance id)."""
    digest = hashlib.sha1(f"{seed}:{utt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def parse_spec(spec: str, where: str = "spec") -> list[tuple[str, str]]:
    """'speed=0.9,noise=pink@12' -> [('speed', '0.9'), ('noise', 'pink@12')]; DataDirError names `where`."""
    steps = []
    for part in spec.split(","):
        name, eq, value = part.partition("=")
        if not eq or name not in STEPS or not value:
            raise DataDirError(f"{where}: bad perturbation step {part!r}; expected name=value with name in {STEPS}")
        steps.append((name, value))
    return steps


def perturb_wave(wave: np.ndarray, sample_rate: int, spec: str, utt: str, seed: int = 0) -> np.ndarray:
    """Apply `spec` to [S] float32 at sample_rate; returns [S'] (S' = S / speed)."""
    rng = utt_rng(utt, seed)
    where = f"utt '{utt}': {PERTURB_FILE}"
    for name, value in parse_spec(spec, where):
        try:
            if name == "speed":
                wave = augment.speed_perturb(wave, sample_rate, float(value))
            elif name == "room":
                rir = augment.room_impulse_response(float(value), sample_rate, rng)
                wave = augment.reverberate(wave, rir)
            elif name == "channel":
                wave = augment.channel(wave, sample_rate, value)
            elif name == "noise":
                colour, _, snr = value.partition("@")
                if colour not in NOISE_COLOURS:
                    raise ValueError(f"noise colour {colour!r} is not one of {NOISE_COLOURS}")
                noise = augment.coloured_noise(len(wave), colour, rng, sample_rate)
                wave = augment.add_noise(wave, noise, float(snr), augment.active_power(wave, sample_rate))
            else:
                wave = augment.apply_gain(wave, float(value))
        except (ValueError, augment.AugmentError) as e:
            raise DataDirError(f"{where}: step {name}={value}: {e}") from None
    return wave.astype(np.float32)


def draw_condition(cfg: PerturbConfig, rng: np.random.Generator) -> str:
    """One spec step drawn from cfg.conditions: a room, a channel or a noise."""
    kind = cfg.conditions[int(rng.integers(len(cfg.conditions)))]
    if kind == "room":
        return f"room={rng.uniform(*cfg.rt60):.2f}"
    if kind == "channel":
        return f"channel={cfg.channels[int(rng.integers(len(cfg.channels)))]}"
    colour = NOISE_COLOURS[int(rng.integers(len(NOISE_COLOURS)))]
    return f"noise={colour}@{rng.uniform(*cfg.snr_db):.1f}"


def copy_specs(utts: list[str], cfg: PerturbConfig) -> dict[str, tuple[str, str, str]]:
    """{new utt: (source utt, id prefix, spec)} of every copy cfg asks for (the originals have prefix '')."""
    out: dict[str, tuple[str, str, str]] = {}
    for utt in utts:
        for s in cfg.speeds:
            prefix = "" if s == 1.0 else f"sp{s:g}-"
            out[prefix + utt] = (utt, prefix, "" if s == 1.0 else f"speed={s:g}")
        for k in range(1, cfg.channel_copies + 1):
            prefix = f"aug{k}-"
            out[prefix + utt] = (utt, prefix, draw_condition(cfg, utt_rng(prefix + utt, cfg.seed)))
    return out


def perturb_data_dir(src: str | Path, dst: str | Path, cfg: PerturbConfig) -> int:
    """Write dst = one copy of src's utterances per cfg.speeds factor (1.0: the originals, under their
    own ids) plus cfg.channel_copies more, with dst/utt2perturb; returns the number of utterances. Whole-file and segmented data dirs alike; a source that is itself
    perturbed is refused (copies of copies would stack silently)."""
    src, dst = Path(src), Path(dst)
    cfg.check()
    if (src / PERTURB_FILE).exists():
        raise DataDirError(f"{src / PERTURB_FILE}: this data dir is already perturbed; perturb the original")
    data = read_any_datadir(src, check_audio=False)
    out = type(data)()
    specs: dict[str, str] = {}
    for new, (utt, prefix, spec) in copy_specs(data.utts, cfg).items():
        out.text[new], out.utt2spk[new] = data.text[utt], prefix + data.utt2spk[utt]
        if isinstance(data, SegmentedDataDir):
            out.segments[new] = data.segments[utt]  # type: ignore[attr-defined]
        else:
            out.wav_scp[new] = data.wav_scp[utt]
        if spec:
            specs[new] = spec
    if isinstance(data, SegmentedDataDir):
        out.wav_scp.update(data.wav_scp)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / PERTURB_FILE).unlink(missing_ok=True)
    write_any_datadir(dst, out)
    if specs:
        write_table(dst / PERTURB_FILE, specs)
    return len(out.utts)


def read_perturbations(data_dir: str | Path) -> dict[str, str]:
    """{utt: spec} of data_dir/utt2perturb ({} when there is none); every spec is checked."""
    path = Path(data_dir) / PERTURB_FILE
    if not path.exists():
        return {}
    table = read_table(path)
    for utt, spec in table.items():
        parse_spec(spec, f"{path}: utt '{utt}'")
    return table
