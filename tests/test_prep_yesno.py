"""Tests for data_prep/yesno.py on a fixture with YESNO's layout (labels in the file names)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from asr.data.datadir import read_datadir
from data_prep.common import PrepError
from data_prep.yesno import labels_to_text, prepare_yesno

FIXTURE = Path(__file__).parent / "fixtures" / "yesno"


def test_kaldi_halves_ids_speaker_and_text(tmp_path):
    prepare_yesno(FIXTURE, tmp_path)
    train, test = read_datadir(tmp_path / "train_yesno"), read_datadir(tmp_path / "test_yesno")
    names = sorted(p.stem for p in (FIXTURE / "waves_yesno").glob("*.wav"))
    assert train.utts == names[:4] and test.utts == names[4:]
    assert train.text["0_0_0_0_1_1_1_1"] == "no no no no yes yes yes yes"
    assert set(train.utt2spk.values()) == {"global"} and test.spk2utt == {"global": names[4:]}
    assert sf.info(train.wav_scp[names[0]]).samplerate == 8000
    assert labels_to_text("1_0") == "yes no"


def test_a_file_name_that_is_not_labels(tmp_path):
    waves = tmp_path / "waves_yesno"
    shutil.copytree(FIXTURE / "waves_yesno", waves)
    shutil.copy(waves / "0_0_0_0_1_1_1_1.wav", waves / "1_1_maybe.wav")
    with pytest.raises(PrepError, match=r"test_yesno: .*rejected-text 1.*1_1_maybe.wav: rejected-text"):
        prepare_yesno(tmp_path, tmp_path / "out")
    report = prepare_yesno(tmp_path, tmp_path / "out", max_bad_fraction=0.5)["test_yesno"]
    assert report.kept == 4 and "not a sequence of 0 and 1" in (tmp_path / "out" / "test_yesno" / "prepare.log").read_text()
