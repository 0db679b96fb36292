"""What `asr transcribe` was given, as a list of AudioSources: files, folders, wav.scp lists.

- A folder is searched recursively for files with an audio extension (AUDIO_EXTENSIONS,
  any case), in sorted order; a folder with none is reported as an error.
- A file ending in `.scp` is a Kaldi wav.scp: `<utt> <path>` per line, or `<utt> <command> |`,
  whose standard output is read as an audio file (e.g. `flac -c -d -s a.flac |`).
- Anything else is an audio file, whatever its extension; a missing file, a dangling link or
  undecodable bytes are reported when it is read, so the other inputs still go through.

Ids: the wav.scp key, else the file's stem (whitespace replaced by `_`); when two files share a
stem, each gets its path without the extension (`/` -> `-`) instead.
"""

from __future__ import annotations

from pathlib import Path

from asr.transcribe.sources import AudioSource, TranscribeFailure, utt_id_for

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf", ".sph")


def _is_audio_name(p: Path) -> bool:
    return p.suffix.lower() in AUDIO_EXTENSIONS


def read_wav_scp(path: Path) -> tuple[list[AudioSource], list[TranscribeFailure]]:
    """A Kaldi wav.scp -> sources (and one error per malformed line, naming the file and line)."""
    sources, errors = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        return [], [TranscribeFailure(path.name, str(path), f"{path}: cannot read wav.scp ({e})")]
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        if len(parts) != 2:
            errors.append(TranscribeFailure(parts[0], str(path), f"{path} line {lineno}: expected '<utt> <path>', got {line.strip()!r}"))
            continue
        utt, value = parts
        if value.endswith("|"):
            sources.append(AudioSource(utt, f"{utt} ({value.rstrip('|').strip()} |)", command=value[:-1].strip()))
        else:
            p = Path(value)
            if not p.is_absolute() and not p.exists() and (path.parent / p).exists():
                p = path.parent / p  # relative to the list itself
            sources.append(AudioSource(utt, str(p), path=p))
    return sources, errors


def expand_inputs(args: list[str]) -> tuple[list[AudioSource], list[TranscribeFailure]]:
    """Command-line inputs -> (sources in order, errors found before reading any audio)."""
    sources: list[AudioSource] = []
    errors: list[TranscribeFailure] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if _is_audio_name(f) and (f.is_file() or f.is_symlink()))
            if not found:
                errors.append(TranscribeFailure(utt_id_for(p), arg, f"{arg}: a directory with no audio files "
                                              f"({', '.join(AUDIO_EXTENSIONS)}) under it"))
            sources.extend(AudioSource(utt_id_for(f), str(f), path=f) for f in found)
        elif p.suffix == ".scp" and p.is_file():
            more, errs = read_wav_scp(p)
            sources.extend(more)
            errors.extend(errs)
        else:
            sources.append(AudioSource(utt_id_for(p), arg, path=p))
    _dedupe_ids(sources)
    return sources, errors


def _dedupe_ids(sources: list[AudioSource]) -> None:
    counts: dict[str, int] = {}
    for s in sources:
        counts[s.id] = counts.get(s.id, 0) + 1
    for s in sources:
        if counts[s.id] > 1 and s.path is not None and s.command is None:
            s.id = "_".join(str(s.path.with_suffix("")).replace("/", "-").split()).lstrip("-.") or s.id
