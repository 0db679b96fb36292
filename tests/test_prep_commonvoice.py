"""Tests for data_prep/commonvoice.py on a fixture with a Common Voice release's layout (MP3 clips)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from asr.data.audio import load_audio
from asr.data.datadir import read_datadir
from data_prep.common import PrepError
from data_prep.commonvoice import prepare_commonvoice

FIXTURE = Path(__file__).parent / "fixtures" / "commonvoice"
LANG = FIXTURE / "cv-corpus-17.0-2024-03-15" / "en"


def client(name: str) -> str:
    return hashlib.sha512(f"fixture-speaker-{name}".encode()).hexdigest()


def test_splits_speakers_and_normalised_text(tmp_path):
    reports = prepare_commonvoice(FIXTURE, tmp_path, lang="en", max_bad_fraction=0.5)
    train, dev, test = (read_datadir(tmp_path / s) for s in ("train", "dev", "test"))
    a, b = client("a"), client("b")
    assert train.text == {
        f"{a}-common_voice_en_21000001": "he said hello there",
        f"{a}-common_voice_en_21000002": "it's a well known fact",
        f"{b}-common_voice_en_21000003": "the caf\u00e9 opened at noon",
    }
    assert train.utt2spk[f"{b}-common_voice_en_21000003"] == b and sorted(train.spk2utt) == sorted([a, b])
    assert dev.text[f"{b}-common_voice_en_21000004"] == "we met in paris it rained"
    assert train.wav_scp[f"{a}-common_voice_en_21000001"] == str(LANG / "clips" / "common_voice_en_21000001.mp3")
    assert len(load_audio(train.wav_scp[f"{a}-common_voice_en_21000001"], 16000)) == 6400  # 0.4 s MP3 at 48 kHz
    # "Room 101 is empty." cannot be normalised: dropped, with the reason and the clip
    assert list(test.text) == [f"{a}-common_voice_en_21000007"]
    assert reports["test"].bad_counts() == {"rejected-text": 1}
    log = (tmp_path / "test" / "prepare.log").read_text()
    assert f"rejected-text\t{LANG / 'clips' / 'common_voice_en_21000006.mp3'}\t{client('c')}-common_voice_en_21000006\t" \
           "contains digits (101); spell numbers out in words: 'Room 101 is empty.'" in log


def test_the_default_limit_stops_on_a_half_bad_set(tmp_path):
    with pytest.raises(PrepError, match=r"test: kept 1 of 2 utterances; bad 1 \(rejected-text 1\)"):
        prepare_commonvoice(LANG, tmp_path, splits=["test"])


def test_validated_and_corpus_dir_forms(tmp_path):
    reports = prepare_commonvoice(FIXTURE / "cv-corpus-17.0-2024-03-15", tmp_path, splits=["validated", "other"],
                                  max_bad_fraction=0.5)
    assert reports["validated"].kept == 6 and reports["other"].kept == 1


def test_missing_clip_and_unreadable_clip(tmp_path):
    lang = tmp_path / "cv" / "en"
    shutil.copytree(LANG, lang)
    (lang / "clips" / "common_voice_en_21000001.mp3").unlink()
    (lang / "clips" / "common_voice_en_21000002.mp3").write_bytes(b"ID3 not an mp3")
    report = prepare_commonvoice(tmp_path / "cv", tmp_path / "out", splits=["train"], max_bad_fraction=0.7)["train"]
    assert report.kept == 1 and report.bad_counts() == {"missing-audio": 1, "unreadable-audio": 1}


def test_a_table_without_the_needed_columns(tmp_path):
    lang = tmp_path / "en"
    shutil.copytree(LANG, lang)
    (lang / "dev.tsv").write_text("client\tfile\ttext\nx\ty.mp3\thello\n")
    with pytest.raises(PrepError, match=r"dev.tsv: no column\(s\) client_id, path, sentence in the header"):
        prepare_commonvoice(lang, tmp_path / "out", splits=["dev"])
