"""Segmented Kaldi data dirs: utterances cut out of longer recordings.

With a `segments` file, wav.scp is keyed by recording id and the other tables by utterance id:

    wav.scp   <rec> <path>
    segments  <utt> <rec> <start> <end>     (seconds; end -1 means the end of the recording)
    text, utt2spk, spk2utt                  (keyed by utterance, as without segments)

`read_any_datadir` reads and validates a data dir of either kind; errors name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from asr.data.datadir import (
    DataDir,
    DataDirError,
    read_datadir,
    read_table,
    write_datadir,
    write_table,
)


@dataclass(frozen=True)
class Segment:
    recording: str  # key in wav.scp
    start: float  # seconds from the start of the recording
    end: float  # seconds; -1 = to the end of the recording


@dataclass
class SegmentedDataDir(DataDir):
    """A data dir whose wav.scp holds recordings; `segments` maps each utterance into one."""

    segments: dict[str, Segment] = field(default_factory=dict)

    @property
    def utts(self) -> list[str]:
        return sorted(self.segments)


def parse_segment(value: str, where: str) -> Segment:
    """'<rec> <start> <end>' -> Segment; `where` names the file, line and utterance for errors."""
    parts = value.split()
    if len(parts) != 3:
        raise DataDirError(f"{where}: expected '<utt> <recording> <start> <end>', got {len(parts) + 1} fields")
    rec, start_s, end_s = parts
    try:
        start, end = float(start_s), float(end_s)
    except ValueError:
        raise DataDirError(f"{where}: start and end must be seconds, got {start_s!r} {end_s!r}") from None
    if start < 0:
        raise DataDirError(f"{where}: start {start} is negative")
    if end != -1 and end <= start:
        raise DataDirError(f"{where}: end {end} is not after start {start} (use -1 for 'to the end')")
    return Segment(rec, start, end)


def read_segments(path: str | Path) -> dict[str, Segment]:
    """Read a sorted, unique `segments` file; errors name the file, line and utterance."""
    table = read_table(path)
    return {utt: parse_segment(v, f"{path} line {i}: utt '{utt}'") for i, (utt, v) in enumerate(table.items(), 1)}


def format_seconds(t: float) -> str:
    """Seconds as written in segments: up to millisecond precision, -1 stays -1."""
    return "-1" if t == -1 else f"{t:.3f}".rstrip("0").rstrip(".") or "0"


def write_segments(path: str | Path, segments: dict[str, Segment]) -> None:
    write_table(path, {u: f"{s.recording} {format_seconds(s.start)} {format_seconds(s.end)}" for u, s in segments.items()})


def write_any_datadir(out_dir: str | Path, data: DataDir) -> None:
    """write_datadir, plus `segments` for a SegmentedDataDir (a stale segments file is removed otherwise)."""
    out_dir = Path(out_dir)
    write_datadir(out_dir, data)
    if isinstance(data, SegmentedDataDir):
        write_segments(out_dir / "segments", data.segments)
    elif (out_dir / "segments").exists():
        (out_dir / "segments").unlink()


def _check_keys(data_dir: Path, name: str, keys: list[str], known: dict, known_name: str, what: str) -> None:
    for lineno, key in enumerate(keys, 1):
        if key not in known:
            raise DataDirError(f"{data_dir / name} line {lineno}: {what} '{key}' is not in {data_dir / known_name}")


def read_segmented_datadir(data_dir: str | Path, *, check_audio: bool = True) -> SegmentedDataDir:
    """Read and cross-check a data dir with `segments`.

    Checks: every segment's recording is in wav.scp; utt2spk, text and segments cover the same
    utterances; spk2utt (when present) matches utt2spk; recording files exist (`check_audio`).
    Recordings that no segment uses are allowed, as in Kaldi.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataDirError(f"{data_dir}: not a directory")
    wav_scp = read_table(data_dir / "wav.scp")
    segments = read_segments(data_dir / "segments")
    text_path = data_dir / "text"
    text = read_table(text_path, allow_empty_value=True) if text_path.exists() else {}
    utt2spk = read_table(data_dir / "utt2spk")
    seg_keys = list(segments)
    for lineno, (utt, seg) in enumerate(segments.items(), 1):
        if seg.recording not in wav_scp:
            raise DataDirError(
                f"{data_dir / 'segments'} line {lineno}: utt '{utt}': recording '{seg.recording}' is not in "
                f"{data_dir / 'wav.scp'}"
            )
    _check_keys(data_dir, "segments", seg_keys, utt2spk, "utt2spk", "utt")
    _check_keys(data_dir, "utt2spk", list(utt2spk), segments, "segments", "utt")
    if text:
        _check_keys(data_dir, "text", list(text), segments, "segments", "utt")
        _check_keys(data_dir, "segments", seg_keys, text, "text", "utt")
    if check_audio:
        for lineno, (rec, path) in enumerate(wav_scp.items(), 1):
            if path.rstrip().endswith("|"):
                raise DataDirError(f"{data_dir / 'wav.scp'} line {lineno}: recording '{rec}': piped commands are not supported")
            if not Path(path).is_file():
                raise DataDirError(f"{data_dir / 'wav.scp'} line {lineno}: recording '{rec}': audio file not found: {path}")
    data = SegmentedDataDir(wav_scp=wav_scp, text=text, utt2spk=utt2spk, segments=segments)
    spk2utt_path = data_dir / "spk2utt"
    if spk2utt_path.exists():
        spk2utt = read_table(spk2utt_path)
        expected = {s: " ".join(u) for s, u in data.spk2utt.items()}
        for lineno, (spk, utts) in enumerate(spk2utt.items(), 1):
            if expected.get(spk) != " ".join(utts.split()):
                raise DataDirError(
                    f"{spk2utt_path} line {lineno}: speaker '{spk}' does not match utt2spk (regenerate spk2utt from utt2spk)"
                )
        for spk in expected:
            if spk not in spk2utt:
                raise DataDirError(f"{spk2utt_path}: speaker '{spk}' from utt2spk is missing")
    return data


def read_any_datadir(data_dir: str | Path, *, check_audio: bool = True) -> DataDir:
    """read_segmented_datadir when data_dir has a `segments` file, else asr.data.datadir.read_datadir."""
    if (Path(data_dir) / "segments").exists():
        return read_segmented_datadir(data_dir, check_audio=check_audio)
    return read_datadir(data_dir, check_audio=check_audio)


def audio_items(data: DataDir) -> list[tuple[str, str, float, float]]:
    """(utt, audio path, start s, end s) per utterance, sorted by utt; whole files are (0, -1)."""
    if isinstance(data, SegmentedDataDir):
        return [(u, data.wav_scp[s.recording], s.start, s.end) for u, s in sorted(data.segments.items())]
    return [(u, p, 0.0, -1.0) for u, p in sorted(data.wav_scp.items())]
