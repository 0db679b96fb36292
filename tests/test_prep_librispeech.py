"""Tests for data_prep/librispeech.py on fixtures with LibriSpeech's and Mini LibriSpeech's layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from asr.data.datadir import read_datadir
from data_prep.common import PrepError
from data_prep.librispeech import (
    FULL_SUBSETS,
    download_librispeech,
    main,
    prepare_librispeech,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_all_seven_subsets(tmp_path):
    reports = prepare_librispeech(FIXTURES / "librispeech", tmp_path)
    assert sorted(reports) == sorted(s.replace("-", "_") for s in FULL_SUBSETS)
    for name, report in reports.items():
        assert report.kept == 2 and not report.bad_items
        data = read_datadir(tmp_path / name)
        for utt in data.utts:
            spk, chapter, _ = utt.split("-")
            assert data.utt2spk[utt] == spk
            assert Path(data.wav_scp[utt]).is_absolute()
            assert Path(data.wav_scp[utt]).name == f"{utt}.flac" and Path(data.wav_scp[utt]).parent.name == chapter
    dev = read_datadir(tmp_path / "dev_clean")
    assert dev.text == {"1272-128104-0000": "a man said to the universe", "1272-128104-0001": "the wind was cold and grey"}
    assert dev.spk2utt == {"1272": ["1272-128104-0000", "1272-128104-0001"]}
    assert read_datadir(tmp_path / "train_clean_360").text["100-121669-0001"] == "she didn't know what to say"


def test_mini_librispeech_subsets_and_corpus_dir_forms(tmp_path):
    reports = prepare_librispeech(FIXTURES / "mini_librispeech" / "LibriSpeech", tmp_path)  # the LibriSpeech folder itself
    assert sorted(reports) == ["dev_clean_2", "train_clean_5"]
    assert read_datadir(tmp_path / "train_clean_5").utts == ["19-198-0000", "19-198-0001"]


def test_unknown_or_absent_subset(tmp_path):
    with pytest.raises(PrepError, match="unknown LibriSpeech subset 'train-clean-1000'"):
        prepare_librispeech(FIXTURES / "librispeech", tmp_path, ["train-clean-1000"])
    with pytest.raises(PrepError, match="train-clean-5: subset not found"):
        prepare_librispeech(FIXTURES / "librispeech", tmp_path, ["train-clean-5"])
    with pytest.raises(PrepError, match="no LibriSpeech subset folder"):
        prepare_librispeech(tmp_path, tmp_path / "out")


def _damaged_copy(tmp_path) -> Path:
    """dev-clean with one chapter more, and every kind of bad item."""
    root = tmp_path / "corpus" / "LibriSpeech"
    shutil.copytree(FIXTURES / "librispeech" / "LibriSpeech" / "dev-clean", root / "dev-clean")
    chap = root / "dev-clean" / "1272" / "128104"
    for i in range(2, 12):  # ten more good utterances
        shutil.copy(chap / "1272-128104-0000.flac", chap / f"1272-128104-{i:04d}.flac")
    lines = (chap / "1272-128104.trans.txt").read_text().splitlines()
    lines += [f"1272-128104-{i:04d} WORDS OF LINE {chr(63 + i)}" for i in range(2, 12)]
    shutil.copy(chap / "1272-128104-0000.flac", chap / "1272-128104-0020.flac")  # audio, no transcript line
    lines.append("1272-128104-0021 NO AUDIO FOR THIS ONE")  # transcript, no audio
    (chap / "1272-128104-0022.flac").write_bytes(b"fLaC but not really")  # unreadable
    lines.append("1272-128104-0022 UNREADABLE AUDIO")
    shutil.copy(chap / "1272-128104-0000.flac", chap / "1272-128104-0023.flac")
    lines.append("1272-128104-0023")  # empty transcript
    lines.append("1272-128104-0002 A SECOND LINE FOR TWO")  # id collision
    (chap / "1272-128104.trans.txt").write_text("\n".join(lines) + "\n")
    other = root / "dev-clean" / "1272" / "999"
    other.mkdir()
    shutil.copy(chap / "1272-128104-0000.flac", other / "1272-999-0000.flac")  # chapter without trans.txt
    return tmp_path / "corpus"


def test_bad_items_are_reported_with_paths_and_counted(tmp_path):
    corpus = _damaged_copy(tmp_path)
    report = prepare_librispeech(corpus, tmp_path / "out", max_bad_fraction=0.5)["dev_clean"]
    assert report.kept == 12
    assert report.bad_counts() == {"no-transcript": 1, "missing-audio": 1, "unreadable-audio": 1,
                                   "empty-transcript": 1, "id-collision": 1, "missing-transcript": 1}
    log = (tmp_path / "out" / "dev_clean" / "prepare.log").read_text()
    chap = corpus / "LibriSpeech" / "dev-clean" / "1272" / "128104"
    assert f"no-transcript\t{chap / '1272-128104-0020.flac'}\t1272-128104-0020\tno line for" in log
    assert f"missing-audio\t{chap / '1272-128104-0021.flac'}\t1272-128104-0021\t" in log
    assert f"missing-transcript\t{corpus / 'LibriSpeech/dev-clean/1272/999/1272-999-0000.flac'}" in log
    assert "# kept 12 of 18 utterances; bad 6 (33.3%, limit 50.0%)" in log
    assert len(read_datadir(tmp_path / "out" / "dev_clean").utts) == 12


def test_too_many_bad_items_stop_the_cli_with_a_message(tmp_path, capsys):
    corpus = _damaged_copy(tmp_path)
    with pytest.raises(SystemExit) as e:
        main([str(corpus), str(tmp_path / "out")])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "dev_clean: kept 12 of 18 utterances" in err and "more than max_bad_fraction=0.05" in err
    assert str(tmp_path / "out" / "dev_clean" / "prepare.log") in err


def test_missing_subset_without_network_is_one_line(tmp_path, monkeypatch, capsys):
    # The default config downloads what is missing; with no network that must say, in one
    # line, which subset is missing and where to put it (not a URLError traceback).
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    corpus = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "librispeech" / "LibriSpeech" / "dev-clean", corpus / "LibriSpeech" / "dev-clean")
    with pytest.raises(PrepError) as e:
        download_librispeech(corpus, ["dev-clean", "test-clean"])
    msg = str(e.value)
    assert "\n" not in msg and "LibriSpeech/test-clean is missing" in msg and "test-clean.tar.gz" in msg
    assert str(corpus) in msg and "Temporary failure in name resolution" in msg
    with pytest.raises(SystemExit):
        main([str(corpus), str(tmp_path / "out"), "--download", "--subsets", "test-clean"])
    err = capsys.readouterr().err
    assert "LibriSpeech/test-clean is missing" in err and "Traceback" not in err


def test_trans_txt_edited_by_hand(tmp_path):
    # A byte-order mark, CRLF line ends and a tab after the id (an editor's doing) read as the original.
    root = tmp_path / "LibriSpeech"
    shutil.copytree(FIXTURES / "librispeech" / "LibriSpeech" / "dev-clean", root / "dev-clean")
    want = prepare_librispeech(tmp_path, tmp_path / "a", ["dev-clean"])["dev_clean"].kept
    text_a = read_datadir(tmp_path / "a" / "dev_clean").text
    for trans in root.rglob("*.trans.txt"):
        lines = trans.read_text().splitlines()
        trans.write_bytes(("\ufeff" + "\r\n".join(ln.replace(" ", "\t", 1) for ln in lines) + "\r\n").encode())
    reports = prepare_librispeech(tmp_path, tmp_path / "b", ["dev-clean"])
    assert reports["dev_clean"].kept == want and reports["dev_clean"].bad_counts() == {}
    assert read_datadir(tmp_path / "b" / "dev_clean").text == text_a


# ---------------------------------------------------------------- audio in other formats than FLAC

REAL = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def _transcoded_copy(tmp_path, ext: str) -> Path:
    """dev-clean and train-clean-100 with every FLAC rewritten as `ext` (same samples), the FLAC removed."""
    import soundfile as sf

    if ext == ".opus" and "OPUS" not in sf.available_subtypes("OGG"):
        pytest.skip("this libsndfile cannot write Ogg Opus")
    root = tmp_path / "corpus" / "LibriSpeech"
    for subset in ("dev-clean", "train-clean-100"):
        shutil.copytree(FIXTURES / "librispeech" / "LibriSpeech" / subset, root / subset)
    for flac in sorted(root.rglob("*.flac")):
        wave, sr = sf.read(str(flac), dtype="float32")
        kw = {"format": "OGG", "subtype": "OPUS"} if ext == ".opus" else {}
        sf.write(str(flac.with_suffix(ext)), wave, sr, **kw)
        flac.unlink()
    return tmp_path / "corpus"


@pytest.mark.parametrize("ext", [".opus", ".wav"])
def test_other_audio_formats_prepare_as_flac(tmp_path, ext):
    subsets = ["dev-clean", "train-clean-100"]
    want = prepare_librispeech(FIXTURES / "librispeech", tmp_path / "flac", subsets)
    corpus = _transcoded_copy(tmp_path, ext)
    got = prepare_librispeech(corpus, tmp_path / "out", subsets)
    assert sorted(got) == sorted(want) == ["dev_clean", "train_clean_100"]
    for name in got:
        assert got[name].kept == want[name].kept == 2 and not got[name].bad_items
        a, b = read_datadir(tmp_path / "flac" / name), read_datadir(tmp_path / "out" / name)
        assert b.text == a.text and b.utt2spk == a.utt2spk and b.spk2utt == a.spk2utt
        for utt, path in b.wav_scp.items():
            original = a.wav_scp[utt].replace(str((FIXTURES / "librispeech").resolve()), str(corpus.resolve()))
            assert path == str(Path(original).with_suffix(ext))
            assert Path(path).is_file()


def test_missing_audio_names_every_extension_tried(tmp_path):
    corpus = _transcoded_copy(tmp_path, ".wav")
    chap = corpus / "LibriSpeech" / "dev-clean" / "1272" / "128104"
    (chap / "1272-128104-0001.wav").unlink()
    report = prepare_librispeech(corpus, tmp_path / "out", ["dev-clean"], max_bad_fraction=0.5)["dev_clean"]
    assert report.kept == 1 and report.bad_counts() == {"missing-audio": 1}
    log = (tmp_path / "out" / "dev_clean" / "prepare.log").read_text()
    assert f"missing-audio\t{chap / '1272-128104-0001.flac'}\t1272-128104-0001\t" in log
    assert "no audio file 1272-128104-0001.<wav|flac|" in log


@pytest.mark.parametrize("other, kept", [(".opus", ".flac"), (".mp3", ".flac")])
def test_two_files_for_one_utterance_are_one_id_collision(tmp_path, other, kept):
    # The FLAC and a lossy copy of it: the FLAC is used, the other file reported once.
    import soundfile as sf

    if other == ".opus" and "OPUS" not in sf.available_subtypes("OGG"):
        pytest.skip("this libsndfile cannot write Ogg Opus")
    if other == ".mp3" and "MPEG_LAYER_III" not in sf.available_subtypes("MP3"):
        pytest.skip("this libsndfile cannot write MP3")
    root = tmp_path / "corpus" / "LibriSpeech"
    shutil.copytree(FIXTURES / "librispeech" / "LibriSpeech" / "dev-clean", root / "dev-clean")
    chap = root / "dev-clean" / "1272" / "128104"
    wave, sr = sf.read(str(chap / "1272-128104-0000.flac"), dtype="float32")
    if other == ".opus":
        sf.write(str(chap / f"1272-128104-0000{other}"), wave, sr, format="OGG", subtype="OPUS")
    else:
        sf.write(str(chap / f"1272-128104-0000{other}"), wave, sr, format="MP3", subtype="MPEG_LAYER_III")
    report = prepare_librispeech(tmp_path / "corpus", tmp_path / "out", max_bad_fraction=0.5)["dev_clean"]
    assert report.kept == 2 and report.bad_counts() == {"id-collision": 1}
    dropped = ({".flac", other} - {kept}).pop()
    data = read_datadir(tmp_path / "out" / "dev_clean")
    assert data.wav_scp["1272-128104-0000"] == str(chap.resolve() / f"1272-128104-0000{kept}")
    assert data.wav_scp["1272-128104-0001"] == str(chap.resolve() / "1272-128104-0001.flac")
    log = (tmp_path / "out" / "dev_clean" / "prepare.log").read_text()
    assert f"id-collision\t{chap.resolve() / f'1272-128104-0000{dropped}'}\t1272-128104-0000\t" \
           f"a second audio file for '1272-128104-0000' (using 1272-128104-0000{kept})" in log


def test_flac_and_wav_for_one_utterance_keep_the_flac(tmp_path):
    import soundfile as sf

    root = tmp_path / "corpus" / "LibriSpeech"
    shutil.copytree(FIXTURES / "librispeech" / "LibriSpeech" / "dev-clean", root / "dev-clean")
    chap = root / "dev-clean" / "1272" / "128104"
    wave, sr = sf.read(str(chap / "1272-128104-0000.flac"), dtype="float32")
    sf.write(str(chap / "1272-128104-0000.wav"), wave, sr)
    report = prepare_librispeech(tmp_path / "corpus", tmp_path / "out", max_bad_fraction=0.5)["dev_clean"]
    assert report.bad_counts() == {"id-collision": 1}
    assert read_datadir(tmp_path / "out" / "dev_clean").wav_scp["1272-128104-0000"].endswith(".flac")
    log = (tmp_path / "out" / "dev_clean" / "prepare.log").read_text()
    assert f"id-collision\t{chap.resolve() / '1272-128104-0000.wav'}\t1272-128104-0000\t" in log


@pytest.mark.skipif(not (REAL / "LibriSpeech").is_dir(), reason=f"the real LibriSpeech trees are not at {REAL / 'LibriSpeech'}")
def test_real_librispeech_opus_trees(tmp_path):
    reports = prepare_librispeech(REAL, tmp_path, ["train-clean-5", "train-clean-100"])
    assert reports["train_clean_5"].kept == 1519 and reports["train_clean_100"].kept == 496
    assert not reports["train_clean_5"].bad_items and not reports["train_clean_100"].bad_items
    data = read_datadir(tmp_path / "train_clean_5")
    assert len(data.spk2utt) == 28 and all(p.endswith(".opus") for p in data.wav_scp.values())
    assert sorted(read_datadir(tmp_path / "train_clean_100").spk2utt) == ["4088", "4406", "5652", "8226"]
