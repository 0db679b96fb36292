"""Tests for data_prep/vctk.py on a VCTK 0.80 tree written by the test (wav48/<spk>/ + txt/<spk>/,
audio as WAV, FLAC and Opus), and on the real corpus when ../shared/corpora holds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.data.datadir import read_datadir
from data_prep.common import PrepError
from data_prep.vctk import main, prepare_vctk, vctk_root

SR = 16000
REAL = Path(__file__).resolve().parents[2] / "shared" / "corpora"
HAVE_OPUS = "OPUS" in sf.available_subtypes("OGG")
COMPRESSED = ".opus" if HAVE_OPUS else ".flac"

# speaker -> [(utterance, extension, sentence as printed)]
SENTENCES = {
    "p225": [
        ("p225_001", ".wav", "Please call Stella."),
        ("p225_002", COMPRESSED, "Ask her to bring these things with her from the store."),
        ("p225_003", ".flac", "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack."),
    ],
    "p226": [
        ("p226_001", COMPRESSED, "We also need a small plastic snake and a big toy frog for the kids."),
        ("p226_002", ".wav", "\"It's a well-known fact,\" she said; \u201cdon't worry.\u201d"),
    ],
}
TEXTS = {
    "p225_001": "please call stella",
    "p225_002": "ask her to bring these things with her from the store",
    "p225_003": "six spoons of fresh snow peas five thick slabs of blue cheese and maybe a snack",
    "p226_001": "we also need a small plastic snake and a big toy frog for the kids",
    "p226_002": "it's a well known fact she said don't worry",
}


def _write_audio(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wave = (0.2 * np.sin(2 * np.pi * (150 + 40 * seed) * np.arange(int(0.3 * SR)) / SR)).astype(np.float32)
    if path.suffix == ".opus":
        sf.write(str(path), wave, SR, format="OGG", subtype="OPUS")
    else:
        sf.write(str(path), wave, SR)


def write_vctk(parent: Path, sentences=SENTENCES) -> Path:
    root = parent / "VCTK-Corpus"
    for spk, rows in sentences.items():
        for i, (utt, ext, sentence) in enumerate(rows):
            _write_audio(root / "wav48" / spk / f"{utt}{ext}", i)
            (root / "txt" / spk).mkdir(parents=True, exist_ok=True)
            (root / "txt" / spk / f"{utt}.txt").write_text(sentence + "\n")
    (root / "README").write_text("CSTR VCTK Corpus (fixture)\n")
    return root


def test_ids_speakers_and_normalised_text(tmp_path):
    root = write_vctk(tmp_path / "corpus")
    report = prepare_vctk(tmp_path / "corpus", tmp_path / "vctk")
    assert report.kept == 5 and not report.bad_items
    data = read_datadir(tmp_path / "vctk")
    assert data.text == TEXTS
    assert data.spk2utt == {"p225": ["p225_001", "p225_002", "p225_003"], "p226": ["p226_001", "p226_002"]}
    assert data.wav_scp["p226_001"] == str(root.resolve() / "wav48" / "p226" / f"p226_001{COMPRESSED}")
    assert data.wav_scp["p225_003"] == str(root.resolve() / "wav48" / "p225" / "p225_003.flac")
    assert (tmp_path / "vctk" / "prepare.log").is_file()


def test_corpus_dir_is_the_parent_or_the_vctk_folder(tmp_path):
    root = write_vctk(tmp_path / "corpus")
    assert vctk_root(tmp_path / "corpus") == vctk_root(root) == root.resolve()
    prepare_vctk(root, tmp_path / "a")
    assert read_datadir(tmp_path / "a").text == TEXTS
    with pytest.raises(PrepError, match=r"no VCTK corpus here \(wav48/ and txt/\)"):
        prepare_vctk(tmp_path, tmp_path / "b")


def test_audio_without_text_text_without_audio_and_duplicate_ids(tmp_path):
    root = write_vctk(tmp_path / "corpus")
    wav, txt = root.resolve() / "wav48", root.resolve() / "txt"
    for i in range(3, 13):  # ten more good ones
        _write_audio(wav / "p226" / f"p226_{i:03d}.wav", i)
        (txt / "p226" / f"p226_{i:03d}.txt").write_text("Please call Stella.\n")
    _write_audio(wav / "p226" / "p226_020.wav", 1)  # no text
    (txt / "p226" / "p226_021.txt").write_text("Text without audio.\n")
    _write_audio(wav / "p226" / "p226_022.flac", 2)  # the same id twice
    _write_audio(wav / "p226" / "p226_022.wav", 2)
    (txt / "p226" / "p226_022.txt").write_text("Two files.\n")
    _write_audio(wav / "p226" / "p226_023.wav", 3)
    (txt / "p226" / "p226_023.txt").write_text("We have 3 cats.\n")  # digits
    _write_audio(wav / "p226" / "p226_024.wav", 4)
    (txt / "p226" / "p226_024.txt").write_text("  \n")  # empty
    _write_audio(wav / "p315" / "p315_001.wav", 5)  # a speaker without any text (as VCTK's p315)
    report = prepare_vctk(root, tmp_path / "out", max_bad_fraction=0.5)
    assert report.bad_counts() == {"no-transcript": 2, "missing-audio": 1, "id-collision": 1,
                                   "rejected-text": 1, "empty-transcript": 1}
    data = read_datadir(tmp_path / "out")
    assert report.kept == len(data.utts) == 5 + 10 + 1
    assert data.wav_scp["p226_022"] == str(wav / "p226" / "p226_022.wav")  # the first of AUDIO_EXTENSIONS kept
    log = (tmp_path / "out" / "prepare.log").read_text()
    assert f"no-transcript\t{wav / 'p226' / 'p226_020.wav'}\tp226_020\tno {txt / 'p226' / 'p226_020.txt'}" in log
    assert f"no-transcript\t{wav / 'p315' / 'p315_001.wav'}\tp315_001\t" in log
    assert f"missing-audio\t{wav / 'p226' / 'p226_021.wav'}\tp226_021\t{txt / 'p226' / 'p226_021.txt'} has no audio" in log
    assert f"id-collision\t{wav / 'p226' / 'p226_022.flac'}\tp226_022\ta second audio file for 'p226_022' " \
           "(using p226_022.wav)" in log
    assert f"rejected-text\t{txt / 'p226' / 'p226_023.txt'}\tp226_023\tcontains digits (3)" in log
    assert f"empty-transcript\t{txt / 'p226' / 'p226_024.txt'}\tp226_024\t" in log
    assert "# kept 16 of 22 utterances" in log
    with pytest.raises(PrepError, match="more than max_bad_fraction=0.05"):
        prepare_vctk(root, tmp_path / "strict")


def test_speaker_selection_and_unknown_speaker(tmp_path, capsys):
    root = write_vctk(tmp_path / "corpus")
    main([str(root), str(tmp_path / "one"), "--speakers", "p226"])
    assert read_datadir(tmp_path / "one").utts == ["p226_001", "p226_002"]
    report = prepare_vctk(root, tmp_path / "two", ["p226", "p225"])
    assert report.kept == 5
    with pytest.raises(PrepError, match=r"no folder for speaker\(s\) p999, p998"):
        prepare_vctk(root, tmp_path / "bad", ["p225", "p999", "p998"])
    with pytest.raises(SystemExit) as e:
        main([str(root), str(tmp_path / "bad"), "--speakers", "p999"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "p999" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()


@pytest.mark.skipif(not (REAL / "VCTK-Corpus").is_dir(), reason=f"the real VCTK corpus is not at {REAL / 'VCTK-Corpus'}")
def test_real_vctk(tmp_path):
    report = prepare_vctk(REAL / "VCTK-Corpus", tmp_path / "vctk")
    assert report.kept == 503 and not report.bad_items
    data = read_datadir(tmp_path / "vctk")
    assert list(data.spk2utt) == ["p239"]
    assert data.text["p239_001"] == "please call stella"
    assert Path(data.wav_scp["p239_001"]).suffix == ".opus"
