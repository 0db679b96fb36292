"""Tests for data_prep/timit.py and data_prep/timit_phones.py on a fixture with TIMIT's LDC layout:
upper- and lower-case trees, SPHERE audio, the standard sets, 61 -> 48 -> 39 folding and PER."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.data.datadir import read_datadir
from data_prep.common import PrepError
from data_prep.timit import (
    CORE_TEST_SPEAKERS,
    DEV_SPEAKERS,
    SphereError,
    prepare_timit,
    read_sphere,
    write_sphere,
)
from data_prep.timit_phones import (
    TIMIT_39,
    TIMIT_48,
    TIMIT_61,
    PhoneError,
    fold_map,
    fold_phones,
    write_per_dir,
)

FIXTURE = Path(__file__).parent / "fixtures" / "timit"
SX139_61 = "h# ax-h kcl k er n ix ng gcl g l ae s h#"  # TEST/DR1/MDAB0/SX139.PHN


def _lower_case_copy(src: Path, dst: Path) -> Path:
    """The same corpus with every folder and file name in lower case (as some distributions ship it)."""
    for p in sorted(src.rglob("*")):
        target = dst / p.relative_to(src).as_posix().lower()
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            shutil.copy(p, target)
    return dst


def test_phone_sets_and_folding_tables():
    assert (len(TIMIT_61), len(TIMIT_48), len(TIMIT_39)) == (61, 48, 39)
    assert len(DEV_SPEAKERS) == 50 and len(CORE_TEST_SPEAKERS) == 24 and not DEV_SPEAKERS & CORE_TEST_SPEAKERS
    to48, to39, from48 = fold_map(61, 48), fold_map(61, 39), fold_map(48, 39)
    assert set(from48) == set(TIMIT_48) and set(v for v in from48.values()) == set(TIMIT_39)
    for p in TIMIT_61:  # folding through 48 is folding straight to 39
        assert (from48[to48[p]] if to48[p] else None) == to39[p], p
    assert to48["q"] is None and to39["q"] is None
    assert [to39[p] for p in ("ao", "ax-h", "axr", "el", "em", "en", "eng", "hv", "ix", "nx", "ux", "zh")] == \
        ["aa", "ah", "er", "l", "m", "n", "ng", "hh", "ih", "n", "uw", "sh"]
    assert {to39[p] for p in ("bcl", "dcl", "gcl", "pcl", "tcl", "kcl", "epi", "pau", "h#")} == {"sil"}
    with pytest.raises(PhoneError, match="phone 'xx' is not in the 48-phone set"):
        fold_phones(["sil", "xx"], fold_map(48, 39))


@pytest.mark.parametrize("case", ["upper", "lower"])
def test_sets_ids_and_phones(tmp_path, case):
    corpus = FIXTURE if case == "upper" else _lower_case_copy(FIXTURE / "TIMIT", tmp_path / "timit")
    reports = prepare_timit(corpus, tmp_path / "out", phones=48)
    train, dev, test = (read_datadir(tmp_path / "out" / s) for s in ("train", "dev", "test"))
    assert train.utts == ["fcjf0-si1027", "fcjf0-sx127", "mklw0-si1571", "mklw0-sx131"]  # no SA sentences
    assert dev.utts == ["faks0-si1573"]
    assert test.utts == ["mdab0-si1039", "mdab0-sx139", "mwew0-si731"]
    assert train.utt2spk["mklw0-si1571"] == "mklw0" and test.spk2utt["mdab0"] == ["mdab0-si1039", "mdab0-sx139"]
    assert test.text["mdab0-sx139"] == "sil ax cl k er n ix ng vcl g l ae s sil"
    assert train.text["mklw0-si1571"] == "sil w ih n er ey sil n uw sil"  # q deleted, nx -> n, axr -> er, ux -> uw
    assert reports["train"].excluded == {"SA sentence (read by every speaker)": 1}
    assert reports["test"].excluded == {"TEST speaker outside dev and core test": 1}
    assert Path(test.wav_scp["mdab0-sx139"]).name == ("SX139.WAV" if case == "upper" else "sx139.wav")
    for s in ("train", "dev", "test"):
        assert "SA sentence" in (tmp_path / "out" / s / "prepare.log").read_text() or s == "test"


def test_61_and_39_phone_transcripts(tmp_path):
    prepare_timit(FIXTURE, tmp_path / "p61", phones=61)
    prepare_timit(FIXTURE, tmp_path / "p39", phones=39)
    assert read_datadir(tmp_path / "p61" / "test").text["mdab0-sx139"] == SX139_61
    assert read_datadir(tmp_path / "p39" / "test").text["mdab0-sx139"] == "sil ah sil k er n ih ng sil g l ae s sil"


def test_per_with_the_phone_level_scorer(tmp_path):
    """Refs in 48 phones, a hypothesis with errors that folding forgives and errors it does not."""
    prepare_timit(FIXTURE, tmp_path / "out", phones=48)
    refs = read_datadir(tmp_path / "out" / "test").text
    hyps = dict(refs)
    # ax -> ah and ix -> ih are the same 39-phone: not errors after folding; k -> g is a substitution,
    # the missing final sil a deletion. mdab0-sx139 has 14 phones in 39: 2 errors.
    hyps["mdab0-sx139"] = "sil ah cl g er n ih ng vcl g l ae s"
    line = write_per_dir(tmp_path / "per", refs, hyps, fold_map(48, 39), read_datadir(tmp_path / "out" / "test").utt2spk)
    n_ref = sum(len(t.split()) for t in refs.values())  # folding 48 -> 39 keeps the phone count here
    assert line == f"%PER {100 * 2 / n_ref:.2f} [ 2 / {n_ref}, 0 ins, 1 del, 1 sub ]"
    assert (tmp_path / "per" / "per").read_text().strip() == line
    assert (tmp_path / "per" / "wer").read_text().strip() == line.replace("%PER", "%WER")


def test_sphere_reader_agrees_with_libsndfile_and_converts(tmp_path):
    wav = FIXTURE / "TIMIT" / "TEST" / "DR1" / "MDAB0" / "SX139.WAV"
    ours, rate = read_sphere(wav)
    theirs, rate2 = sf.read(str(wav), dtype="float32")
    assert rate == rate2 == 16000 and np.array_equal(ours, theirs)
    reports = prepare_timit(FIXTURE, tmp_path / "out", convert=True)
    test = read_datadir(tmp_path / "out" / "test")
    converted = test.wav_scp["mdab0-sx139"]
    assert converted == str((tmp_path / "out" / "wav" / "mdab0-sx139.wav").resolve())
    assert np.array_equal(sf.read(converted, dtype="float32")[0], ours) and reports["test"].kept == 3


def test_sphere_big_endian_and_shorten(tmp_path):
    x = (np.arange(100) % 7 - 3) / 10
    write_sphere(tmp_path / "a.wav", x, 8000)
    data = bytearray((tmp_path / "a.wav").read_bytes())
    header = data[:1024].replace(b"sample_byte_format -s2 01", b"sample_byte_format -s2 10")
    body = np.frombuffer(bytes(data[1024:]), dtype="<i2").astype(">i2").tobytes()
    (tmp_path / "b.wav").write_bytes(bytes(header) + body)
    assert np.array_equal(read_sphere(tmp_path / "b.wav")[0], read_sphere(tmp_path / "a.wav")[0])
    shortened = bytes(data[:1024]).replace(b"sample_coding -s3 pcm", b"sample_coding -s26 pcm,embedded-shorten-v2.00")
    (tmp_path / "c.wav").write_bytes(shortened.ljust(1024 + 20, b"\0"))
    with pytest.raises(SphereError, match=r"c.wav: SPHERE sample_coding is 'pcm,embedded-shorten-v2.00'.*sph2pipe"):
        read_sphere(tmp_path / "c.wav")


def test_bad_items(tmp_path):
    corpus = tmp_path / "TIMIT"
    shutil.copytree(FIXTURE / "TIMIT", corpus)
    (corpus / "TRAIN/DR1/FCJF0/SX127.PHN").unlink()  # missing transcript
    with open(corpus / "TRAIN/DR2/MKLW0/SX131.PHN", "a") as f:
        f.write("100 200 xyz\n")  # not a TIMIT phone
    (corpus / "TRAIN/DR2/MKLW0/SI1571.WAV").write_bytes(b"NIST_1A\n   1024\nsample_coding -s26 pcm,embedded-shorten-v2.00\n")
    reports = prepare_timit(tmp_path, tmp_path / "out", max_bad_fraction=1.0)
    assert reports["train"].kept == 1
    log = (tmp_path / "out" / "train" / "prepare.log").read_text()
    assert f"missing-transcript\t{corpus / 'TRAIN/DR1/FCJF0/SX127.WAV'}\tfcjf0-sx127\tno .PHN file beside it" in log
    assert "rejected-text" in log and "'xyz' is not one of the 61 TIMIT phones" in log
    assert "unreadable-audio" in log and "embedded-shorten" in log
    with pytest.raises(PrepError, match="75.0% bad"):
        prepare_timit(tmp_path, tmp_path / "out2")


def test_word_transcripts_from_wrd(tmp_path):
    prepare_timit(FIXTURE, tmp_path, words=True)
    assert read_datadir(tmp_path / "test").text == {
        "mdab0-si1039": "how many years", "mdab0-sx139": "a kernel of glass", "mwew0-si731": "shoes on the roof"}


def test_redistributed_layout_with_wav_wav_copies(tmp_path):
    # A widely shared TIMIT copy: data/{TRAIN,TEST}/DR1/FCJF0/SI1027.WAV (SPHERE) next to
    # SI1027.WAV.wav (a RIFF conversion), the .PHN/.WRD/.TXT files, CSV lists at the top, and a
    # macOS `._` file. The .WAV.wav files are no utterances of their own.
    corpus = tmp_path / "timit-kaggle"
    shutil.copytree(FIXTURE / "TIMIT", corpus / "data")
    (corpus / "train_data.csv").write_text("index,test_or_train,dialect_region,speaker_id,filename,path_from_data_dir\n")
    for wav in list((corpus / "data").rglob("*.WAV")):
        wave, sr = read_sphere(wav)
        sf.write(str(wav) + ".wav", wave, sr, subtype="PCM_16")
    (corpus / "data/TRAIN/DR1/FCJF0/._SI1027.WAV").write_bytes(b"\0\5\26\7 macOS resource fork")
    reports = prepare_timit(corpus, tmp_path / "out", phones=48)
    assert all(r.bad_counts() == {} for r in reports.values()), {s: r.bad_counts() for s, r in reports.items()}
    train = read_datadir(tmp_path / "out" / "train")
    assert train.utts == ["fcjf0-si1027", "fcjf0-sx127", "mklw0-si1571", "mklw0-sx131"]
    assert Path(train.wav_scp["fcjf0-si1027"]).name == "SI1027.WAV"  # the SPHERE original
    # only the RIFF copy: that one is used
    (corpus / "data/TRAIN/DR1/FCJF0/SI1027.WAV").unlink()
    prepare_timit(corpus, tmp_path / "out2", phones=48)
    assert Path(read_datadir(tmp_path / "out2" / "train").wav_scp["fcjf0-si1027"]).name == "SI1027.WAV.wav"
