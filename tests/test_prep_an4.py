"""Tests for data_prep/an4.py on an AN4 tree written by the test (CMU's an4_sphere layout, audio
transcoded to WAV, FLAC and Opus), and on the real corpus when ../shared/corpora holds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.data.datadir import read_datadir
from data_prep.an4 import an4_root, main, prepare_an4
from data_prep.common import PrepError

SR = 16000
REAL = Path(__file__).resolve().parents[2] / "shared" / "corpora"
HAVE_OPUS = "OPUS" in sf.available_subtypes("OGG")
COMPRESSED = ".opus" if HAVE_OPUS else ".flac"

# (part, folder, speaker, file, transcript words, extension)
FILES = [
    ("train", "an4_clstk", "fash", "an251-fash-b", "YES", ".wav"),
    ("train", "an4_clstk", "fash", "an253-fash-b", "P I T T S B U R G H", COMPRESSED),
    ("train", "an4_clstk", "mblb", "cen1-mblb-b", "ENTER SIX TWO", ".sph"),  # NIST SPHERE, as CMU ships it
    ("train", "an4_clstk", "mblb", "cen2-mblb-b", "RUBOUT N Y", COMPRESSED),
    ("test", "an4test_clstk", "fcaw", "an406-fcaw-b", "RUBOUT G M E F THREE NINE", COMPRESSED),
    ("test", "an4test_clstk", "fcaw", "an407-fcaw-b", "ERASE C Q Q F SEVEN", ".flac"),
    ("test", "an4test_clstk", "menk", "cen3-menk-b", "GO", ".wav"),
]


def _tone(seed: int, seconds: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * (200 + 50 * seed) * t)).astype(np.float32)


def _write_audio(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".opus":
        sf.write(str(path), _tone(seed), SR, format="OGG", subtype="OPUS")
    elif path.suffix == ".sph":
        sf.write(str(path), _tone(seed), SR, format="NIST", subtype="PCM_16")
    else:
        sf.write(str(path), _tone(seed), SR)


def write_an4(parent: Path, files=FILES) -> Path:
    """An AN4 tree at parent/an4: etc/an4_{train,test}.{fileids,transcription} and wav/<folder>/<spk>/."""
    root = parent / "an4"
    (root / "etc").mkdir(parents=True)
    for part in ("train", "test"):
        rows = [f for f in files if f[0] == part]
        (root / "etc" / f"an4_{part}.fileids").write_text("".join(f"{r[1]}/{r[2]}/{r[3]}\n" for r in rows))
        if part == "train":  # the train file wraps each line in <s> </s>; the test file does not
            lines = [f"<s> {r[4]} </s> ({r[3]})\n" for r in rows]
        else:
            lines = [f"{r[4]} ({r[3]})\n" for r in rows]
        (root / "etc" / f"an4_{part}.transcription").write_text("".join(lines))
    for i, (_, folder, spk, name, _, ext) in enumerate(files):
        _write_audio(root / "wav" / folder / spk / f"{name}{ext}", i)
    return root


def test_ids_speakers_and_spelled_letters(tmp_path):
    root = write_an4(tmp_path / "corpus").resolve()
    reports = prepare_an4(tmp_path / "corpus", tmp_path / "out")
    assert sorted(reports) == ["an4_test", "an4_train"]
    assert reports["an4_train"].kept == 4 and reports["an4_test"].kept == 3
    assert not reports["an4_train"].bad_items and not reports["an4_test"].bad_items
    train, test = read_datadir(tmp_path / "out" / "an4_train"), read_datadir(tmp_path / "out" / "an4_test")
    assert train.text == {
        "fash-an251-fash-b": "yes",
        "fash-an253-fash-b": "p i t t s b u r g h",
        "mblb-cen1-mblb-b": "enter six two",
        "mblb-cen2-mblb-b": "rubout n y",
    }
    assert test.text == {
        "fcaw-an406-fcaw-b": "rubout g m e f three nine",
        "fcaw-an407-fcaw-b": "erase c q q f seven",
        "menk-cen3-menk-b": "go",
    }
    assert train.spk2utt == {"fash": ["fash-an251-fash-b", "fash-an253-fash-b"],
                             "mblb": ["mblb-cen1-mblb-b", "mblb-cen2-mblb-b"]}
    assert sorted(test.spk2utt) == ["fcaw", "menk"]
    assert train.wav_scp["fash-an253-fash-b"] == str(root / "wav/an4_clstk/fash" / f"an253-fash-b{COMPRESSED}")
    assert test.wav_scp["fcaw-an407-fcaw-b"] == str(root / "wav/an4test_clstk/fcaw/an407-fcaw-b.flac")
    assert train.wav_scp["mblb-cen1-mblb-b"] == str(root / "wav/an4_clstk/mblb/cen1-mblb-b.sph")
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in {**train.wav_scp, **test.wav_scp}.values())
    log = (tmp_path / "out" / "an4_train" / "prepare.log").read_text()
    assert "# kept 4 of 4 utterances; bad 0" in log


def test_corpus_dir_is_the_parent_or_the_an4_folder(tmp_path):
    root = write_an4(tmp_path / "corpus")
    assert an4_root(tmp_path / "corpus") == an4_root(root) == root.resolve()
    prepare_an4(root, tmp_path / "a", ["test"])
    prepare_an4(tmp_path / "corpus", tmp_path / "b", ["test"])
    assert read_datadir(tmp_path / "a" / "an4_test").text == read_datadir(tmp_path / "b" / "an4_test").text
    assert not (tmp_path / "a" / "an4_train").exists()
    with pytest.raises(PrepError, match="no AN4 corpus here"):
        prepare_an4(tmp_path, tmp_path / "c")
    with pytest.raises(PrepError, match="unknown AN4 part 'dev'"):
        prepare_an4(root, tmp_path / "d", ["dev"])


def _damaged(tmp_path) -> Path:
    """A train part with ten good utterances and one of each bad item."""
    files = [("train", "an4_clstk", "fash", f"an{300 + i}-fash-b", "GO", ".wav") for i in range(10)]
    root = write_an4(tmp_path / "corpus", files + FILES[4:])
    etc = root / "etc"
    fileids = (etc / "an4_train.fileids").read_text()
    trans = (etc / "an4_train.transcription").read_text()
    fileids += "an4_clstk/fash/an400-fash-b\n"  # listed, audio, no transcript line
    _write_audio(root / "wav/an4_clstk/fash/an400-fash-b.wav", 1)
    trans += "<s> NOBODY LISTS ME </s> (an401-fash-b)\n"  # transcript, not in fileids
    _write_audio(root / "wav/an4_clstk/fash/an401-fash-b.wav", 1)
    fileids += "an4_clstk/fash/an402-fash-b\n"  # listed and transcribed, no audio
    trans += "<s> NO AUDIO </s> (an402-fash-b)\n"
    trans += "<s> NO FILE NAME HERE </s>\n"  # malformed line
    fileids += "an4_clstk/fash/an403-fash-b\n"  # digits
    trans += "<s> ROOM 101 </s> (an403-fash-b)\n"
    _write_audio(root / "wav/an4_clstk/fash/an403-fash-b.wav", 1)
    (etc / "an4_train.fileids").write_text(fileids)
    (etc / "an4_train.transcription").write_text(trans)
    return root


def test_bad_items_are_counted_with_their_paths(tmp_path):
    root = _damaged(tmp_path)
    reports = prepare_an4(root, tmp_path / "out", max_bad_fraction=0.5)
    report = reports["an4_train"]
    assert report.kept == 10
    assert report.bad_counts() == {"no-transcript": 1, "bad-entry": 2, "missing-audio": 1, "rejected-text": 1}
    log = (tmp_path / "out" / "an4_train" / "prepare.log").read_text()
    wav, trans = root.resolve() / "wav" / "an4_clstk" / "fash", root.resolve() / "etc" / "an4_train.transcription"
    assert f"no-transcript\t{wav / 'an400-fash-b'}\tfash-an400-fash-b\tno line for 'an400-fash-b'" in log
    assert f"bad-entry\t{trans}\tan401-fash-b\t'an401-fash-b' has a transcript but is not in an4_train.fileids" in log
    assert f"missing-audio\t{wav / 'an402-fash-b'}\tfash-an402-fash-b\t" in log
    assert f"bad-entry\t{trans}\t-\tline 13: not `<s> WORDS </s> (file)`: '<s> NO FILE NAME HERE </s>'" in log
    assert f"rejected-text\t{wav / 'an403-fash-b.wav'}\tfash-an403-fash-b\tcontains digits (101)" in log
    assert "# kept 10 of 15 utterances; bad 5 (33.3%, limit 50.0%)" in log
    assert sorted(read_datadir(tmp_path / "out" / "an4_train").utts) == [f"fash-an{300 + i}-fash-b" for i in range(10)]
    assert reports["an4_test"].kept == 3 and not reports["an4_test"].bad_items


def test_a_second_transcript_for_one_file_is_a_bad_entry(tmp_path):
    root = write_an4(tmp_path / "corpus")
    trans = root / "etc" / "an4_test.transcription"
    trans.write_text(trans.read_text() + "GO AWAY (cen3-menk-b)\n")
    report = prepare_an4(root, tmp_path / "out", ["test"], max_bad_fraction=0.5)["an4_test"]
    assert report.kept == 3 and report.bad_counts() == {"bad-entry": 1}
    assert read_datadir(tmp_path / "out" / "an4_test").text["menk-cen3-menk-b"] == "go"  # the first line wins
    assert "line 4: a second transcript for 'cen3-menk-b'" in (tmp_path / "out" / "an4_test" / "prepare.log").read_text()


def test_max_bad_fraction_is_enforced(tmp_path, capsys):
    root = _damaged(tmp_path)
    with pytest.raises(PrepError, match=r"an4_train: kept 10 of 15 utterances.*more than max_bad_fraction=0.3"):
        prepare_an4(root, tmp_path / "a", ["train"], max_bad_fraction=0.3)
    assert (tmp_path / "a" / "an4_train" / "prepare.log").is_file()  # written before stopping
    assert not (tmp_path / "a" / "an4_train" / "wav.scp").exists()
    prepare_an4(root, tmp_path / "b", ["train"], max_bad_fraction=1 / 3 + 1e-9)  # exactly at the limit: kept
    with pytest.raises(SystemExit) as e:  # the CLI, default limit 0.05
        main([str(root), str(tmp_path / "c"), "--parts", "train"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "an4_train: kept 10 of 15" in err and "Traceback" not in err
    main([str(root), str(tmp_path / "d"), "--parts", "train", "--max-bad-fraction", "0.5"])
    assert len(read_datadir(tmp_path / "d" / "an4_train").utts) == 10


def test_missing_etc_file_is_one_line(tmp_path):
    root = write_an4(tmp_path / "corpus")
    (root / "etc" / "an4_test.transcription").unlink()
    with pytest.raises(PrepError) as e:
        prepare_an4(root, tmp_path / "out")
    assert "an4_test.transcription: not found" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.skipif(not (REAL / "an4").is_dir(), reason=f"the real AN4 corpus is not at {REAL / 'an4'}")
def test_real_an4(tmp_path):
    reports = prepare_an4(REAL, tmp_path)
    assert reports["an4_train"].kept == 948 and reports["an4_test"].kept == 130
    assert not reports["an4_train"].bad_items and not reports["an4_test"].bad_items
    train = read_datadir(tmp_path / "an4_train")
    assert train.text["fash-an251-fash-b"] == "yes"
    assert len(train.spk2utt) + len(read_datadir(tmp_path / "an4_test").spk2utt) == 84
    assert all(not any(ch.isdigit() or ch.isupper() for ch in t) for t in train.text.values())
