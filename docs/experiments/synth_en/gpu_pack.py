"""Pack the synthesised corpus for a GPU machine that has no TTS engines, and unpack it there.

The corpus stage (0) needs the TTS engines, WordNet and their Debian packages; a lent GPU machine
has none of them and takes at most ~64 MB of files. So the training and dev audio travel as
Ogg/Opus (libsndfile through soundfile, ~15 kbit/s at --level 0.97) with their transcripts and
tokens.txt, and the GPU machine rebuilds data/{train,dev} from them, computes features and trains
(stage 4). Opus is lossy: the model hears codec-coloured audio in training (log-mel RMS difference
~0.9 against a feature std of ~3.2), and is then decoded here on the original features.

    # here, after `run.py --stop-stage 3` (or `make demo`) made data/ and the corpus:
    python docs/experiments/synth_en/gpu_pack.py pack --data recipes/synth_en/data --out .gpu/pack --max-train-hours 8.5
    # there, from the repository root (see docs/experiments/synth_en/gpu_train.sh):
    python3 docs/experiments/synth_en/gpu_pack.py unpack --pack .gpu/pack --data /tmp/w/data
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from asr.data.datadir import read_table, write_table  # noqa: E402

FILES = ("text", "utt2spk")


def _encode(job: tuple[str, str, float]) -> float:
    """(source audio, target .opus, compression level) -> seconds of audio."""
    src, dst, level = job
    wave, sr = sf.read(src, dtype="float32")
    with sf.SoundFile(dst, "w", samplerate=sr, channels=1, format="OGG", subtype="OPUS", compression_level=level) as f:
        f.write(wave)
    return len(wave) / sr


def _chosen(utts: list[str], seconds: dict[str, float] | None, max_hours: float) -> list[str]:
    """A subset of at most max_hours (by a hash of the id: stable, spread over voices), or all."""
    if seconds is None or max_hours <= 0:
        return utts
    order = sorted(utts, key=lambda u: hashlib.sha1(u.encode()).hexdigest())
    kept, total = [], 0.0
    for u in order:
        if total + seconds[u] > max_hours * 3600:
            continue
        kept.append(u)
        total += seconds[u]
    return sorted(kept)


def pack(data: Path, out: Path, level: float, max_train_hours: float, nj: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "audio").mkdir(exist_ok=True)
    shutil.copy(data / "lang" / "tokens.txt", out / "tokens.txt")
    for name in ("train", "dev"):
        wavs = read_table(data / name / "wav.scp")
        frames = read_table(data / name / "utt2num_frames") if (data / name / "utt2num_frames").exists() else None
        seconds = {u: int(n) / 100 for u, n in frames.items()} if frames else None
        utts = _chosen(sorted(wavs), seconds if name == "train" else None, max_train_hours)
        jobs = [(wavs[u], str(out / "audio" / f"{u}.opus"), level) for u in utts]
        with ProcessPoolExecutor(nj) as pool:
            hours = sum(pool.map(_encode, jobs, chunksize=64)) / 3600
        (out / name).mkdir(exist_ok=True)
        write_table(out / name / "wav.scp", {u: f"audio/{u}.opus" for u in utts})
        for f in FILES:
            table = read_table(data / name / f, allow_empty_value=True)
            write_table(out / name / f, {u: table[u] for u in utts})
        size = sum((out / "audio" / f"{u}.opus").stat().st_size for u in utts) / 1e6
        print(f"{name}: {len(utts)} utterances, {hours:.2f} h, {size:.1f} MB of Opus")


def unpack(pack_dir: Path, data: Path) -> None:
    """pack_dir -> data/{train,dev}/{wav.scp (absolute paths),text,utt2spk,spk2utt}, data/lang/tokens.txt."""
    pack_dir = pack_dir.resolve()
    (data / "lang").mkdir(parents=True, exist_ok=True)
    shutil.copy(pack_dir / "tokens.txt", data / "lang" / "tokens.txt")
    for name in ("train", "dev"):
        d = data / name
        d.mkdir(parents=True, exist_ok=True)
        write_table(d / "wav.scp", {u: str(pack_dir / p) for u, p in read_table(pack_dir / name / "wav.scp").items()})
        for f in FILES:
            shutil.copy(pack_dir / name / f, d / f)
        spk2utt: dict[str, list[str]] = {}
        for u, s in read_table(d / "utt2spk").items():
            spk2utt.setdefault(s, []).append(u)
        write_table(d / "spk2utt", {s: " ".join(us) for s, us in spk2utt.items()})


def features(config: Path, data: Path, nj: int) -> None:
    """Stage 1 for data/{train,dev} alone, with the config's feature settings."""
    import time

    import yaml

    from asr.data.features import FbankConfig
    from asr.recipe.stages import features_stage

    raw = yaml.safe_load(config.read_text())
    t0 = time.time()
    features_stage(data, ["train", "dev"], FbankConfig(**raw.get("features", {})), nj=nj)
    print(f"features: {time.time() - t0:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="data/{train,dev} + data/lang/tokens.txt -> OUT (Opus audio, tables)")
    p.add_argument("--data", type=Path, required=True, help="the recipe's data dir (after stage 1)")
    p.add_argument("--out", type=Path, required=True, help="the pack's folder")
    p.add_argument("--level", type=float, default=0.97, help="libsndfile's Opus compression level 0-1 (0.97: ~15 kbit/s)")
    p.add_argument("--max-train-hours", type=float, default=0.0, help="keep at most this much training audio (0: all)")
    p.add_argument("--nj", type=int, default=2, help="encoding processes (default: 2)")
    u = sub.add_parser("unpack", help="PACK -> DATA/{train,dev}, DATA/lang/tokens.txt")
    u.add_argument("--pack", type=Path, required=True)
    u.add_argument("--data", type=Path, required=True)
    f = sub.add_parser("features", help="stage 1 for DATA/{train,dev} with CONFIG's feature settings")
    f.add_argument("--config", type=Path, required=True)
    f.add_argument("--data", type=Path, required=True)
    f.add_argument("--nj", type=int, default=16)
    args = ap.parse_args()
    if args.cmd == "pack":
        pack(args.data, args.out, args.level, args.max_train_hours, args.nj)
    elif args.cmd == "unpack":
        unpack(args.pack, args.data)
    else:
        features(args.config, args.data, args.nj)


if __name__ == "__main__":
    main()
