"""Kaldi-style data directories: read, write and validate.

A data dir holds plain-text tables keyed by utterance id, sorted by key (C locale):

    wav.scp   <utt> <path>           (audio file path; no pipes)
    text      <utt> <transcript...>
    utt2spk   <utt> <spk>
    spk2utt   <spk> <utt> <utt> ...   (derived from utt2spk)
    feats.scp <utt> <ark:offset>     (written by the features stage)
    utt2num_frames <utt> <int>

Every error names the file and the 1-based line, so a user can open it and fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import AsrError
from asr.fileio import atomic_write_lines


class DataDirError(AsrError, ValueError):
    """A data dir file is malformed; the message names the file and line."""


# `<key> <value...>`: the key ends at ASCII whitespace, as in Kaldi and sclite (asr.scoring.files.split_words):
# a no-break space or U+3000 belongs to the key or word it sits in
_KEY_VALUE = re.compile(r"[ \t\n\v\f\r]*([^ \t\n\v\f\r]+)[ \t\n\v\f\r]*(.*?)[ \t\n\v\f\r]*$", re.S)


def read_table(path: str | Path, *, allow_empty_value: bool = False, check_sorted: bool = True) -> dict[str, str]:
    """Read a `<key> <value...>` table, keeping the value as one string (ASCII whitespace around it dropped).

    Raises DataDirError (naming file and line) for a missing value, a duplicate key,
    or keys out of sorted order when `check_sorted`.
    """
    path = Path(path)
    table: dict[str, str] = {}
    prev: str | None = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataDirError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise DataDirError(f"{path}: not valid UTF-8 ({e})") from None
    for lineno, line in enumerate(lines, 1):
        m = _KEY_VALUE.match(line)
        if m is None:
            raise DataDirError(f"{path} line {lineno}: empty line")
        key, value = m.group(1), m.group(2)
        if not value and not allow_empty_value:
            raise DataDirError(f"{path} line {lineno}: utt '{key}': no value after the key")
        if key in table:
            raise DataDirError(f"{path} line {lineno}: duplicate key '{key}'")
        if check_sorted and prev is not None and key < prev:
            raise DataDirError(
                f"{path} line {lineno}: key '{key}' is out of order after '{prev}' "
                "(tables must be sorted by key, as `LC_ALL=C sort` does)"
            )
        table[key] = value
        prev = key
    return table


def write_table(path: str | Path, table: dict[str, str]) -> None:
    """Write a `<key> <value>` table sorted by key, atomically (temp file + rename)."""
    atomic_write_lines(path, (f"{key} {table[key]}" if table[key] != "" else key for key in sorted(table)))


def spk2utt_from_utt2spk(utt2spk: dict[str, str]) -> dict[str, list[str]]:
    """Invert utt2spk into spk -> sorted list of utterances."""
    out: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        out.setdefault(utt2spk[utt], []).append(utt)
    return out


@dataclass
class DataDir:
    """An in-memory Kaldi data dir. All dicts are keyed by utterance id."""

    wav_scp: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    utt2spk: dict[str, str] = field(default_factory=dict)

    @property
    def utts(self) -> list[str]:
        return sorted(self.wav_scp)

    @property
    def spk2utt(self) -> dict[str, list[str]]:
        return spk2utt_from_utt2spk(self.utt2spk)


def write_datadir(out_dir: str | Path, data: DataDir) -> None:
    """Write wav.scp, text, utt2spk and spk2utt into `out_dir` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(out_dir / "wav.scp", data.wav_scp)
    write_table(out_dir / "text", data.text)
    write_table(out_dir / "utt2spk", data.utt2spk)
    write_table(out_dir / "spk2utt", {s: " ".join(u) for s, u in data.spk2utt.items()})


def read_datadir(data_dir: str | Path, *, check_audio: bool = True) -> DataDir:
    """Read and validate a data dir. Raises DataDirError naming the file and line."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataDirError(f"{data_dir}: not a directory")
    wav_scp = read_table(data_dir / "wav.scp")
    text_path = data_dir / "text"
    text = read_table(text_path, allow_empty_value=True) if text_path.exists() else {}
    utt2spk = read_table(data_dir / "utt2spk")
    data = DataDir(wav_scp=wav_scp, text=text, utt2spk=utt2spk)
    validate_datadir(data_dir, data, check_audio=check_audio)
    return data


def _line_of(keys: list[str], key: str) -> int:
    return keys.index(key) + 1


def validate_datadir(data_dir: Path, data: DataDir, *, check_audio: bool = True) -> None:
    """Cross-check the tables of a data dir (each table is already sorted and unique).

    Checks: every utterance in wav.scp has a speaker in utt2spk and vice versa, text
    covers the same utterances, audio paths exist (relative paths resolve against the
    current directory, as in Kaldi), and spk2utt, when present, matches utt2spk.
    """
    wav_keys = list(data.wav_scp)
    spk_keys = list(data.utt2spk)
    for utt in wav_keys:
        if utt not in data.utt2spk:
            raise DataDirError(
                f"{data_dir / 'wav.scp'} line {_line_of(wav_keys, utt)}: utt '{utt}' has no speaker in "
                f"{data_dir / 'utt2spk'}"
            )
    for utt in spk_keys:
        if utt not in data.wav_scp:
            raise DataDirError(
                f"{data_dir / 'utt2spk'} line {_line_of(spk_keys, utt)}: utt '{utt}' is not in {data_dir / 'wav.scp'}"
            )
    if data.text:
        text_keys = list(data.text)
        for utt in text_keys:
            if utt not in data.wav_scp:
                raise DataDirError(
                    f"{data_dir / 'text'} line {_line_of(text_keys, utt)}: utt '{utt}' is not in {data_dir / 'wav.scp'}"
                )
        for utt in wav_keys:
            if utt not in data.text:
                raise DataDirError(
                    f"{data_dir / 'wav.scp'} line {_line_of(wav_keys, utt)}: utt '{utt}' has no transcript in "
                    f"{data_dir / 'text'}"
                )
    if check_audio:
        for lineno, (utt, path) in enumerate(data.wav_scp.items(), 1):
            if path.rstrip().endswith("|"):
                raise DataDirError(f"{data_dir / 'wav.scp'} line {lineno}: utt '{utt}': piped commands are not supported")
            if not Path(path).is_file():
                raise DataDirError(f"{data_dir / 'wav.scp'} line {lineno}: utt '{utt}': audio file not found: {path}")
    spk2utt_path = data_dir / "spk2utt"
    if spk2utt_path.exists():
        spk2utt = read_table(spk2utt_path)
        expected = {s: " ".join(u) for s, u in data.spk2utt.items()}
        keys = list(spk2utt)
        for spk in keys:
            if expected.get(spk) != " ".join(spk2utt[spk].split()):
                raise DataDirError(
                    f"{spk2utt_path} line {_line_of(keys, spk)}: speaker '{spk}' does not match utt2spk "
                    "(regenerate spk2utt from utt2spk)"
                )
        for spk in expected:
            if spk not in spk2utt:
                raise DataDirError(f"{spk2utt_path}: speaker '{spk}' from utt2spk is missing")
