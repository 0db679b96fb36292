"""What `asr transcribe` accepts: files, folders searched by extension, wav.scp lists; ids."""

from __future__ import annotations

from pathlib import Path

from asr.transcribe.inputs import expand_inputs, read_wav_scp


def test_folders_are_searched_recursively_by_extension(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.wav", "a/b/y.FLAC", "a/b/z.mp3", "a/notes.txt", "a/b/w.ogg"):
        (tmp_path / name).write_bytes(b"")
    sources, errors = expand_inputs([str(tmp_path / "a")])
    assert errors == []
    assert [Path(s.source).name for s in sources] == ["w.ogg", "y.FLAC", "z.mp3", "x.wav"]  # sorted paths
    assert [s.id for s in sources] == ["w", "y", "z", "x"]


def test_an_empty_folder_is_an_error(tmp_path):
    sources, errors = expand_inputs([str(tmp_path)])
    assert sources == [] and "no audio files" in errors[0].message and str(tmp_path) in errors[0].message


def test_files_are_taken_as_given_and_ids_made_unique(tmp_path):
    sources, errors = expand_inputs(["x/my file.wav", "y/my file.wav", "missing.flac"])
    assert errors == []
    assert [s.source for s in sources] == ["x/my file.wav", "y/my file.wav", "missing.flac"]
    assert [s.id for s in sources] == ["x-my_file", "y-my_file", "missing"]


def test_wav_scp_paths_pipes_and_bad_lines(tmp_path):
    (tmp_path / "rel.wav").write_bytes(b"")
    scp = tmp_path / "wav.scp"
    scp.write_text("u1 /abs/a.wav\nu2 rel.wav\nu3 sox x.wav -t wav - |\nbroken\n\n")
    sources, errors = read_wav_scp(scp)
    assert [s.id for s in sources] == ["u1", "u2", "u3"]
    assert sources[0].path == Path("/abs/a.wav")
    assert sources[1].path == tmp_path / "rel.wav"  # relative to the list when not found from here
    assert sources[2].command == "sox x.wav -t wav -"
    assert len(errors) == 1 and "wav.scp line 4" in errors[0].message
